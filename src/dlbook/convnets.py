"""Convolutional networks: the mechanics, the MNIST convnet, what its layers learn.

Used by ``docs/convnets.md`` (mechanics, training, the notes' claims); the trained
network is reused by ``docs/convnet_internals.md`` (whose own tools are in
:mod:`dlbook.convnet_internals`), ``docs/separable.md`` and ``docs/transfer.md``.
"""

from __future__ import annotations

import math

import numpy as np

from dlbook import data, training
from dlbook.base.seeding import reseed
from dlbook.base.validate import integer, positive_int, positive_number

PADDINGS = ("valid", "same")


# --- mechanics ---------------------------------------------------------------------


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: str = "valid"
) -> int:
    """Output length of a convolution or pooling window along one axis.

    ``valid``: the window stays inside the input, ``floor((size - kernel) / stride) + 1``.
    ``same``: the input is zero-padded so that ``ceil(size / stride)`` windows fit.
    """
    size, kernel = positive_int("size", size), positive_int("kernel", kernel)
    stride = positive_int("stride", stride)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "same":
        return math.ceil(size / stride)
    if kernel > size:
        raise ValueError(
            f"kernel ({kernel}) must not exceed size ({size}) with 'valid' padding"
        )
    return (size - kernel) // stride + 1


def keras_output_size(
    size: int, kernel: int, stride: int = 1, padding: str = "valid"
) -> int:
    """The same number as Keras reports it: run a ``Conv2D`` on a zero image."""
    import keras

    size, kernel = positive_int("size", size), positive_int("kernel", kernel)
    stride = positive_int("stride", stride)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")

    layer = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding)
    return int(layer(np.zeros((1, size, size, 1), np.float32)).shape[1])


def output_size_table(
    size: int = 28, kernels=(3, 5), strides=(1, 2), paddings=PADDINGS
):
    """Output sizes for every kernel/stride/padding choice, by formula and by Keras."""
    import pandas as pd

    rows = []
    for kernel in kernels:
        for stride in strides:
            for padding in paddings:
                ours = conv_output_size(size, kernel, stride, padding)
                theirs = keras_output_size(size, kernel, stride, padding)
                rows.append(
                    {
                        "input": size,
                        "kernel": kernel,
                        "stride": stride,
                        "padding": padding,
                        "dlbook": ours,
                        "Keras Conv2D": theirs,
                        "agree": ours == theirs,
                    }
                )
    return pd.DataFrame(rows)


def cross_correlate(
    image: np.ndarray, kernel: np.ndarray, stride: int = 1
) -> np.ndarray:
    """What a ``Conv2D`` layer computes on one channel: slide ``kernel`` over ``image``
    (no padding) and take the sum of products at each position."""
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(
            f"image and kernel must be 2-D, got {image.shape} and {kernel.shape}"
        )
    rows = conv_output_size(image.shape[0], kernel.shape[0], stride)
    cols = conv_output_size(image.shape[1], kernel.shape[1], stride)
    height, width = kernel.shape
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = image[
                i * stride : i * stride + height, j * stride : j * stride + width
            ]
            out[i, j] = np.sum(window * kernel)
    return out


