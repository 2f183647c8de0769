"""Text as sequences of word indices, and small classifiers over them.

Used by ``docs/text_models.md``: the same sentiment task read by a 1D convnet and by
recurrent layers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dlbook.validate import positive_int

KINDS = ("conv1d", "LSTM", "GRU", "mean of embeddings")


def word_indices(train_texts, *others, max_tokens: int = 10_000, length: int = 40):
    """Fit Keras' ``TextVectorization`` on the training texts only (lower-case, strip
    punctuation, split on spaces) and turn every part into ``length`` word indices.

    Index 0 pads short texts, 1 stands for words outside the ``max_tokens``-word
    vocabulary, so a word never seen in training cannot leak in. Returns the layer and
    one ``int64`` array per part.
    """
    from dlbook import encoding

    length = positive_int("length", length)
    layer = encoding.vectorizer(train_texts, "int", max_tokens, length=length)
    parts = (train_texts, *others)
    return layer, [encoding.encode(layer, t).astype(np.int64) for t in parts]


def text_classifier(kind: str, vocab_size: int, length: int, embed_dim: int = 64,
                    units: int = 64):  # fmt: skip
    """Embedding, then one sequence layer, then a sigmoid: ``mean of embeddings`` (word
    order ignored), ``conv1d`` (5-word windows, max over positions), ``LSTM`` or
    ``GRU`` (padding masked, so the state stops at the last real word)."""
    import keras
    from keras import layers

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    recurrent = kind in ("LSTM", "GRU")
    body = {
        "mean of embeddings": lambda: [layers.GlobalAveragePooling1D()],
        "conv1d": lambda: [layers.Conv1D(units, 5, activation="relu"),
                           layers.GlobalMaxPooling1D()],
        "LSTM": lambda: [layers.LSTM(units)],
        "GRU": lambda: [layers.GRU(units)],
    }[kind]  # fmt: skip
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int64"),
            layers.Embedding(vocab_size, embed_dim, mask_zero=recurrent),
            *body(),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ],
        name=kind.replace(" ", "_"),
    )


@dataclass
class TextFit:
    """One trained text classifier: size, speed and accuracy."""

    kind: str
    seed: int
    params: int
    epochs: int
    seconds_per_epoch: float
    val_accuracy: float
    test_accuracy: float


def fit_text_classifier(kind: str, train, val, test, vocab_size: int, seed: int = 0,
                        epochs: int = 10, patience: int = 3) -> TextFit:  # fmt: skip
    """Train with Adam and early stopping on validation accuracy (best weights kept);
    ``train``, ``val`` and ``test`` are ``(indices, labels)`` pairs."""
    import keras

    keras.utils.set_random_seed(seed)
    model = text_classifier(kind, vocab_size, train[0].shape[1])
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience,
                                         restore_best_weights=True)  # fmt: skip
    start = time.perf_counter()
    history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=64,
                        callbacks=[stop], verbose=0)  # fmt: skip
    ran = len(history.history["loss"])
    per_epoch = (time.perf_counter() - start) / ran

    def accuracy(part):
        predicted = np.asarray(model(part[0], training=False))[:, 0] > 0.5
        return float(np.mean(predicted == part[1]))

    return TextFit(kind, seed, model.count_params(), ran, per_epoch, accuracy(val), accuracy(test))


def compare_text_classifiers(kinds, train, val, test, vocab_size: int, seeds=(0, 1, 2),
                             **fit_options):  # fmt: skip
    """Every kind trained once per seed (``fit_options`` go to
    :func:`fit_text_classifier`); one row per (kind, seed)."""
    import pandas as pd

    fits = [fit_text_classifier(k, train, val, test, vocab_size, seed=s, **fit_options)
            for k in kinds for s in seeds]  # fmt: skip
    return pd.DataFrame([vars(f) for f in fits])
