"""Keras' functional API: models that are not a stack of layers, each trained on digits.

Several inputs (an image and a query, matched by name), several outputs (a digit, its
ink, its parity, with weighted losses), a shared layer (a siamese network on pairs),
residual connections (a deep plain stack against the same stack with shortcuts), the
same network written three ways, and a drawing of any model's graph that needs no
Graphviz. Used by ``docs/functional.md``.
"""

from __future__ import annotations

import numpy as np

from dlbook.base import validate
from dlbook.base.seeding import rng
from dlbook.base.validate import positive_int

# --- data -----------------------------------------------------------------------------


def _image_shape(image_shape) -> tuple[int, int, int]:
    """``image_shape`` if it is three positive sizes ``(height, width, channels)``."""
    if not isinstance(image_shape, tuple | list) or len(image_shape) != 3:
        raise ValueError(
            f"image_shape must be (height, width, channels), got {image_shape!r}"
        )
    return tuple(positive_int("image_shape", size) for size in image_shape)


def flat_digits(splits):
    """The digits of a :func:`dlbook.data.mnist_splits` as flat ``(n, 784)`` rows."""
    if not all(hasattr(splits, part) for part in ("train", "val", "test")):
        raise ValueError(
            f"splits must have train, val and test parts, got {splits!r:.60}"
        )
    return {
        part: (x.reshape(len(x), -1), y)
        for part, (x, y) in zip(
            ("train", "val", "test"),
            (splits.train, splits.val, splits.test),
            strict=True,
        )
    }


def query_task(images, labels, seed: int | None = None):
    """Inputs ``image`` and ``query`` (a one-hot digit) and the target "does the image
    show the queried digit?": half the queries are the true digit, half another one,
    so neither input alone can answer."""
    validate.same_length(images=images, labels=labels)
    labels = validate.labels("labels", labels, 10)
    generator = rng(seed)
    match = generator.permutation(np.arange(len(labels)) % 2).astype(bool)
    other = (labels + generator.integers(1, 10, size=len(labels))) % 10
    query = np.where(match, labels, other)
    x = {
        "image": np.asarray(images, np.float32),
        "query": np.eye(10, dtype=np.float32)[query],
    }
    return x, match.astype(np.float32)


def image_targets(images, labels) -> dict[str, np.ndarray]:
    """Three targets from each digit: its class, its ink (the mean pixel value, a
    regression target measured from the image itself) and whether it is even."""
    validate.same_length(images=images, labels=labels)
    images, labels = np.asarray(images), np.asarray(labels)
    ink = images.reshape(len(images), -1).mean(axis=1).astype(np.float32)
    return {"digit": labels, "ink": ink, "even": (labels % 2 == 0).astype(np.float32)}


def digit_pairs(images, labels, count: int, seed: int | None = None):
    """``count`` pairs of digits from ``images``, half of the same class and half of
    two different classes (label 1 = same). Pairs are drawn within the given images
    only: pairs made from a test split never share an image with training pairs."""
    images, labels = np.asarray(images), np.asarray(labels)
    count = positive_int("count", count)
    if len(images) != len(labels) or len(np.unique(labels)) < 2:
        raise ValueError("images and labels must match and hold at least two classes")
    generator = rng(seed)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    classes = np.array(sorted(by_class))
    same = np.arange(count) % 2 == 0
    left, right = np.empty(count, int), np.empty(count, int)
    for i in range(count):
        a = generator.choice(classes)
        b = a if same[i] else generator.choice(classes[classes != a])
        left[i], right[i] = generator.choice(by_class[a]), generator.choice(by_class[b])
    pairs = {"left": images[left], "right": images[right]}
    return pairs, same.astype(np.float32)


# --- models ---------------------------------------------------------------------------


def conv_features(image):
    """The small convnet every digit model of this page starts with, applied to the
    tensor ``image``: two 3x3 conv layers (16, 32 filters), each followed by 2x2
    max-pooling, then flattened."""
    from keras import layers

    shape = validate.static_shape(image)
    if image is None or (shape is not None and len(shape) != 4):
        raise ValueError(
            f"image must be a tensor (batch, height, width, channels), got shape {shape}"
        )
    x = layers.Conv2D(16, 3, activation="relu")(image)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    return layers.Flatten()(x)


