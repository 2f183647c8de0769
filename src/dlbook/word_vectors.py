"""A word-embedding space: one vector per word, with its nearest neighbours and
analogies (:class:`WordVectors`).

What word2vec (:mod:`dlbook.word2vec`) trains and the MiniLM port
(:func:`dlbook.pretrained.minilm.word_space`) reads out of its weights, so a chapter and
a weight port stand on it alike; the word-embeddings page's questions to both spaces
(analogy accuracy, a 2D map) are in :mod:`dlbook.word_embeddings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook.base.validate import positive_int


@dataclass(frozen=True)
class WordVectors:
    """One unit-length vector per word (rows of ``vectors`` follow ``words``)."""

    words: tuple[str, ...]
    vectors: np.ndarray

    @classmethod
    def from_matrix(cls, words, matrix) -> WordVectors:
        words, matrix = tuple(words), np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or len(words) != len(matrix):
            raise ValueError(
                f"matrix must have one row per word: {len(words)} words, shape {matrix.shape}"
            )
        if len(set(words)) != len(words):
            raise ValueError("words must not repeat")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return cls(words, matrix / np.maximum(norms, 1e-12))

    @property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def vector(self, word: str) -> np.ndarray:
        try:
            return self.vectors[self.index[word]]
        except KeyError:
            raise KeyError(
                f"{word!r} is not in the vocabulary ({len(self.words)} words)"
            ) from None

    def nearest(self, query, k: int = 5, exclude=()) -> list[tuple[str, float]]:
        """The ``k`` words of highest cosine similarity to ``query`` (a word or a
        vector), leaving out the query word itself and ``exclude``."""
        k = positive_int("k", k)
        vector = self.vector(query) if isinstance(query, str) else np.asarray(query)
        similarity = self.vectors @ (vector / max(np.linalg.norm(vector), 1e-12))
        skip = {query, *exclude} if isinstance(query, str) else set(exclude)
        found = []
        for i in np.argsort(-similarity):
            if self.words[i] not in skip:
                found.append((self.words[i], float(similarity[i])))
                if len(found) == k:
                    break
        return found

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """``a`` is to ``b`` as ``c`` is to ...? The words nearest to b − a + c
        (3CosAdd), the three question words left out: ``analogy("man", "king",
        "woman")`` asks for the female king."""
        target = self.vector(b) - self.vector(a) + self.vector(c)
        return self.nearest(target, k, exclude=(a, b, c))
