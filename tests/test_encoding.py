import numpy as np
import pytest

from dlbook import encoding

TRAIN = ["the film was good", "the plot was bad", "good actors , bad plot"]


def test_int_sequences_round_trip_known_words_and_mark_unknown_ones():
    layer = encoding.vectorizer(TRAIN, mode="int", length=6)
    vocabulary = layer.get_vocabulary()
    indices = encoding.encode(layer, ["the film was awful"])[0]
    assert indices.shape == (6,) and list(indices[4:]) == [0, 0]  # padded with 0
    assert [vocabulary[i] for i in indices[:4]] == ["the", "film", "was", "[UNK]"]


def test_vocabulary_limit_keeps_the_most_frequent_words():
    layer = encoding.vectorizer(TRAIN, mode="multi_hot", max_tokens=4)
    vocabulary = layer.get_vocabulary()
    assert len(vocabulary) == 4 and vocabulary[0] == "[UNK]"
    assert set(vocabulary[1:]) <= {"the", "was", "good", "bad", "plot"}


def test_bags_ignore_order_and_bigrams_do_not():
    words = encoding.vectorizer(TRAIN, mode="multi_hot")
    pairs = encoding.vectorizer(TRAIN, mode="multi_hot", ngrams=2)
    a, b = "the film was good", "good was film the"
    np.testing.assert_array_equal(*encoding.encode(words, [a, b]))
    assert not np.array_equal(*encoding.encode(pairs, [a, b]))


def test_one_hot_rows_have_a_single_one():
    chars = encoding.one_hot_characters("abz!", "abc")
    assert chars.shape == (4, 4) and np.all(chars.sum(axis=1) == 1)
    assert chars[2, 3] == 1 and chars[3, 3] == 1  # z and ! fall outside the alphabet
    words = encoding.one_hot_words(
        encoding.vectorizer(TRAIN, mode="int", length=8), "the plot"
    )
    assert words.shape[0] == 2 and np.all(words.sum(axis=1) == 1)
    with pytest.raises(ValueError, match="alphabet"):
        encoding.one_hot_characters("a", "aa")


def test_hashing_is_deterministic_and_collisions_match_theory():
    words = [f"word{i}" for i in range(2000)]
    first = encoding.hashed_words(words, 1000)
    np.testing.assert_array_equal(first, encoding.hashed_words(words, 1000))
    assert not np.array_equal(first, encoding.hashed_words(words, 1000, salt=7))
    assert first.min() >= 0 and first.max() < 1000
    rate = encoding.collision_rate(words, 1000)
    assert rate.words == 2000 and abs(rate.colliding_share - rate.expected_share) < 0.05
    assert encoding.collision_rate(words[:2], 10**6).colliding_share == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "binary"}, "mode must be"),
        ({"mode": "int"}, "length is required"),
        ({"length": 5}, "length applies"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_vectorizer_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        encoding.vectorizer(TRAIN, **kwargs)


def test_size_and_sparsity_row():
    row = encoding.size_and_sparsity("bag", np.array([[1, 0, 0, 0], [1, 1, 0, 0]]))
    assert row == {
        "encoding": "bag",
        "numbers per text": 4,
        "non-zeros per text": 1.5,
        "zeros": 0.625,
    }


def test_hashed_bag_marks_the_buckets_of_each_text():
    texts = ["Good film, good plot", "", "dull"]
    bags = encoding.hashed_bag(texts, buckets=64, salt=3)
    assert bags.shape == (3, 64) and bags[1].sum() == 0
    expected = encoding.hashed_words(["good", "film", "plot"], 64, salt=3)
    assert set(np.flatnonzero(bags[0])) == set(expected)
    np.testing.assert_array_equal(bags, encoding.hashed_bag(texts, 64, salt=3))
    with pytest.raises(ValueError, match="buckets"):
        encoding.hashed_bag(texts, buckets=0)


def test_pad_rows_cuts_or_pads_to_the_count():
    rows = np.eye(3, dtype=np.float32)
    assert encoding.pad_rows(rows, 5).shape == (5, 3)
    assert encoding.pad_rows(rows, 5)[3:].sum() == 0
    np.testing.assert_array_equal(encoding.pad_rows(rows, 2), rows[:2])
    with pytest.raises(ValueError, match="count"):
        encoding.pad_rows(rows, 0)


def test_own_budgets_keep_the_words_and_the_most_frequent_pairs():
    texts = ["a b c", "a b d", "a b e", "c d a", "e e a"]
    shared = encoding.vectorizer(texts, "multi_hot", 6, ngrams=2)
    kept = encoding.vocabulary_split(shared)  # [UNK], a, b, e, c and the pair "a b"
    assert kept == {"words": 5, "pairs": 1}
    train, other = encoding.bags_with_own_budgets(texts, ["a b"], words=10, pairs=2)
    words = len(encoding.vectorizer(texts, "multi_hot", 10).get_vocabulary())
    assert train.shape == (5, words + 2) and other.shape == (1, words + 2)
    # the most frequent pair, "a b", is the first pair column, in every text that has it
    np.testing.assert_array_equal(train[:, words], [1, 1, 1, 0, 0])
    assert other[0, words] == 1 and other[0, :words].sum() == 2  # "a", "b"
