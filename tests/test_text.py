import numpy as np
import pytest

from dlbook import text


def test_word_indices_learn_the_vocabulary_from_training_texts_only():
    train = ["good film", "bad film", "good good plot"]
    layer, (x_train, x_other) = text.word_indices(train, ["good unseen words"], length=5)
    vocabulary = layer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and "unseen" not in vocabulary
    assert x_train.shape == (3, 5) and x_train.dtype == np.int64
    assert list(x_other[0]) == [vocabulary.index("good"), 1, 1, 0, 0]  # OOV 1, padding 0
    assert [vocabulary[i] for i in x_train[2] if i] == ["good", "good", "plot"]


def test_word_indices_respect_the_vocabulary_limit_and_truncate():
    layer, (x,) = text.word_indices(["a b c d e f g a a b"], max_tokens=4, length=3)
    assert len(layer.get_vocabulary()) == 4  # padding, [UNK] and the two most frequent words
    assert x.shape == (1, 3)
    with pytest.raises(ValueError, match="max_tokens"):
        text.word_indices(["a"], max_tokens=0)


def test_text_classifier_kinds_and_bad_kind():
    for kind in text.KINDS:
        model = text.text_classifier(kind, vocab_size=50, length=12, embed_dim=4, units=3)
        assert model.output_shape == (None, 1)
    with pytest.raises(ValueError, match="kind must be one of"):
        text.text_classifier("transformer", 50, 12)


def test_comparison_rows_are_scored_in_range():
    rng = np.random.default_rng(0)
    x = rng.integers(2, 30, size=(64, 8))
    y = (x[:, 0] > 15).astype(np.int64)  # learnable from the first word
    runs = text.compare_text_classifiers(["conv1d"], (x, y), (x, y), (x, y), 30, seeds=(0, 1))
    assert list(runs["seed"]) == [0, 1] and (runs["epochs"] >= 1).all()
    assert runs["test_accuracy"].between(0, 1).all() and (runs["params"] > 0).all()
