"""The training profile: multiply-adds counted from shapes, fixed cost separated."""

import keras
import pytest

from dlbook.training import profile


def test_multiply_adds_of_dense_and_conv_layers():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3),  # 6*6 outputs * 4 filters * (3*3*3)
            keras.layers.Flatten(),
            keras.layers.Dense(5),  # 144 * 5
        ]
    )
    assert profile.multiply_adds(model) == 6 * 6 * 4 * 27 + 144 * 5


def test_multiply_adds_of_a_recurrent_layer_count_every_step():
    model = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(2)])
    # per step: input kernel 3x8 and recurrent kernel 2x8
    assert profile.multiply_adds(model) == 7 * (3 * 8 + 2 * 8)


def test_multiply_adds_of_a_masked_recurrent_layer():
    # a mask from the embedding makes the layer's input a list (sequence, mask)
    model = keras.Sequential(
        [
            keras.Input((7,), dtype="int64"),
            keras.layers.Embedding(10, 3, mask_zero=True),
            keras.layers.LSTM(2),
        ]
    )
    assert profile.multiply_adds(model) == 7 * (3 * 8 + 2 * 8)


def test_summary_separates_the_first_epochs_fixed_cost():
    epoch = {"steps": 10, "first_step_s": 0.01, "train_s": 1.0, "rest_s": 0.2}
    first = {**epoch, "first_step_s": 3.0, "train_s": 4.0, "rest_s": 0.7}
    got = profile.summary(
        {"samples": 640, "macs": 1000, "epochs": [first, epoch, epoch]}
    )
    assert got["fixed_s"] == pytest.approx(3.0 + 0.5)
    assert got["samples_per_s"] == pytest.approx(640.0)
    assert got["flops"] == pytest.approx(6 * 1000 * 640)


def test_a_fit_outside_a_stored_training_is_not_timed():
    assert profile.timer(keras.Sequential([keras.Input((2,))]), 4) is None
    with profile.collecting() as fits:
        assert profile.timer(keras.Sequential([keras.Input((2,))]), 4) is not None
    assert fits == []  # a timer only records once Keras starts its fit


def test_the_journal_keeps_each_fits_epochs_of_a_training_that_ran(
    tmp_path, monkeypatch
):
    import numpy as np

    from dlbook import training
    from dlbook.training import store

    monkeypatch.setenv("DLBOOK_STORE", str(tmp_path))
    monkeypatch.delenv("DLBOOK_RETRAIN", raising=False)

    def model():
        training.reseed(1)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    x, y = np.ones((40, 3), "float32"), np.zeros((40, 2), "float32")
    training.fit(model(), (x, y), loss="mse", epochs=3, batch_size=8)
    training.fit(model(), (x, y), loss="mse", epochs=3, batch_size=8)  # a hit
    ran, hit = store.read_journal(tmp_path)
    (fit,) = ran["fits"]
    assert fit["samples"] == 40 and fit["macs"] == 6
    assert [e["steps"] for e in fit["epochs"]] == [5, 5, 5]
    assert hit["restored"] and hit["fits"] == []
