"""word2vec (skip-gram with negative sampling) written as a small Keras model.

Each training example is one (word, context word) pair seen in the corpus plus
``negatives`` words drawn at random from the unigram distribution raised to 3/4
(Mikolov et al., 2013): the model learns to score the real context word above the
random ones with a dot product of two embeddings. Frequent words are subsampled.
Judged with :mod:`dlbook.word_embeddings`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from dlbook import training
from dlbook.base.seeding import reseed
from dlbook.base.validate import array, positive_int, positive_number
from dlbook.word_vectors import WordVectors


@dataclass(frozen=True)
class Vocabulary:
    """Words seen at least ``min_count`` times, most frequent first, with counts."""

    words: tuple[str, ...]
    counts: np.ndarray

    @classmethod
    def build(cls, sentences, min_count: int = 5) -> Vocabulary:
        counts = Counter(word for sentence in sentences for word in sentence)
        kept = sorted(
            (w for w, n in counts.items() if n >= positive_int("min_count", min_count)),
            key=lambda w: (-counts[w], w),
        )
        if not kept:
            raise ValueError(f"no word occurs min_count={min_count} times")
        return cls(tuple(kept), np.array([counts[w] for w in kept], dtype=np.int64))

    def ids(self, sentences) -> list[np.ndarray]:
        """Each sentence as word indices, words outside the vocabulary dropped."""
        index = {w: i for i, w in enumerate(self.words)}
        return [
            np.array([index[w] for w in s if w in index], dtype=np.int64)
            for s in sentences
        ]


def skipgram_examples(
    sentences_ids, counts, window: int, negatives: int, rng, subsample: float = 1e-4
):
    """One epoch of training examples.

    Returns ``targets`` (n,), ``candidates`` (n, 1 + negatives): the true context word
    first, then random words. Each word is kept with probability
    ``sqrt(subsample / f) + subsample / f`` (f: its share of the corpus), and each
    target uses a window drawn from 1..``window`` (nearer words count more), both as
    in the original word2vec.
    """
    window, negatives = (
        positive_int("window", window),
        positive_int("negatives", negatives),
    )
    positive_number("subsample", subsample)
    counts = array("counts", counts, ndim=1)
    if not len(counts) or counts.min() < 1:
        raise ValueError("counts must be the vocabulary's word counts, each >= 1")
    share = counts / counts.sum()
    keep = np.minimum(1.0, np.sqrt(subsample / share) + subsample / share)
    kept = [s[rng.random(len(s)) < keep[s]] for s in sentences_ids]
    kept = [s for s in kept if len(s) > 1]
    words = np.concatenate(kept)
    sentence = np.repeat(np.arange(len(kept)), [len(s) for s in kept])
    reach = rng.integers(1, window + 1, size=len(words))
    targets, contexts = [], []
    for offset in range(1, window + 1):
        for step in (offset, -offset):
            source = np.arange(max(0, -step), len(words) - max(0, step))
            pair = source + step
            ok = (sentence[source] == sentence[pair]) & (reach[source] >= offset)
            targets.append(words[source[ok]])
            contexts.append(words[pair[ok]])
    targets, contexts = np.concatenate(targets), np.concatenate(contexts)
    noise = counts**0.75
    drawn = rng.choice(
        len(counts), size=(len(targets), negatives), p=noise / noise.sum()
    )
    order = rng.permutation(len(targets))
    return targets[order], np.column_stack([contexts, drawn])[order]


def skipgram_model(vocab_size: int, dim: int):
    """Scores (b,) target words against (b, 1 + k) candidate context words: one logit
    per candidate, the dot product of the target's and the candidate's embeddings."""
    import keras

    vocab_size, dim = positive_int("vocab_size", vocab_size), positive_int("dim", dim)
    target = keras.Input((), dtype="int32", name="target")
    candidates = keras.Input((None,), dtype="int32", name="candidates")
    word = keras.layers.Embedding(vocab_size, dim, name="word_vectors")(target)
    context = keras.layers.Embedding(vocab_size, dim, name="context_vectors")(
        candidates
    )
    logits = keras.layers.Dot(axes=(2, 1), name="score")([context, word])
    return keras.Model([target, candidates], logits, name="skipgram")


@dataclass(frozen=True)
class Word2VecRun:
    """Trained word vectors, the loss per epoch and the training cost."""

    space: WordVectors
    losses: list[float]
    examples_per_epoch: int
    seconds: float
    params: int


def skipgram_epochs(
    model,
    seed,
    ids,
    counts,
    window=4,
    negatives=4,
    epochs=3,
    batch_size=1024,
    learning_rate=0.003,
) -> dict:
    """The training routine of :func:`train_word2vec`, run through
    :func:`dlbook.training.run`: each epoch draws fresh negative samples (so it is not
    one ``fit`` call), then takes one pass over them. Returns the loss per epoch."""
    import keras

    epochs = positive_int("epochs", epochs)
    rng = np.random.default_rng(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    losses = []
    for _ in range(epochs):
        targets, candidates = skipgram_examples(ids, counts, window, negatives, rng)
        labels = np.zeros(candidates.shape, np.float32)
        labels[:, 0] = 1.0
        history = model.fit(
            [targets, candidates],
            labels,
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        losses.append(float(history.history["loss"][-1]))
    return {"losses": losses, "examples_per_epoch": len(targets)}


def train_word2vec(
    sentences, dim: int = 64, min_count: int = 5, seed: int | None = None, **settings
) -> Word2VecRun:
    """Skip-gram with negative sampling on tokenised ``sentences``: ``dim`` features per
    word, over the words seen at least ``min_count`` times; ``settings`` are the
    training's, :func:`skipgram_epochs`' parameters, written once there with their
    defaults. The word vectors (not the context vectors) are returned as a
    :class:`WordVectors`."""
    if sentences is None or isinstance(sentences, str):
        raise TypeError(
            f"sentences must be a list of token lists, got {sentences!r:.60}"
        )
    if not len(sentences):
        raise ValueError("sentences must hold at least one sentence")
    vocabulary = Vocabulary.build(sentences, min_count)
    ids = vocabulary.ids(sentences)
    reseed(seed)
    model = skipgram_model(len(vocabulary.words), positive_int("dim", dim))
    result = training.run(
        skipgram_epochs, model, seed=seed, ids=ids, counts=vocabulary.counts, **settings
    )
    matrix = model.get_layer("word_vectors").get_weights()[0]
    return Word2VecRun(
        WordVectors.from_matrix(vocabulary.words, matrix),
        result.record["losses"],
        result.record["examples_per_epoch"],
        result.seconds,
        model.count_params(),
    )
