import numpy as np
import pytest

from dlbook.word_vectors import WordVectors

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
