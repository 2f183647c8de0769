"""Depthwise separable convolution: parameter and multiply-add arithmetic, and timing.

A ``SeparableConv2D`` replaces one k x k x C_in x C_out convolution by a k x k
depthwise convolution per input channel followed by a 1x1 pointwise convolution.
Used by ``docs/separable.md``.
"""

from __future__ import annotations

import time

import numpy as np

from dlbook.base.validate import integer, positive_int


def conv2d_params(kernel: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Weights of a ``Conv2D``: one k x k x C_in kernel per output channel (+ biases)."""
    kernel, c_in, c_out = (
        positive_int(n, v)
        for n, v in (("kernel", kernel), ("c_in", c_in), ("c_out", c_out))
    )
    return kernel * kernel * c_in * c_out + (c_out if bias else 0)


def separable_params(
    kernel: int, c_in: int, c_out: int, depth_multiplier: int = 1, bias: bool = True
) -> int:
    """Weights of a ``SeparableConv2D``: k x k per input channel (depthwise), then a
    1 x 1 x (C_in * multiplier) kernel per output channel (pointwise), + biases."""
    kernel, c_in, c_out = (
        positive_int(n, v)
        for n, v in (("kernel", kernel), ("c_in", c_in), ("c_out", c_out))
    )
    depth_multiplier = positive_int("depth_multiplier", depth_multiplier)
    depthwise = kernel * kernel * c_in * depth_multiplier
    pointwise = c_in * depth_multiplier * c_out
    return depthwise + pointwise + (c_out if bias else 0)


def conv2d_mult_adds(out_h: int, out_w: int, kernel: int, c_in: int, c_out: int) -> int:
    """Multiply-adds of a ``Conv2D``: each output value is a k x k x C_in dot product."""
    return (
        positive_int("out_h", out_h)
        * positive_int("out_w", out_w)
        * (conv2d_params(kernel, c_in, c_out, bias=False))
    )


def separable_mult_adds(
    out_h: int,
    out_w: int,
    kernel: int,
    c_in: int,
    c_out: int,
    depth_multiplier: int = 1,
) -> int:
    """Multiply-adds of a ``SeparableConv2D``: k x k per channel, then 1 x 1 x C_in."""
    positions = positive_int("out_h", out_h) * positive_int("out_w", out_w)
    return positions * separable_params(
        kernel, c_in, c_out, depth_multiplier, bias=False
    )


def layer_costs(model):
    """Per layer: type, output shape, parameters by our formula and by Keras, and
    multiply-adds for one input image (conv and dense layers; others cost ~0)."""
    import pandas as pd

    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        out = tuple(layer.output.shape[1:])
        c_in = layer.input.shape[-1]
        ours, mult_adds = 0, 0
        if kind == "Conv2D":
            k = layer.kernel_size[0]
            ours = conv2d_params(k, c_in, layer.filters, layer.use_bias)
            mult_adds = conv2d_mult_adds(out[0], out[1], k, c_in, layer.filters)
        elif kind == "SeparableConv2D":
            k, m = layer.kernel_size[0], layer.depth_multiplier
            ours = separable_params(k, c_in, layer.filters, m, layer.use_bias)
            mult_adds = separable_mult_adds(out[0], out[1], k, c_in, layer.filters, m)
        elif kind == "Dense":
            ours = c_in * layer.units + (layer.units if layer.use_bias else 0)
            mult_adds = c_in * layer.units
        rows.append(
            {
                "layer": layer.name,
                "type": kind,
                "output": "x".join(map(str, out)),
                "params (dlbook)": ours,
                "params (Keras)": layer.count_params(),
                "mult-adds": mult_adds,
            }
        )
    return pd.DataFrame(rows)


def median_latency(model, x: np.ndarray, repeats: int = 30, warmup: int = 3) -> float:
    """Median wall time, in seconds, of one compiled forward pass on ``x``."""
    import tensorflow as tf

    positive_int("repeats", repeats)
    integer("warmup", warmup, minimum=0)
    forward = tf.function(lambda batch: model(batch, training=False))
    batch = tf.constant(x)
    for _ in range(warmup):
        forward(batch).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(batch).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def layer_speed_sweep(
    channels=(8, 32, 128), size: int = 32, batch: int = 32, repeats: int = 20
):
    """Median time of one 3x3 ``Conv2D`` vs one ``SeparableConv2D`` layer (C -> C
    channels, ``size`` x ``size`` maps) and their multiply-add ratio, per channel count.

    Measured speed-ups are written with a trailing ``×`` (volatile, sanitized by the
    page validation); ``table.attrs["speedups"]`` holds them as numbers.
    """
    import keras
    import pandas as pd

    channels = [positive_int("channels", c) for c in channels]
    size, batch = positive_int("size", size), positive_int("batch", batch)
    repeats = positive_int("repeats", repeats)
    rows, speedups = [], []
    for c in channels:
        x = np.random.default_rng(0).random((batch, size, size, c), dtype=np.float32)
        timings = {}
        for kind in (keras.layers.Conv2D, keras.layers.SeparableConv2D):
            layer = keras.Sequential(
                [keras.Input((size, size, c)), kind(c, 3, padding="same")]
            )
            timings[kind.__name__] = median_latency(layer, x, repeats=repeats)
        ratio = conv2d_mult_adds(size, size, 3, c, c) / separable_mult_adds(
            size, size, 3, c, c
        )
        speedups.append(timings["Conv2D"] / timings["SeparableConv2D"])
        rows.append(
            {
                "channels": c,
                "Conv2D": f"{timings['Conv2D'] * 1e3:.2f} ms",
                "SeparableConv2D": f"{timings['SeparableConv2D'] * 1e3:.2f} ms",
                "measured speed-up": f"{speedups[-1]:.1f}×",
                "mult-add ratio": round(ratio, 1),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["speedups"] = speedups  # as numbers, for checks
    return table
