"""Depthwise separable convolution: parameter and multiply-add arithmetic, and timing.

A ``SeparableConv2D`` replaces one k x k x C_in x C_out convolution by a k x k
depthwise convolution per input channel followed by a 1x1 pointwise convolution.
Used by ``docs/separable.md``.
"""

from __future__ import annotations

import time

import numpy as np

from dlbook.base.seeding import reseed
from dlbook.base.validate import integer, positive_int, positive_number


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
        elif kind == "DepthwiseConv2D":
            k, m = layer.kernel_size[0], layer.depth_multiplier
            ours = k * k * c_in * m + (c_in * m if layer.use_bias else 0)
            mult_adds = out[0] * out[1] * k * k * c_in * m
        elif kind == "BatchNormalization":  # scale, offset, moving mean and variance
            ours = 4 * c_in  # its multiply-adds fold into the layer before it
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


def mobilenet_style_convnet(
    width: float = 1.0,
    seed: int | None = None,
    input_shape=(28, 28, 1),
    classes: int = 10,
):
    """The digit convnet of :func:`dlbook.convnets.mnist_convnet` with
    ``conv="separable"``, but each separable layer split MobileNet's way: a 3x3
    ``DepthwiseConv2D`` (no bias), batch normalization and a ReLU, then the 1x1
    pointwise ``Conv2D`` with its ReLU. ``width`` is MobileNet's width multiplier
    alpha: every layer's channel count (32, 64, 128) is multiplied by it."""
    import keras
    from keras import layers

    positive_number("width", width)
    classes = positive_int("classes", classes)
    reseed(seed)
    first, second, third = (max(1, round(width * c)) for c in (32, 64, 128))
    stack = [
        keras.Input(tuple(input_shape)),
        layers.Conv2D(first, 3, activation="relu", name="conv1"),
    ]
    for index, channels in ((2, second), (3, third)):
        stack.append(layers.MaxPooling2D(2, name=f"pool{index - 1}"))
        stack += [
            layers.DepthwiseConv2D(3, use_bias=False, name=f"conv{index}_depthwise"),
            layers.BatchNormalization(name=f"conv{index}_norm"),
            layers.ReLU(name=f"conv{index}_relu"),
            layers.Conv2D(
                channels, 1, activation="relu", name=f"conv{index}_pointwise"
            ),
        ]
    return keras.Sequential(
        [
            *stack,
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(classes, activation="softmax"),
        ],
        name=f"mobilenet_style_{width:g}",
    )


def draw_decomposition(c_in: int = 3, c_out: int = 4, kernel: int = 3):
    """Diagram: a ``Conv2D`` (top) and the same mapping split into a depthwise and a
    pointwise step (bottom), feature maps drawn as stacks of channels, with each
    version's weight count (biases left out)."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from dlbook.book.plotting import PALETTE, figure

    c_in, c_out = positive_int("c_in", c_in), positive_int("c_out", c_out)
    kernel = positive_int("kernel", kernel)
    if c_in > 6 or c_out > 6:
        raise ValueError(
            f"c_in and c_out must be at most 6 to draw, got {c_in}, {c_out}"
        )
    fig, axes = figure(1, 1, width=9.6, height=4.4)
    ax = axes[0, 0]
    ax.set_xlim(-0.6, 12.2)
    ax.set_ylim(-1.3, 5.2)
    ax.axis("off")
    ins = [PALETTE[i % len(PALETTE)] for i in range(c_in)]
    outs = ["0.55", "0.4", "0.7", "0.25", "0.85", "0.5"][:c_out]

    def stack(x, y, colours, size):
        """Channels as squares, each a little behind and above the one before."""
        step = 0.16 * size
        for i, colour in reversed(list(enumerate(colours))):
            ax.add_patch(
                Rectangle(
                    (x + i * step, y + i * step), size, size, fc=colour, ec="black"
                )
            )

    def column(x, y, colours, size):
        """A 1 x 1 x C kernel: one weight per channel, drawn as a column."""
        for i, colour in enumerate(colours):
            ax.add_patch(
                Rectangle((x, y + i * size), size, size, fc=colour, ec="black")
            )

    def arrow(x0, x1, y):
        ax.add_patch(
            FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=14)
        )

    dense = conv2d_params(kernel, c_in, c_out, bias=False)
    split = separable_params(kernel, c_in, c_out, bias=False)
    # Conv2D: every output channel from a k x k x C_in kernel
    top = 3.0
    ax.text(-0.5, top + 1.9, f"Conv2D: {dense} weights", fontsize=11, weight="bold")
    stack(0, top, ins, 1.0)
    arrow(1.5, 3.3, top + 0.5)
    for j in range(c_out):
        stack(3.5 + j * 0.85, top + 0.2, ins, 0.5)
    ax.text(
        3.5,
        top - 0.2,
        f"{c_out} kernels of {kernel}x{kernel}x{c_in}",
        fontsize=9,
        va="top",
    )
    arrow(3.5 + c_out * 0.85 + 0.2, 9.8, top + 0.5)
    stack(10.0, top, outs, 1.0)
    # separable: depthwise (one k x k kernel per channel), then pointwise (1 x 1 x C_in)
    bottom = 0.0
    ax.text(
        -0.5,
        bottom + 1.9,
        f"SeparableConv2D: {kernel * kernel * c_in} + {c_in * c_out} = {split} weights",
        fontsize=11,
        weight="bold",
    )
    stack(0, bottom, ins, 1.0)
    arrow(1.5, 2.3, bottom + 0.5)
    for j in range(c_in):
        stack(2.5 + j * 0.7, bottom + 0.25, [ins[j]], 0.5)
    ax.text(
        2.5,
        bottom - 0.2,
        f"depthwise: {c_in} of {kernel}x{kernel}x1",
        fontsize=9,
        va="top",
    )
    arrow(2.5 + c_in * 0.7, 5.3, bottom + 0.5)
    stack(5.5, bottom, ins, 1.0)
    arrow(7.0, 7.6, bottom + 0.5)
    for j in range(c_out):
        column(7.8 + j * 0.45, bottom + 0.5 - c_in * 0.1, ins, 0.2)
    ax.text(
        7.8, bottom - 0.2, f"pointwise: {c_out} of 1x1x{c_in}", fontsize=9, va="top"
    )
    arrow(7.8 + c_out * 0.45 + 0.1, 9.8, bottom + 0.5)
    stack(10.0, bottom, outs, 1.0)
    ax.text(0.6, -0.9, f"{c_in} input channels", ha="center", fontsize=9)
    ax.text(6.1, -0.9, f"{c_in} channels, mixed in space only", ha="center", fontsize=9)
    ax.text(10.6, -0.9, f"{c_out} output channels", ha="center", fontsize=9)
    return fig