def max_pool(image: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Max-pooling of a 2-D (or 2-D x channels) array: the largest value of each window."""
    image = np.asarray(image)
    if image.ndim < 2:
        raise ValueError(f"image must be 2-D (or 2-D x channels), got {image.shape}")
    size = positive_int("size", size)
    stride = size if stride is None else positive_int("stride", stride)
    rows = conv_output_size(image.shape[0], size, stride)
    cols = conv_output_size(image.shape[1], size, stride)
    out = np.empty((rows, cols, *image.shape[2:]), image.dtype)
    for i in range(rows):
        for j in range(cols):
            window = image[
                i * stride : i * stride + size, j * stride : j * stride + size
            ]
            out[i, j] = window.max(axis=(0, 1))
    return out


def draw_convolution_step(
    axes, image: np.ndarray, kernel: np.ndarray, step: int
) -> None:
    """Draw input (window highlighted), kernel and the output filled up to ``step``."""
    from matplotlib.patches import Rectangle

    output = cross_correlate(image, kernel)
    if integer("step", step) not in range(output.size):
        raise ValueError(f"step must be in 0..{output.size - 1}, got {step}")
    i, j = divmod(step, output.shape[1])
    shown = np.full(output.shape, np.nan)
    shown.flat[: step + 1] = output.flat[: step + 1]
    k = kernel.shape[0]
    panels = [(image, "input"), (kernel, "kernel"), (shown, "output")]
    for ax, (values, title) in zip(axes, panels, strict=True):
        ax.clear()
        scale = output if title == "output" else values
        ax.imshow(values, cmap="Blues", vmin=scale.min(), vmax=scale.max())
        for (r, c), value in np.ndenumerate(values):
            if not np.isnan(value):
                ax.text(c, r, f"{value:g}", ha="center", va="center", fontsize=8)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    axes[0].add_patch(
        Rectangle((j - 0.5, i - 0.5), k, k, fill=False, lw=2.5, ec="#D55E00")
    )
    axes[2].add_patch(
        Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.5, ec="#D55E00")
    )
    pairs = zip(image[i : i + k, j : j + k].ravel(), kernel.ravel(), strict=True)
    total = " + ".join(f"{a:g}·{b:g}" for a, b in pairs if a and b)
    axes[1].set_xlabel(f"output[{i}, {j}] = {output[i, j]:g}", fontsize=9)
    axes[0].set_xlabel(total or "0", fontsize=7)


def convolution_animation(image: np.ndarray, kernel: np.ndarray, interval: int = 700):
    """A matplotlib animation of ``kernel`` sliding over ``image``, filling the output."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    from dlbook.book.plotting import figure

    steps = cross_correlate(image, kernel).size  # checks both, before a figure opens
    positive_int("interval", interval)
    fig, axes = figure(1, 3, width=8, height=3.0)

    def draw(step):
        draw_convolution_step(axes[0], image, kernel, step)

    animation = FuncAnimation(fig, draw, frames=steps, interval=interval)
    plt.close(fig)  # show the animation, not a stray still
    return animation


# --- data and models ---------------------------------------------------------------


def mnist_convnet(
    downsampling: str = "maxpool",
    augment: bool = False,
    conv: str = "conv",
    name: str = "",
    seed: int | None = None,
    input_shape=(28, 28, 1),
    classes: int = 10,
    filters=(32, 64, 128),
):
    """The book's MNIST convnet: three 3x3 conv layers (32, 64, 128 filters), then a
    softmax over 10 digits. ``input_shape``, ``classes`` and ``filters`` fit it to
    other images (docs/transfer.md uses half the filters on 25x25 faces).

    ``downsampling="maxpool"`` puts 2x2 max-pooling after the first two conv layers;
    ``"strided"`` drops the pooling and gives the next conv layer stride 2 instead (the
    notes' two options). ``conv="separable"`` uses ``SeparableConv2D`` after the first
    layer (``docs/separable.md``). ``augment`` adds random shifts and rotations, active
    in training only. With ``seed``, Keras is re-seeded first, so the same call gives
    the same initial weights (and training randomness) on any page, in any order.
    """
    import keras
    from keras import layers

    reseed(seed)
    if downsampling not in ("maxpool", "strided"):
        raise ValueError(
            f"downsampling must be 'maxpool' or 'strided', got {downsampling!r}"
        )
    if conv not in ("conv", "separable"):
        raise ValueError(f"conv must be 'conv' or 'separable', got {conv!r}")
    if len(filters) != 3:
        raise ValueError(f"filters must give three layer widths, got {filters!r}")
    first, *others = (positive_int("filters", f) for f in filters)
    later = layers.SeparableConv2D if conv == "separable" else layers.Conv2D
    stack = [layers.Conv2D(first, 3, activation="relu", name="conv1")]
    for index, width in zip((2, 3), others, strict=True):
        if downsampling == "maxpool":
            stack.append(layers.MaxPooling2D(2, name=f"pool{index - 1}"))
            stack.append(later(width, 3, activation="relu", name=f"conv{index}"))
        else:
            stack.append(
                later(width, 3, strides=2, activation="relu", name=f"conv{index}")
            )
    augmentation = [
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="shift"),
        layers.RandomRotation(0.05, fill_mode="constant", name="rotate"),
    ]
    classes = positive_int("classes", classes)
    head = [
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(classes, activation="softmax"),
    ]
    return keras.Sequential(
        [
            keras.Input(tuple(input_shape)),
            *(augmentation if augment else []),
            *stack,
            *head,
        ],
        name=name or f"convnet_{downsampling}_{conv}",
    )


