import keras
import numpy as np
import pytest

from dlbook import separable


@pytest.mark.parametrize(
    ("k", "c_in", "c_out", "m"), [(3, 32, 64, 1), (5, 3, 16, 2), (1, 8, 8, 1)]
)
def test_param_formulas_match_keras(k, c_in, c_out, m):
    conv = keras.layers.Conv2D(c_out, k)
    conv.build((None, 16, 16, c_in))
    sep = keras.layers.SeparableConv2D(c_out, k, depth_multiplier=m)
    sep.build((None, 16, 16, c_in))
    assert separable.conv2d_params(k, c_in, c_out) == conv.count_params()
    assert separable.separable_params(k, c_in, c_out, m) == sep.count_params()


def test_mult_adds_by_hand():
    # 3x3 conv, 2 -> 4 channels, 5x5 output: 25 positions x 3*3*2*4 products
    assert separable.conv2d_mult_adds(5, 5, 3, 2, 4) == 25 * 72
    # separable: 25 x (3*3*2 depthwise + 2*4 pointwise)
    assert separable.separable_mult_adds(5, 5, 3, 2, 4) == 25 * (18 + 8)


def test_layer_costs_agree_with_keras_on_the_book_network():
    from dlbook.convnets import mnist_convnet

    for conv in ("conv", "separable"):
        table = separable.layer_costs(mnist_convnet(conv=conv))
        assert (table["params (dlbook)"] == table["params (Keras)"]).all()
    assert table["mult-adds"].sum() == 194_688 + 282_656 + 78_912 + 11_520


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: separable.conv2d_params(0, 3, 3), "kernel"),
        (
            lambda: separable.separable_params(3, 3, 3, depth_multiplier=0),
            "depth_multiplier",
        ),
        (lambda: separable.conv2d_mult_adds(-1, 5, 3, 3, 3), "out_h"),
        (lambda: separable.median_latency(None, np.zeros(1), repeats=0), "repeats"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_median_latency_is_positive_and_sweep_has_numbers():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert separable.median_latency(model, np.zeros((3, 4), np.float32), repeats=3) > 0
    sweep = separable.layer_speed_sweep(channels=(4,), size=8, batch=2, repeats=2)
    assert sweep.loc[0, "mult-add ratio"] == round(
        144 / 52, 1
    )  # 3*3*4*4 / (3*3*4 + 4*4)
    assert len(sweep.attrs["speedups"]) == 1 and sweep.attrs["speedups"][0] > 0


def test_mobilenet_style_network_counts_and_width_multiplier():
    model = separable.mobilenet_style_convnet(seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("DepthwiseConv2D") == kinds.count("BatchNormalization") == 2
    table = separable.layer_costs(model)
    assert (table["params (dlbook)"] == table["params (Keras)"]).all()
    depthwise = table[table["type"] == "DepthwiseConv2D"].iloc[0]
    assert (
        depthwise["mult-adds"] == 11 * 11 * 9 * 32
    )  # 11x11 positions, 3x3, 32 channels
    half = separable.layer_costs(separable.mobilenet_style_convnet(0.5, seed=0))
    assert half["type"].tolist() == table["type"].tolist()
    ratio = half["mult-adds"].sum() / table["mult-adds"].sum()
    assert 0.25 < ratio < 0.5
    out = np.asarray(model(np.zeros((2, 28, 28, 1), "float32"), training=False))
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_decomposition_diagram_states_both_weight_counts():
    fig = separable.draw_decomposition(c_in=3, c_out=4, kernel=3)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Conv2D: 108 weights" in texts
    assert "SeparableConv2D: 27 + 12 = 39 weights" in texts
