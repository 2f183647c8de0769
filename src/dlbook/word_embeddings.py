"""The word-embeddings page's questions to any word space: analogy outcomes and
accuracy, a 2D map.

The same tools serve the word2vec vectors (:mod:`dlbook.word2vec`) and the pretrained
MiniLM token embeddings (:func:`dlbook.pretrained.minilm.word_space`), both
:class:`dlbook.word_vectors.WordVectors`, so the two spaces are judged alike. Used by
``docs/word_embeddings.md`` only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlbook.base import validate
from dlbook.word_vectors import WordVectors


def analogy_outcomes(space: WordVectors, questions) -> tuple[np.ndarray, np.ndarray]:
    """Per question of ``questions`` (``corpora.Analogy``): whether ``space`` can ask
    it (its four words all in the vocabulary) and whether it answers it right (top 1;
    False where not asked). Two spaces compared on the questions both can ask, answer
    by answer, are compared like for like (``checks.compare``)."""
    if not isinstance(space, WordVectors):
        raise TypeError(f"space must be WordVectors, got {space!r:.60}")
    if questions is None or not len(questions):
        raise ValueError("questions must hold at least one analogy question")
    index = space.index
    asked = np.array(
        [all(w in index for w in (q.a, q.b, q.c, q.d)) for q in questions], dtype=bool
    )
    right = np.zeros(len(questions), dtype=bool)
    sections = np.array([q.section for q in questions], dtype=object)
    for section in dict.fromkeys(sections):  # one batch run per section, in order
        chosen = np.flatnonzero((sections == section) & asked)
        ids = np.array(
            [
                [
                    index[w]
                    for w in (
                        questions[i].a,
                        questions[i].b,
                        questions[i].c,
                        questions[i].d,
                    )
                ]
                for i in chosen
            ],
            dtype=np.int64,
        ).reshape(-1, 4)
        right[chosen] = _top1_right(space.vectors, ids)
    return asked, right


def analogy_accuracy(space: WordVectors, questions) -> pd.DataFrame:
    """Top-1 accuracy on the ``questions`` (``corpora.Analogy``) whose four words are all
    in ``space``, per section and overall; ``asked`` counts them, ``total`` counts all."""
    asked, right = analogy_outcomes(space, questions)
    sections = [q.section for q in questions]
    table = []
    for section in dict.fromkeys(sections):
        mine = np.array([s == section for s in sections])
        table.append(
            {
                "section": section,
                "total": int(mine.sum()),
                "asked": int((mine & asked).sum()),
                "right": int((mine & right).sum()),
            }
        )
    frame = pd.DataFrame(table)
    frame.loc[len(frame)] = [
        "all",
        frame.total.sum(),
        frame.asked.sum(),
        frame.right.sum(),
    ]
    frame = frame.astype({"total": int, "asked": int, "right": int})
    frame["accuracy"] = frame.right / frame.asked.where(frame.asked > 0)
    return frame.set_index("section")


def _top1_right(vectors: np.ndarray, ids: np.ndarray, batch: int = 512) -> np.ndarray:
    right = np.zeros(len(ids), dtype=bool)
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        target = vectors[part[:, 1]] - vectors[part[:, 0]] + vectors[part[:, 2]]
        scores = target @ vectors.T
        rows = np.arange(len(part))[:, None]
        scores[rows, part[:, :3]] = -np.inf  # the question words are not answers
        right[start : start + batch] = scores.argmax(axis=1) == part[:, 3]
    return right


def plot_map(space: WordVectors, words, ax=None, title: str = ""):
    """The ``words`` placed by the first two principal components of their vectors."""
    from dlbook.book import plotting

    if not isinstance(space, WordVectors):
        raise TypeError(f"space must be WordVectors, got {space!r:.60}")
    words = validate.texts("words", words)
    missing = [w for w in words if w not in space.index]
    if missing:
        raise KeyError(f"not in the vocabulary: {missing}")
    points = np.stack([space.vector(w) for w in words])
    centred = points - points.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ directions[:2].T
    if ax is None:
        ax = plotting.figure(width=6.4, height=5.0)[1][0, 0]
    ax.scatter(xy[:, 0], xy[:, 1], s=12, color=plotting.PALETTE[0])
    for (x, y), word in zip(xy, words, strict=True):
        ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=9)
    ax.set(
        xlabel="first principal component",
        ylabel="second principal component",
        title=title,
    )
    return ax


def analogy_rank(space: WordVectors, question) -> int | None:
    """Where the expected answer ``question.d`` ranks among all of ``space``'s words
    for ``question`` (``corpora.Analogy``; 3CosAdd, the three question words left
    out): 1 is right, ``None`` if a word is not in the vocabulary."""
    if not isinstance(space, WordVectors):
        raise TypeError(f"space must be WordVectors, got {space!r:.60}")
    words = [getattr(question, name, None) for name in "abcd"]
    if not all(isinstance(word, str) for word in words):
        raise TypeError(
            f"question must be an analogy (a, b, c, d), got {question!r:.60}"
        )
    index = space.index
    if not all(word in index for word in words):
        return None
    a, b, c, d = (index[word] for word in words)
    target = space.vectors[b] - space.vectors[a] + space.vectors[c]
    scores = space.vectors @ target
    scores[[a, b, c]] = -np.inf
    return int(np.sum(scores > scores[d])) + 1