def mnist_dense(hidden: int = 128, seed: int | None = None):
    """A dense network of about the convnet's size (784 -> ``hidden`` -> 10)."""
    import keras
    from keras import layers

    reseed(seed)
    stack = [
        layers.Flatten(),
        layers.Dense(positive_int("hidden", hidden), activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
    return keras.Sequential([keras.Input((28, 28, 1)), *stack], name="dense")


# --- translation --------------------------------------------------------------------


def shift(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move images ``dx`` pixels right and ``dy`` down (negative: left/up), zero fill."""
    dx, dy = integer("dx", dx), integer("dy", dy)
    images = np.asarray(images)
    if images.ndim < 3:
        raise ValueError(
            f"images must be (count, height, width[, channels]), got {images.shape}"
        )
    height, width = images.shape[1:3]
    if abs(dx) >= width or abs(dy) >= height:
        raise ValueError(
            f"shift ({dx}, {dy}) must be smaller than the image ({width}x{height})"
        )
    out = np.zeros_like(images)
    src_y, dst_y = (
        slice(max(-dy, 0), height - max(dy, 0)),
        slice(max(dy, 0), height - max(-dy, 0)),
    )
    src_x, dst_x = (
        slice(max(-dx, 0), width - max(dx, 0)),
        slice(max(dx, 0), width - max(-dx, 0)),
    )
    out[:, dst_y, dst_x] = images[:, src_y, src_x]
    return out


def shift_accuracy(model, x: np.ndarray, y: np.ndarray, max_shift: int) -> list[float]:
    """Test accuracy with digits moved 0..``max_shift`` pixels, averaged over the four
    directions (right, left, down, up)."""
    integer("max_shift", max_shift, minimum=0)
    scores = [training.accuracy(model, x, y)]
    for k in range(1, max_shift + 1):
        moved = [shift(x, dx, dy) for dx, dy in ((k, 0), (-k, 0), (0, k), (0, -k))]
        scores.append(float(np.mean([training.accuracy(model, m, y) for m in moved])))
    return scores


# --- looking inside -----------------------------------------------------------------


def trace_layer(model, name: str):
    """Rebuild a Sequential ``model`` functionally on a new input and return
    ``(inputs, output of its layer name, output)``: ``keras.Model(inputs, inner)``
    then reads that layer's feature maps (also on docs/convnet_internals.md)."""
    import keras

    inputs = keras.Input(model.inputs[0].shape[1:])
    x, inner = inputs, None
    for layer in model.layers:
        x = layer(x)
        if layer.name == name:
            inner = x
    if inner is None:
        names = [layer.name for layer in model.layers]
        raise ValueError(f"layer must be one of {names}, got {name!r}")
    return inputs, inner, x


def receptive_field(model) -> dict[str, int]:
    """Side of the input square each conv layer's unit sees, layer by layer.

    Grows by ``(kernel - 1) * jump`` per conv or pooling layer, where ``jump`` is the
    product of the strides so far.
    """
    size, jump, fields = 1, 1, {}
    for layer in model.layers:
        kernel = getattr(layer, "kernel_size", None) or getattr(
            layer, "pool_size", None
        )
        if kernel is None:
            continue
        size += (kernel[0] - 1) * jump
        jump *= layer.strides[0]
        if "conv" in type(layer).__name__.lower():
            fields[layer.name] = size
    return fields


def linear_probe(
    model,
    splits: data.Splits,
    train_size: int = 2000,
    grid: int | None = 1,
    standardize: bool = False,
    include_input: bool = False,
) -> dict[str, float]:
    """Test accuracy of a logistic regression on each conv layer's features: how
    directly a layer's features name the digit. By default the features are averaged
    over space (``grid=1``); see :func:`probe_predictions` for the options."""
    predictions = probe_predictions(
        model, splits, train_size, grid, standardize, include_input
    )
    return {
        name: float(np.mean(predicted == np.asarray(splits.test[1])))
        for name, predicted in predictions.items()
    }


def pool_to_grid(maps, grid: int) -> np.ndarray:
    """Average ``(n, height, width, channels)`` maps over a ``grid`` x ``grid`` of
    nearly equal cells (neighbouring cells share a row or column where the size does
    not divide): ``(n, grid, grid, channels)``."""
    from dlbook.base import validate

    maps = validate.array("maps", maps, ndim=4)
    grid = positive_int("grid", grid)
    height, width = maps.shape[1:3]
    if grid > min(height, width):
        raise ValueError(f"grid must be at most {min(height, width)}, got {grid}")

    def edges(size):
        return [(i * size // grid, -(-(i + 1) * size // grid)) for i in range(grid)]

    return np.stack(
        [
            np.stack(
                [maps[:, r0:r1, c0:c1].mean(axis=(1, 2)) for c0, c1 in edges(width)], 1
            )
            for r0, r1 in edges(height)
        ],
        1,
    )


def probe_predictions(
    model,
    splits: data.Splits,
    train_size: int = 2000,
    grid: int | None = 1,
    standardize: bool = False,
    include_input: bool = False,
) -> dict[str, np.ndarray]:
    """Test-digit predictions of a logistic regression fitted, on the first
    ``train_size`` training digits, to each conv layer's feature maps: averaged over
    space (``grid=1``), over a ``grid`` x ``grid`` of cells (:func:`pool_to_grid`), or
    all of them (``grid=None``). ``standardize`` scales each feature to zero mean and
    unit variance on the training digits (the solver converges far faster on many
    features); ``include_input`` adds the pixels themselves, pooled the same way, as
    ``"input"``."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_size = positive_int("train_size", train_size)
    if grid is not None:
        grid = positive_int("grid", grid)
    if not all(hasattr(splits, part) for part in ("train", "val", "test")):
        raise ValueError(
            f"splits must have train, val and test parts, got {splits!r:.60}"
        )
    x_train, y_train = splits.train[0][:train_size], splits.train[1][:train_size]
    x_test = splits.test[0]

    def flat(maps):
        maps = maps if grid is None else pool_to_grid(maps, grid)
        return maps.reshape(len(maps), -1)

    features = {}
    if include_input:
        features["input"] = (flat(np.asarray(x_train)), flat(np.asarray(x_test)))
    for name in conv_layer_names(model):
        inputs, inner, _ = trace_layer(model, name)
        if grid == 1:  # the global average inside the graph
            pooled = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inner))
            features[name] = (
                training.predict(pooled, x_train),
                training.predict(pooled, x_test),
            )
        else:
            maps = keras.Model(inputs, inner)
            features[name] = (
                flat(training.predict(maps, x_train)),
                flat(training.predict(maps, x_test)),
            )
    predictions = {}
    for name, (train_features, test_features) in features.items():
        if standardize:
            scaler = StandardScaler()
            train_features = scaler.fit_transform(train_features)
            test_features = scaler.transform(test_features)
        probe = LogisticRegression(max_iter=2000).fit(train_features, y_train)
        predictions[name] = probe.predict(test_features)
    return predictions


def conv_layer_names(model) -> list[str]:
    return [
        layer.name for layer in model.layers if "conv" in type(layer).__name__.lower()
    ]


def filter_patterns(
    model, layer: str, filters, steps: int = 60, step_size: float = 0.05
):
    """Inputs that excite each filter most, found by gradient ascent in input space.

    Starts from a flat grey image with a little noise and climbs the mean activation of
    the filter with RMS-normalised steps, keeping pixels in [0, 1] like real digits.
    Returns one image per filter.
    """
    import keras
    import tensorflow as tf

    steps = positive_int("steps", steps)
    positive_number("step_size", step_size)
    filters = [integer("filters", index, minimum=0) for index in filters]
    inputs, inner, _ = trace_layer(model, layer)
    extractor = keras.Model(inputs, inner)
    shape = (1, *model.inputs[0].shape[1:])
    patterns = []
    for index in filters:
        image = tf.Variable(0.5 + 0.01 * tf.random.normal(shape))
        for _ in range(steps):
            with tf.GradientTape() as tape:
                activation = tf.reduce_mean(
                    extractor(image, training=False)[..., index]
                )
            gradient = tape.gradient(activation, image)
            rms = tf.sqrt(tf.reduce_mean(tf.square(gradient))) + 1e-8
            image.assign(tf.clip_by_value(image + step_size * gradient / rms, 0.0, 1.0))
        patterns.append(image.numpy()[0, ..., 0])
    return np.stack(patterns)


def responsive_filters(model, layer: str, count: int = 8) -> list[int]:
    """The first ``count`` filters of ``layer`` that respond to a flat grey image:
    a filter silent there (ReLU at zero) has no gradient to climb from it."""
    import keras

    count = positive_int("count", count)
    inputs, inner, _ = trace_layer(model, layer)
    grey = np.full((1, *model.inputs[0].shape[1:]), 0.5, np.float32)
    response = np.asarray(keras.Model(inputs, inner)(grey, training=False)).mean(
        axis=(0, 1, 2)
    )
    return [int(i) for i in np.flatnonzero(response > 0)[:count]]