def query_model(image_shape=(28, 28, 1)):
    """Two inputs merged: a small convnet reads the ``image``, a Dense layer reads the
    ``query``; their features are concatenated and a sigmoid answers "is it that
    digit?"."""
    import keras
    from keras import layers

    image = keras.Input(_image_shape(image_shape), name="image")
    query = keras.Input((10,), name="query")
    x = conv_features(image)
    q = layers.Dense(16, activation="relu")(query)
    merged = layers.Concatenate()([x, q])
    hidden = layers.Dense(32, activation="relu")(merged)
    answer = layers.Dense(1, activation="sigmoid", name="answer")(hidden)
    return keras.Model({"image": image, "query": query}, answer, name="query_model")


def three_headed_model(image_shape=(28, 28, 1)):
    """One trunk, three outputs: ``digit`` (softmax over 10), ``ink`` (linear) and
    ``even`` (sigmoid), each with its own loss."""
    import keras
    from keras import layers

    image = keras.Input(_image_shape(image_shape), name="image")
    x = conv_features(image)
    x = layers.Dense(32, activation="relu")(x)
    outputs = {
        "digit": layers.Dense(10, activation="softmax", name="digit")(x),
        "ink": layers.Dense(1, name="ink")(x),
        "even": layers.Dense(1, activation="sigmoid", name="even")(x),
    }
    return keras.Model(image, outputs, name="three_heads")


def embedder(image_shape=(28, 28, 1), dim: int = 8):
    """The shared part of the siamese network: an image to ``dim`` numbers."""
    import keras
    from keras import layers

    image = keras.Input(_image_shape(image_shape))
    x = layers.Dense(32, activation="relu")(conv_features(image))
    embedding = layers.Dense(positive_int("dim", dim), name="embedding")(x)
    return keras.Model(image, embedding, name="embedder")


def siamese_model(image_shape=(28, 28, 1), dim: int = 8):
    """Shared layers: the *same* :func:`embedder` (one set of weights) reads both
    images; a sigmoid of the weighted squared differences between the two embeddings
    says "same digit" (symmetric: swapping the images changes nothing)."""
    import keras
    from keras import layers

    image_shape = _image_shape(image_shape)
    shared = embedder(image_shape, dim)
    left = keras.Input(image_shape, name="left")
    right = keras.Input(image_shape, name="right")
    difference = layers.Subtract()([shared(left), shared(right)])
    squared = layers.Multiply()([difference, difference])
    same = layers.Dense(1, activation="sigmoid", name="same")(squared)
    return keras.Model({"left": left, "right": right}, same, name="siamese")


def deep_stack(blocks: int, width: int = 32, residual: bool = False, inputs: int = 784):
    """A Dense ReLU layer, ``blocks`` blocks of two Dense layers of ``width`` units,
    then a softmax over 10 digits: ``2 * blocks + 2`` layers with weights.

    Plain blocks are two ReLU layers. Residual blocks add their input to what their
    two layers compute, ``x + W2 relu(W1 x)`` (He et al. 2016), with ``W2`` starting
    at zero so each block starts as the identity: with no normalisation layer the sum
    of a deep stack of unscaled branches blows up (the practice of Fixup and SkipInit).
    No BatchNormalization anywhere, so only the shortcut differs.
    """
    import keras
    from keras import layers

    blocks, width = positive_int("blocks", blocks), positive_int("width", width)
    inputs = positive_int("inputs", inputs)
    pixels = keras.Input((inputs,), name="pixels")
    x = layers.Dense(width, activation="relu", kernel_initializer="he_normal")(pixels)
    for _ in range(blocks):
        y = layers.Dense(width, activation="relu", kernel_initializer="he_normal")(x)
        if residual:
            y = layers.Dense(width, kernel_initializer="zeros")(y)
            x = layers.Add()([x, y])
        else:
            x = layers.Dense(width, activation="relu", kernel_initializer="he_normal")(
                y
            )
    out = layers.Dense(10, activation="softmax")(x)
    kind = "residual" if residual else "plain"
    return keras.Model(pixels, out, name=f"{kind}_{2 * blocks + 2}")


