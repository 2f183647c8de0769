"""Ways to turn text into numbers, and what each costs in size and sparsity.

For the text-encoding chapter (issue #5): one-hot characters and words, the hashing
trick, multi-hot bags of words and of n-grams, TF-IDF and integer sequences. Keras'
``TextVectorization`` does the work where it fits; the hashing trick uses Keras'
``Hashing`` layer. Every encoder learns its vocabulary from training texts only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook.base import validate
from dlbook.base.validate import positive_int

MODES = ("multi_hot", "count", "tf_idf", "int")


def vectorizer(
    train_texts,
    mode: str = "multi_hot",
    max_tokens: int = 10_000,
    ngrams: int | None = None,
    length: int | None = None,
):
    """A ``TextVectorization`` layer adapted to ``train_texts``.

    ``mode`` is a bag (``multi_hot``: which words occur; ``count``: how often;
    ``tf_idf``: counts weighted by rarity across texts) or ``int`` (a sequence of word
    indices, padded or cut to ``length``); ``ngrams=2`` adds word pairs to the bag,
    ranked with the words under the same ``max_tokens`` (``None``: no limit).
    """
    import keras
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "int" and length is None:
        raise ValueError("length is required when mode='int' (the sequence length)")
    if mode != "int" and length is not None:
        raise ValueError(f"length applies to mode='int' only, got mode={mode!r}")
    layer = keras.layers.TextVectorization(
        max_tokens=None
        if max_tokens is None
        else positive_int("max_tokens", max_tokens),
        output_mode=mode,
        ngrams=ngrams,
        output_sequence_length=length,
    )
    layer.adapt(tf.constant(validate.texts("train_texts", train_texts)))
    return layer


def encode(layer, texts) -> np.ndarray:
    """Apply an adapted layer to ``texts`` and return a NumPy array."""
    import tensorflow as tf

    return np.asarray(layer(tf.constant(validate.texts("texts", texts))))


def one_hot_words(layer, text: str) -> np.ndarray:
    """One row per word of ``text``, one column per vocabulary entry (``int`` layer):
    the word-level one-hot encoding that an ``Embedding`` layer replaces by a lookup."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {text!r:.60}")
    indices = encode(layer, [text])[0]
    indices = indices[indices > 0]
    return np.eye(layer.vocabulary_size(), dtype=np.float32)[indices]


def pad_rows(rows: np.ndarray, count: int) -> np.ndarray:
    """``rows`` cut or padded with rows of zeros to exactly ``count`` rows, so one-hot
    texts of different lengths stack into one array."""
    rows = np.asarray(rows)[: positive_int("count", count)]
    return np.pad(rows, ((0, count - len(rows)), *[(0, 0)] * (rows.ndim - 1)))


