import numpy as np
import pytest

from dlbook.data.corpora import Analogy
from dlbook.word_vectors import WordVectors, analogy_accuracy, plot_map

# A hand-made space where king - man + woman lands exactly on queen.
WORDS = ["man", "woman", "king", "queen", "apple"]
MATRIX = np.array(
    [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 1], [-1, -1, 0.1]], np.float32
)


def test_vectors_are_unit_length_and_neighbours_exclude_the_query():
    space = WordVectors.from_matrix(WORDS, MATRIX * 5)
    np.testing.assert_allclose(np.linalg.norm(space.vectors, axis=1), 1, rtol=1e-6)
    assert space.nearest("king", 1)[0][0] in {"man", "queen"}
    assert "king" not in [w for w, _ in space.nearest("king", 4)]
    assert space.analogy("man", "king", "woman", 1)[0][0] == "queen"
    with pytest.raises(KeyError, match="'pear' is not in the vocabulary"):
        space.nearest("pear")
    with pytest.raises(ValueError, match="k must be a positive int"):
        space.nearest("king", 0)


def test_bad_matrices_are_refused():
    with pytest.raises(ValueError, match="one row per word"):
        WordVectors.from_matrix(WORDS, MATRIX[:3])
    with pytest.raises(ValueError, match="must not repeat"):
        WordVectors.from_matrix(["a", "a"], np.eye(2))


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