def difference_model(width: int = 4):
    """Two inputs of the same shape, ``first`` and ``second``, and an output that
    depends on their order (a Dense layer on ``first - second``): the model on which a
    swap of the inputs goes unnoticed unless they are passed by name."""
    import keras
    from keras import layers

    width = positive_int("width", width)
    first = keras.Input((width,), name="first")
    second = keras.Input((width,), name="second")
    out = layers.Dense(1)(layers.Subtract()([first, second]))
    return keras.Model({"first": first, "second": second}, out, name="difference")


# --- the same network three ways --------------------------------------------------------


def mlp_sequential(width: int = 32):
    """784 -> ``width`` ReLU -> 10 softmax, as a ``Sequential`` stack."""
    import keras
    from keras import layers

    width = positive_int("width", width)

    return keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(width, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="sequential",
    )


def mlp_functional(width: int = 32):
    """The same network with the functional API: tensors passed from layer to layer."""
    import keras
    from keras import layers

    width = positive_int("width", width)

    inputs = keras.Input((784,))
    hidden = layers.Dense(width, activation="relu")(inputs)
    return keras.Model(
        inputs, layers.Dense(10, activation="softmax")(hidden), name="functional"
    )


def mlp_subclassed(width: int = 32):
    """The same network as a subclass of ``keras.Model`` with its own ``call``."""
    import keras
    from keras import layers

    width = positive_int("width", width)

    class MLP(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.hidden = layers.Dense(width, activation="relu")
            self.out = layers.Dense(10, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    model = MLP()
    model(np.zeros((1, 784), np.float32))  # build it
    return model


# --- drawing a model's graph without Graphviz -------------------------------------------


def principal_plane(points) -> np.ndarray:
    """``points`` (n, d) projected on their two principal directions (centred, by SVD):
    a flat picture of an embedding with more than two numbers."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"points must be (n, d) with d >= 2, got {points.shape}")
    centred = points - points.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:2].T


def layer_graph(model) -> tuple[list[str], list[tuple[str, str]]]:
    """The layers of a functional model in order, and the edges between them (which
    layer's output each layer reads), read from Keras' own graph."""
    names, edges = [], []
    for layer in model.layers:
        names.append(layer.name)
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation
                if source is not layer and source.name != layer.name:
                    edges.append((source.name, layer.name))
    known = set(names)
    return names, [(a, b) for a, b in dict.fromkeys(edges) if a in known and b in known]


def draw_model(model, ax=None, width: float = 6.0):
    """Draw a model's layer graph with matplotlib: one box per layer (name, type and
    output shape), placed by depth from the inputs, an arrow per connection."""
    from matplotlib.patches import FancyArrowPatch

    from dlbook.book.plotting import PALETTE, figure

    validate.positive_number("width", width)
    names, edges = layer_graph(model)
    parents = {n: [a for a, b in edges if b == n] for n in names}
    depth: dict[str, int] = {}
    for name in names:  # model.layers is in topological order
        depth[name] = 1 + max((depth[p] for p in parents[name]), default=-1)
    rows = max(depth.values()) + 1
    columns = {d: [n for n in names if depth[n] == d] for d in range(rows)}
    wide = max(len(c) for c in columns.values())
    if ax is None:
        fig, axes = figure(1, 1, width=width, height=0.75 * rows + 0.5)
        ax = axes[0, 0]
    position = {}
    for d, members in columns.items():
        for i, name in enumerate(members):
            position[name] = ((i + 0.5) * wide / len(members), rows - 1 - d)
    layers = {layer.name: layer for layer in model.layers}
    for name, (x, y) in position.items():
        layer = layers[name]
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        label = f"{name}\n{type(layer).__name__} {'x'.join(map(str, shape))}"
        colour = PALETTE[5] if type(layer).__name__ == "InputLayer" else "#eeeeee"
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round,pad=0.3", "fc": colour, "ec": "black", "lw": 0.6},
        )
    for a, b in edges:
        ax.add_patch(
            FancyArrowPatch(
                position[a],
                position[b],
                arrowstyle="-|>",
                mutation_scale=8,
                lw=0.8,
                shrinkA=12,
                shrinkB=12,
            )
        )
    ax.set_xlim(-0.1, wide + 0.1)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.axis("off")
    return ax.figure
