import numpy as np
import pytest

from dlbook.base import seeding


def test_same_seed_gives_same_numbers():
    import keras

    seeding.seed_everything(7)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    seeding.seed_everything(7)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_same_seed_gives_same_trained_weights():
    import keras

    def train():
        seeding.seed_everything(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("adam", "mse")
        x = np.random.rand(32, 4).astype("float32")
        model.fit(x, x[:, :2], epochs=2, verbose=0)
        return model.get_weights()[0]

    np.testing.assert_array_equal(train(), train())


def test_different_seeds_differ():
    seeding.seed_everything(1)
    a = np.random.rand(4)
    seeding.seed_everything(2)
    assert not np.array_equal(a, np.random.rand(4))


def test_rng_is_independent_of_global_state():
    np.random.seed(0)
    a = seeding.rng(5).random(3)
    np.random.seed(99)
    np.testing.assert_array_equal(a, seeding.rng(5).random(3))


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", None, True])
def test_bad_seed_is_rejected_by_name(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        seeding.seed_everything(bad)
