"""The extra readers of word indices: a bidirectional GRU and a multi-width 1D convnet."""

import numpy as np
import pytest

from dlbook import text


def test_multi_width_conv1d_has_one_branch_per_width():
    import keras

    embedding = keras.layers.Embedding(30, 4)
    model = text.multi_width_conv1d(embedding, length=9, units=3, widths=(2, 3, 4))
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv1D"]
    assert sorted(c.kernel.shape[0] for c in convs) == [2, 3, 4]
    # three branches of 3 filters joined side by side before the output
    assert model.layers[-1].input.shape[-1] == 9
    out = model.predict(np.ones((2, 9), dtype=np.int64), verbose=0)
    assert out.shape == (2, 1) and ((out > 0) & (out < 1)).all()


def test_multi_width_conv1d_rejects_bad_widths():
    import keras

    with pytest.raises(ValueError, match="widths"):
        text.multi_width_conv1d(keras.layers.Embedding(5, 2), length=4, widths=())
    with pytest.raises(ValueError, match="widths"):
        text.multi_width_conv1d(keras.layers.Embedding(5, 2), length=4, widths=(3, 6))


def test_bidirectional_gru_reads_both_ways_and_masks_padding():
    from keras import layers

    model = text.text_classifier("bidirectional GRU", 40, 6, embed_dim=4, units=3)
    wrapped = [
        layer for layer in model.layers if isinstance(layer, layers.Bidirectional)
    ]
    assert len(wrapped) == 1 and wrapped[0].forward_layer.go_backwards is False
    assert wrapped[0].backward_layer.go_backwards is True
    assert model.layers[0].mask_zero  # padding does not reach either direction
    # the padding's vector does not reach the output in either direction
    short = np.array([[5, 7, 9, 0, 0, 0]])
    before = np.asarray(model(short))
    table = model.layers[0].embeddings
    weights = np.asarray(table).copy()
    weights[0] = 5.0
    table.assign(weights)
    assert np.allclose(model(short), before)
    weights[5] = 5.0  # while a real word's vector does
    table.assign(weights)
    assert not np.allclose(model(short), before)


def test_more_sequence_kinds_train_on_word_indices():
    rng = np.random.default_rng(0)
    x = rng.integers(2, 30, size=(64, 8)).astype(np.int64)
    y = (x[:, 0] > 15).astype(np.int64)
    for kind in text.MORE_SEQUENCE_KINDS:
        fit = text.fit_text_classifier(
            kind, (x, y), (x[:16], y[:16]), (x[:16], y[:16]), 30, epochs=1, patience=1
        )
        assert fit.kind == kind and fit.test_right.shape == (16,) and fit.params > 0
    width, (encoded,) = text.encode_for("multi-width conv1d", ["good film"], length=5)
    assert encoded.shape == (1, 5) and width > 2


def test_rise_windows_label_the_direction_without_the_level():
    from dlbook import series_direction

    series = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 5.0])
    w = series_direction.rise_windows(series, lookback=2, horizon=2)
    # windows end at 2.0, 3.0, 2.0; the values 2 steps later are 2.0, 1.0, 5.0
    assert list(w.y) == [0, 0, 1]
    assert np.allclose(w.x[:, :, 0], [[-1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    assert list(w.target_index) == [3, 4, 5]


def test_direction_classifiers_train_through_the_core():
    from dlbook import forecasting, series_direction

    t = np.arange(300, dtype=np.float32)
    w = series_direction.rise_windows(np.sin(t / 8), lookback=12, horizon=3)
    train, val, test = forecasting.split_by_time(w, len(t))
    for kind in series_direction.DIRECTION_KINDS:
        fit = series_direction.fit_direction(kind, train, val, test, epochs=1)
        assert fit["kind"] == kind and fit["test_right"].shape == test.y.shape
        assert 0 <= fit["val_accuracy"] <= 1
