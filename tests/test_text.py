import numpy as np
import pytest

from dlbook import text


def test_word_indices_learn_the_vocabulary_from_training_texts_only():
    train = ["good film", "bad film", "good good plot"]
    layer, (x_train, x_other) = text.word_indices(
        train, ["good unseen words"], length=5
    )
    vocabulary = layer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and "unseen" not in vocabulary
    assert x_train.shape == (3, 5) and x_train.dtype == np.int64
    assert list(x_other[0]) == [
        vocabulary.index("good"),
        1,
        1,
        0,
        0,
    ]  # OOV 1, padding 0
    assert [vocabulary[i] for i in x_train[2] if i] == ["good", "good", "plot"]


def test_word_indices_respect_the_vocabulary_limit_and_truncate():
    layer, (x,) = text.word_indices(["a b c d e f g a a b"], max_tokens=4, length=3)
    assert (
        len(layer.get_vocabulary()) == 4
    )  # padding, [UNK] and the two most frequent words
    assert x.shape == (1, 3)
    with pytest.raises(ValueError, match="max_tokens"):
        text.word_indices(["a"], max_tokens=0)


def test_text_classifier_kinds_and_bad_kind():
    for kind in text.KINDS:
        model = text.text_classifier(
            kind, vocab_size=50, length=12, embed_dim=4, units=3
        )
        assert model.output_shape == (None, 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        text.text_classifier("transformer", 50, 12)


def test_comparison_rows_are_scored_in_range():
    rng = np.random.default_rng(0)
    x = rng.integers(2, 30, size=(64, 8))
    y = (x[:, 0] > 15).astype(np.int64)  # learnable from the first word
    runs = text.compare_text_classifiers(
        ["conv1d"], (x, y), (x, y), (x, y), 30, seeds=(0, 1)
    )
    assert list(runs["seed"]) == [0, 1] and (runs["epochs"] >= 1).all()
    assert runs["test_accuracy"].between(0, 1).all() and (runs["params"] > 0).all()


def test_bags_and_sequences_are_encoded_for_their_kind():
    train = ["not good at all", "good not bad", "bad film"]
    width, (bags,) = text.encode_for("bag of words", train)
    assert bags.shape == (3, width) and set(np.unique(bags)) <= {0.0, 1.0}
    width2, (pairs,) = text.encode_for("bag of bigrams", train)
    assert width2 > width and pairs.shape == (3, width2)  # word pairs added to the bag
    size, (ids,) = text.encode_for("GRU", train, length=6)
    assert ids.shape == (3, 6) and ids.max() < size
    with pytest.raises(ValueError, match="kind must be one of"):
        text.encode_for("bag of trigrams", train)


def test_shuffled_copies_keep_their_bag_of_words():
    texts = ["the film is not good", "a b c d e f g h", "one two"]
    shuffled, labels = text.real_or_shuffled(texts, seed=0)
    assert len(shuffled) == 3 and set(labels) <= {0, 1}
    for original, candidate in zip(texts, shuffled, strict=True):
        assert sorted(original.split()) == sorted(candidate.split())
    for original, candidate, label in zip(texts, shuffled, labels, strict=True):
        assert (candidate == original) == (label == 1)  # shuffles change the text
    again, labels_again = text.real_or_shuffled(texts, seed=0)
    assert again == shuffled and list(labels_again) == list(labels)


def test_a_given_embedding_layer_is_used_and_can_be_frozen():
    import keras

    matrix = np.arange(40, dtype=np.float32).reshape(10, 4)
    frozen = keras.layers.Embedding(10, 4, weights=[matrix], trainable=False)
    model = text.text_classifier("mean of embeddings", 10, 5, embedding=frozen)
    assert model.layers[0] is frozen
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], matrix)
    assert (
        model.count_params()
        - sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        == 40
    )


def test_compare_inputs_gives_one_row_per_kind():
    from dlbook import data

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "film", "plot", "fine", "dull"])
    texts = np.array([" ".join(rng.choice(words, 6)) for _ in range(60)], dtype=object)
    labels = np.array([int("good" in t) for t in texts])
    parts = data.split(texts, labels, seed=0)
    table = text.compare_inputs(["bag of words", "conv1d"], parts, length=6, epochs=2)
    assert list(table.index) == ["bag of words", "conv1d"]
    assert table["test_accuracy"].between(0, 1).all() and (table["params"] > 0).all()


def test_compact_ids_keep_padding_and_map_back_to_the_same_rows():
    a, b = np.array([[5, 9, 0]]), np.array([[9, 30, 5]])
    rows, (ca, cb) = text.compact_ids(a, b)
    assert list(rows) == [0, 5, 9, 30]
    np.testing.assert_array_equal(rows[ca], a)
    np.testing.assert_array_equal(rows[cb], b)
    assert ca[0, 2] == 0
    with pytest.raises(ValueError, match="at least one"):
        text.compact_ids()


def test_fine_tuning_unfreezes_the_embedding_after_the_first_stage():
    import keras

    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(64, 6))
    y = (x[:, 0] > 10).astype(np.int64)
    matrix = rng.normal(size=(20, 4)).astype(np.float32)
    made = []

    def make():
        made.append(keras.layers.Embedding(20, 4, weights=[matrix], trainable=False))
        return made[-1]

    fit = text.fit_text_classifier(
        "mean of embeddings",
        (x, y),
        (x, y),
        (x, y),
        20,
        epochs=2,
        make_embedding=make,
        fine_tune_learning_rate=1e-3,
    )
    assert made[0].trainable and fit.epochs >= 2
    frozen = text.fit_text_classifier(
        "mean of embeddings", (x, y), (x, y), (x, y), 20, epochs=2, make_embedding=make
    )
    assert not made[1].trainable and frozen.epochs <= 2
    np.testing.assert_array_equal(made[1].get_weights()[0], matrix)


def test_embedding_learning_curve_has_every_size_and_start():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 12, size=(40, 5))
    y = (x[:, 0] > 6).astype(np.int64)
    matrix = rng.normal(size=(12, 3))
    curve = text.embedding_learning_curve(
        (x, y), (x, y), (x, y), matrix, sizes=(10, 40), epochs=1
    )
    assert list(curve["labelled"]) == [10] * 3 + [40] * 3
    assert list(curve["embedding"][:3]) == list(text.EMBEDDING_VARIANTS)
    assert curve["test_accuracy"].between(0, 1).all()
    with pytest.raises(ValueError, match="sizes: 41 is more than"):
        text.embedding_learning_curve((x, y), (x, y), (x, y), matrix, sizes=(41,))
