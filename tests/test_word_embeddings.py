import numpy as np
import pytest

from dlbook.data.corpora import Analogy
from dlbook.word_embeddings import analogy_accuracy, plot_map
from dlbook.word_vectors import WordVectors

# A hand-made space where king - man + woman lands exactly on queen.
WORDS = ["man", "woman", "king", "queen", "apple"]
MATRIX = np.array(
    [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 1], [-1, -1, 0.1]], np.float32
)


def test_analogy_accuracy_counts_only_questions_in_the_vocabulary():
    space = WordVectors.from_matrix(WORDS, MATRIX)
    questions = [
        Analogy("family", "man", "king", "woman", "queen"),
        Analogy("family", "king", "man", "queen", "apple"),  # wrong: woman is right
        Analogy("family", "man", "king", "girl", "princess"),
    ]  # not in vocabulary
    table = analogy_accuracy(space, questions)
    assert table.loc["family", ["total", "asked", "right"]].tolist() == [3, 2, 1]
    assert table.loc["all", "accuracy"] == 0.5
    assert table["asked"].dtype.kind == "i"  # counts print as counts


def test_map_names_missing_words():
    space = WordVectors.from_matrix(WORDS, MATRIX)
    ax = plot_map(space, ["man", "woman", "king"])
    assert len(ax.texts) == 3
    with pytest.raises(KeyError, match="pear"):
        plot_map(space, ["man", "pear"])


def test_analogy_rank_is_one_when_right_and_agrees_with_the_accuracy():
    from dlbook.word_embeddings import analogy_rank

    space = WordVectors.from_matrix(WORDS, MATRIX)
    right = Analogy("family", "man", "king", "woman", "queen")
    wrong = Analogy("family", "king", "man", "queen", "apple")
    assert analogy_rank(space, right) == 1
    assert analogy_rank(space, wrong) == 2  # woman first, then apple
    assert (
        analogy_rank(space, Analogy("family", "man", "king", "girl", "queen")) is None
    )
    with pytest.raises(TypeError, match="question"):
        analogy_rank(space, ("man", "king"))
