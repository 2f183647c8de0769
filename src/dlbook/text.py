"""Text as bags of words or sequences of word indices, and small classifiers over them.

Used by ``docs/text_models.md`` (the same sentiment task read by a 1D convnet and by
recurrent layers) and ``docs/text_encoding.md`` (bags against sequences; embeddings
learned from scratch against pretrained ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlbook import training
from dlbook.base import validate
from dlbook.base.seeding import reseed, resolve_seed
from dlbook.base.validate import positive_int

SEQUENCE_KINDS = ("conv1d", "LSTM", "GRU", "mean of embeddings")
# two more readers of word indices (d2l's sentiment chapters), kept apart so that
# pages looping over SEQUENCE_KINDS train what they trained before
MORE_SEQUENCE_KINDS = ("bidirectional GRU", "multi-width conv1d")
BAG_KINDS = ("bag of words", "bag of bigrams", "bag of bigrams, own budget")
KINDS = BAG_KINDS + SEQUENCE_KINDS + MORE_SEQUENCE_KINDS
CONV_WIDTHS = (3, 4, 5)


def word_indices(train_texts, *others, max_tokens: int = 10_000, length: int = 40):
    """Fit Keras' ``TextVectorization`` on the training texts only (lower-case, strip
    punctuation, split on spaces) and turn every part into ``length`` word indices.

    Index 0 pads short texts, 1 stands for words outside the ``max_tokens``-word
    vocabulary, so a word never seen in training cannot leak in. Returns the layer and
    one ``int64`` array per part.
    """
    from dlbook import encoding

    _check_parts(train_texts, others)
    length = positive_int("length", length)
    layer = encoding.vectorizer(train_texts, "int", max_tokens, length=length)
    parts = (train_texts, *others)
    return layer, [encoding.encode(layer, t).astype(np.int64) for t in parts]


def _check_parts(train_texts, others) -> None:
    validate.texts("train_texts", train_texts)
    for i, part in enumerate(others):
        validate.texts(f"others[{i}]", part)


def encode_for(
    kind: str, train_texts, *others, max_tokens: int = 10_000, length: int = 40
):
    """The input ``kind`` reads: a multi-hot bag of words or of words and word pairs
    (``max_tokens`` columns shared by both; ``"bag of bigrams, own budget"``:
    ``max_tokens`` words plus ``max_tokens`` pairs), or ``length`` word indices.
    Vocabulary from the training texts only. Returns the width (vocabulary size) and
    one array per part."""
    from dlbook import encoding

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _check_parts(train_texts, others)
    if kind in SEQUENCE_KINDS + MORE_SEQUENCE_KINDS:
        layer, parts = word_indices(
            train_texts, *others, max_tokens=max_tokens, length=length
        )
        return layer.vocabulary_size(), parts
    if kind == "bag of bigrams, own budget":
        parts = encoding.bags_with_own_budgets(
            train_texts, *others, words=max_tokens, pairs=max_tokens
        )
        return parts[0].shape[1], parts
    ngrams = 2 if kind == "bag of bigrams" else None
    layer = encoding.vectorizer(train_texts, "multi_hot", max_tokens, ngrams=ngrams)
    return layer.vocabulary_size(), [
        encoding.encode(layer, t) for t in (train_texts, *others)
    ]


def text_classifier(
    kind: str,
    vocab_size: int,
    length: int,
    embed_dim: int = 64,
    units: int = 64,
    embedding=None,
):
    """A sigmoid classifier. Bags (``vocab_size`` columns): one hidden Dense layer of
    16. Sequences: Embedding, then one sequence layer: ``mean of embeddings`` (word
    order ignored), ``conv1d`` (5-word windows, max over positions), ``LSTM`` or
    ``GRU`` (padding masked, so the state stops at the last real word),
    ``bidirectional GRU`` (one GRU of ``units // 2`` forwards, one backwards, last
    states joined: as wide as the one-way GRU's state) or
    ``multi-width conv1d`` (see :func:`multi_width_conv1d`). ``embedding``: a ready
    Embedding layer to use instead of a new one (e.g. pretrained vectors)."""
    import keras
    from keras import layers

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    vocab_size, length = (
        positive_int("vocab_size", vocab_size),
        positive_int("length", length),
    )
    embed_dim, units = (
        positive_int("embed_dim", embed_dim),
        positive_int("units", units),
    )
    if kind in BAG_KINDS:
        return keras.Sequential(
            [
                keras.Input((vocab_size,)),
                layers.Dense(16, activation="relu"),
                layers.Dropout(0.5),
                layers.Dense(1, activation="sigmoid"),
            ],
            name=kind.replace(",", "").replace(" ", "_"),
        )
    recurrent = kind in ("LSTM", "GRU", "bidirectional GRU")
    if embedding is None:
        embedding = layers.Embedding(vocab_size, embed_dim, mask_zero=recurrent)
    if kind == "multi-width conv1d":
        return multi_width_conv1d(embedding, length, units)
    body = {
        "mean of embeddings": lambda: [layers.GlobalAveragePooling1D()],
        "conv1d": lambda: [
            layers.Conv1D(units, 5, activation="relu"),
            layers.GlobalMaxPooling1D(),
        ],
        "LSTM": lambda: [layers.LSTM(units)],
        "GRU": lambda: [layers.GRU(units)],
        # half the units each way: the joined state is as wide as the one-way GRU's
        "bidirectional GRU": lambda: [
            layers.Bidirectional(layers.GRU(max(1, units // 2)))
        ],
    }[kind]
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int64"),
            embedding,
            *body(),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ],
        name=kind.replace(",", "").replace(" ", "_"),
    )


def multi_width_conv1d(embedding, length: int, units: int = 64, widths=CONV_WIDTHS):
    """A functional sigmoid classifier over ``length`` word indices: after
    ``embedding``, one branch per window width in ``widths`` (``units`` filters of that
    many words, each filter's strongest response over positions), the branches joined
    side by side, then dropout and the output."""
    import keras
    from keras import layers

    length, units = positive_int("length", length), positive_int("units", units)
    if not len(widths):
        raise ValueError("widths must hold at least one window width")
    widths = [positive_int("widths", w) for w in widths]
    if max(widths) > length:
        raise ValueError(f"widths: {max(widths)} words is more than length {length}")
    words = keras.Input((length,), dtype="int64")
    vectors = embedding(words)
    branches = [
        layers.GlobalMaxPooling1D()(layers.Conv1D(units, w, activation="relu")(vectors))
        for w in widths
    ]
    joined = branches[0] if len(branches) == 1 else layers.Concatenate()(branches)
    out = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.5)(joined))
    return keras.Model(words, out, name="multi_width_conv1d")


@dataclass
class TextFit:
    """One trained text classifier: size, speed and accuracy, and which test texts it
    read right (for paired comparisons on the same texts, ``checks.compare``)."""

    kind: str
    seed: int
    params: int
    epochs: int
    seconds_per_epoch: float
    val_accuracy: float
    test_accuracy: float
    test_right: np.ndarray = field(default=None, repr=False)

    def row(self) -> dict:
        """The figures of a results table (the per-text outcomes left out)."""
        return {k: v for k, v in vars(self).items() if k != "test_right"}


def fit_text_classifier(
    kind: str,
    train,
    val,
    test,
    vocab_size: int,
    seed: int | None = None,
    epochs: int = 10,
    patience: int = 3,
    make_embedding=None,
    learning_rate: float = 1e-3,
    fine_tune_learning_rate: float | None = None,
) -> TextFit:
    """Train with Adam and early stopping on validation accuracy (best weights kept);
    ``train``, ``val`` and ``test`` are ``(inputs, labels)`` pairs from
    :func:`encode_for`. ``make_embedding``: a function returning a fresh Embedding
    layer (e.g. pretrained vectors, frozen) for the sequence kinds. With
    ``fine_tune_learning_rate``, a second stage follows: the embedding is unfrozen and
    everything trains on at that (lower) rate, so the pretrained vectors are adjusted
    rather than overwritten."""
    seed = resolve_seed(seed)
    for name, part in (("train", train), ("val", val), ("test", test)):
        validate.pair(name, part)
    reseed(seed)  # the same initial weights for one seed, whatever ran before
    embedding = make_embedding() if make_embedding is not None else None
    model = text_classifier(kind, vocab_size, train[0].shape[1], embedding=embedding)
    options = dict(
        loss="binary_crossentropy",
        metrics=["accuracy"],
        epochs=epochs,
        batch_size=64,
        patience=patience,
        monitor="val_accuracy",
        seed=seed,
    )
    first = training.fit(model, train, val=val, learning_rate=learning_rate, **options)
    ran, seconds = first.epochs, first.seconds
    if fine_tune_learning_rate is not None:
        model.layers[0].trainable = True
        stage_one = model.get_weights()
        second = training.fit(
            model, train, val=val, learning_rate=fine_tune_learning_rate, **options
        )
        ran, seconds = ran + second.epochs, seconds + second.seconds
        if max(second.history["val_accuracy"]) < max(first.history["val_accuracy"]):
            model.set_weights(stage_one)  # fine-tuning did not help on validation
    x_test, y_test = test
    return TextFit(
        kind,
        seed,
        model.count_params(),
        ran,
        seconds / ran,
        training.binary_accuracy(model, *val),
        training.binary_accuracy(model, *test),
        (training.predict(model, x_test)[:, 0] > 0.5) == np.asarray(y_test),
    )


def compare_text_classifiers(
    kinds, train, val, test, vocab_size: int, seeds=(0, 1, 2), **fit_options
):
    """Every kind trained once per seed (``fit_options`` go to
    :func:`fit_text_classifier`); one row per (kind, seed), with the per-text test
    outcomes (``test_right``) for paired comparisons."""
    import pandas as pd

    if not len(kinds) or not len(seeds):
        raise ValueError(f"kinds and seeds must not be empty, got {kinds!r}, {seeds!r}")
    fits = [
        fit_text_classifier(k, train, val, test, vocab_size, seed=s, **fit_options)
        for k in kinds
        for s in seeds
    ]
    return pd.DataFrame([vars(f) for f in fits])


def real_or_shuffled(texts, seed: int | None = None) -> tuple[list[str], np.ndarray]:
    """A task only word order can solve: each text is kept as written (label 1) or
    its words are shuffled (label 0), half and half at random. Every text appears
    once, so both classes draw their bags of words from the same distribution: a bag
    of words cannot tell them apart."""
    seed = resolve_seed(seed)
    texts = validate.texts("texts", texts)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(len(texts)) % 2)
    out = []
    for text, real in zip(texts, labels, strict=True):
        words = text.split()
        shuffled = words
        for _ in range(
            10 if not real else 0
        ):  # a shuffle that changes the text if it can
            shuffled = [words[i] for i in rng.permutation(len(words))]
            if shuffled != words or len(set(words)) < 2:
                break
        out.append(" ".join(shuffled))
    return out, labels.astype(np.int64)


def compare_inputs(
    kinds,
    parts,
    length: int = 32,
    max_tokens: int = 10_000,
    seed: int | None = None,
    per_text: bool = False,
    **fit_options,
):
    """Each kind on its own input (:func:`encode_for`) for the same texts: ``parts`` is a
    ``data.Splits`` of (texts, labels). One row per kind: size, time, accuracy.
    ``per_text``: also return, by kind, which test texts it read right (for a paired
    test on the same texts)."""
    import pandas as pd

    if not all(hasattr(parts, part) for part in ("train", "val", "test")):
        raise ValueError(
            f"parts must have train, val and test parts, got {parts!r:.60}"
        )
    if not len(kinds):
        raise ValueError("kinds must name at least one kind")
    splits, rows, right = (parts.train, parts.val, parts.test), [], {}
    for kind in kinds:
        width, encoded = encode_for(
            kind, *(p[0] for p in splits), max_tokens=max_tokens, length=length
        )
        train, val, test = ((x, p[1]) for x, p in zip(encoded, splits, strict=True))
        fitted = fit_text_classifier(
            kind, train, val, test, width, seed=seed, **fit_options
        )
        rows.append(fitted.row())
        right[kind] = fitted.test_right
    table = pd.DataFrame(rows).set_index("kind")
    return (table, right) if per_text else table


def compact_ids(*parts) -> tuple[np.ndarray, list[np.ndarray]]:
    """Renumber token ids so that only the ids that occur in ``parts`` get a row.

    Returns ``rows`` (the old id of each new one; 0, the padding, stays 0) and the
    renumbered parts. ``matrix[rows]`` is then the embedding table to train: the same
    model as with the full vocabulary, since rows no text uses never get a gradient,
    but much smaller and faster to update."""
    if not parts:
        raise ValueError("give at least one array of token ids")
    for i, part in enumerate(parts):
        ids = validate.array(f"parts[{i}]", part)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
            raise ValueError(f"parts[{i}] must hold token ids (integers >= 0)")
    rows = np.union1d(0, np.unique(np.concatenate([np.ravel(p) for p in parts])))
    return rows, [np.searchsorted(rows, p).astype(np.int64) for p in parts]


EMBEDDING_VARIANTS = (
    "from scratch",
    "pretrained, frozen",
    "pretrained, frozen then fine-tuned",
)


def embedding_learning_curve(
    train,
    val,
    test,
    matrix,
    sizes,
    seed: int | None = None,
    fine_tune_learning_rate: float = 1e-3,
    **fit_options,
):
    """Test accuracy of the mean-of-embeddings classifier with three starts for its
    ``Embedding`` layer: random and trained (from scratch), the pretrained ``matrix``
    kept frozen, or frozen first and then fine-tuned at a lower rate; each trained on
    the first ``n`` training examples for every ``n`` in ``sizes``. ``train``, ``val``,
    ``test``: ``(token ids, labels)``; ids index rows of ``matrix``."""
    import keras
    import pandas as pd

    matrix = validate.array("matrix", matrix, ndim=2, dtype=np.float32)
    if not len(sizes):
        raise ValueError("sizes must hold at least one training-set size")

    def make(pretrained: bool):
        weights = [matrix] if pretrained else None
        return lambda: keras.layers.Embedding(
            *matrix.shape, mask_zero=True, weights=weights, trainable=not pretrained
        )

    starts = {
        EMBEDDING_VARIANTS[0]: (make(False), None),
        EMBEDDING_VARIANTS[1]: (make(True), None),
        EMBEDDING_VARIANTS[2]: (make(True), fine_tune_learning_rate),
    }
    rows = []
    for n in sizes:
        n = positive_int("sizes", n)
        if n > len(train[0]):
            raise ValueError(
                f"sizes: {n} is more than the {len(train[0])} training examples"
            )
        for variant, (make_embedding, fine_tune) in starts.items():
            subset = (train[0][:n], train[1][:n])
            fit = fit_text_classifier(
                "mean of embeddings",
                subset,
                val,
                test,
                len(matrix),
                seed=seed,
                make_embedding=make_embedding,
                fine_tune_learning_rate=fine_tune,
                **fit_options,
            )
            rows.append(
                {
                    "labelled": n,
                    "embedding": variant,
                    "epochs": fit.epochs,
                    "test_accuracy": fit.test_accuracy,
                }
            )
    return pd.DataFrame(rows)