def one_hot_characters(text: str, alphabet: str) -> np.ndarray:
    """One row per character, one column per ``alphabet`` entry plus a last column for
    characters outside it."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {text!r:.60}")
    if (
        not isinstance(alphabet, str)
        or not alphabet
        or len(set(alphabet)) != len(alphabet)
    ):
        raise ValueError(
            f"alphabet must be non-empty without repeats, got {alphabet!r}"
        )
    column = {c: i for i, c in enumerate(alphabet)}
    rows = np.zeros((len(text), len(alphabet) + 1), np.float32)
    rows[np.arange(len(text)), [column.get(c, len(alphabet)) for c in text]] = 1.0
    return rows


def hashed_words(words, buckets: int, salt: int = 0) -> np.ndarray:
    """Bucket of each word by Keras' ``Hashing`` layer (SipHash, fixed per ``salt``):
    no vocabulary to store, at the price of collisions."""
    import keras

    words = validate.texts("words", words, empty=True)
    layer = keras.layers.Hashing(num_bins=positive_int("buckets", buckets), salt=salt)
    return np.asarray(layer(np.array(list(words), dtype=object))).ravel()


@dataclass(frozen=True)
class Collisions:
    """How the hashing trick shared its buckets among ``words`` distinct words."""

    words: int
    buckets: int
    colliding_share: float  # share of words whose bucket holds another word too
    expected_share: float  # the same for a uniform random hash: 1 - (1 - 1/B)^(V-1)


def collision_rate(vocabulary, buckets: int, salt: int = 0) -> Collisions:
    """Measured and expected share of words that share their bucket with another."""
    words = sorted(set(validate.texts("vocabulary", vocabulary)))
    bucket = hashed_words(words, buckets, salt)
    counts = np.bincount(bucket, minlength=buckets)
    colliding = float(np.mean(counts[bucket] > 1))
    expected = 1 - (1 - 1 / buckets) ** (len(words) - 1)
    return Collisions(len(words), buckets, colliding, float(expected))


def size_and_sparsity(name: str, matrix: np.ndarray) -> dict:
    """One row of the encodings table: shape per text, stored numbers, share of zeros."""
    matrix = validate.array("matrix", matrix, numeric=False)
    if matrix.ndim == 0 or len(matrix) == 0:
        raise ValueError(f"matrix must have one row per text, got shape {matrix.shape}")
    per_text = matrix.shape[1:] if matrix.ndim > 1 else (1,)
    return {
        "encoding": name,
        "numbers per text": int(np.prod(per_text)),
        "non-zeros per text": float(np.count_nonzero(matrix) / len(matrix)),
        "zeros": float(1 - np.count_nonzero(matrix) / matrix.size),
    }


def hashed_bag(texts, buckets: int, salt: int = 0) -> np.ndarray:
    """The hashing trick on a bag of words: one column per bucket, 1 where some word of
    the text (lower-cased, split on non-letters) hashes to it. No vocabulary is
    learned or stored; words that share a bucket become indistinguishable."""
    import re

    texts = validate.texts("texts", texts, each_str=False, empty=True)
    words = [re.findall(r"[a-z0-9']+", str(text).lower()) for text in texts]
    bags = np.zeros((len(words), positive_int("buckets", buckets)), np.float32)
    flat = [w for text_words in words for w in text_words]
    if flat:
        rows = np.repeat(np.arange(len(words)), [len(w) for w in words])
        bags[rows, hashed_words(flat, buckets, salt)] = 1.0
    return bags


def vocabulary_split(layer) -> dict[str, int]:
    """How many single words and how many word pairs an adapted n-gram bag kept."""
    if not hasattr(layer, "get_vocabulary"):
        raise TypeError(
            f"layer must be an adapted TextVectorization, got {layer!r:.60}"
        )
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    pairs = sum(" " in token for token in vocabulary)
    return {"words": len(vocabulary) - pairs, "pairs": pairs}


def bags_with_own_budgets(
    train_texts, *others, words: int = 10_000, pairs: int = 10_000
):
    """Multi-hot bags of words and of word pairs, each with its own budget: the
    ``words`` most frequent words and the ``pairs`` most frequent pairs of the
    training texts (Keras' ``ngrams=2`` bag ranks both under one ``max_tokens``, so
    pairs crowd out words). One array per part, ``(texts, words + pairs)`` at most."""
    import keras

    word_layer = vectorizer(train_texts, "multi_hot", positive_int("words", words))
    both = vectorizer(train_texts, "multi_hot", None, ngrams=2)  # ranks every token
    kept = [str(token) for token in both.get_vocabulary() if " " in str(token)]
    pair_layer = keras.layers.TextVectorization(
        output_mode="multi_hot",
        ngrams=2,
        vocabulary=kept[: positive_int("pairs", pairs)],
    )  # single words fall in its out-of-vocabulary column 0, dropped below
    encoded = []
    for texts in (train_texts, *others):
        pair_bag = encode(pair_layer, texts)[:, 1:]
        encoded.append(np.concatenate([encode(word_layer, texts), pair_bag], axis=1))
    return encoded
