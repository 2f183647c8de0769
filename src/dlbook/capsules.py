"""Capsule networks (Sabour, Frosst & Hinton 2017): squash, primary capsules,
routing-by-agreement, the margin loss and the reconstruction decoder, slimmed to train
on two CPU cores; with the cost counting and the affine test digits the comparison with
a convnet needs. Used by ``docs/capsules.md``.

A capsule is a vector whose length says how likely an entity is present and whose
direction says how it is posed. Routing sends each lower capsule's vote to the parent
capsules that agree with it, instead of max-pooling it away.
"""

from __future__ import annotations

import os

import numpy as np

from dlbook.base import settings, validate
from dlbook.base.seeding import reseed, resolve_seed, rng
from dlbook.base.validate import positive_int, shapes_agree, static_shape
from dlbook.convnets import shift

settings.apply_environment(os.environ)  # a quiet TensorFlow, before Keras loads it
import keras  # noqa: E402  (the layers below subclass keras.layers.Layer)

M_PLUS, M_MINUS, DOWN_WEIGHT = 0.9, 0.1, 0.5  # the paper's margin-loss constants
RECONSTRUCTION_WEIGHT = 0.0005 * 784  # the paper's 0.0005 x sum of squares, as a mean


# --- the pieces ---------------------------------------------------------------------


def squash(s, axis: int = -1):
    """Shrink each vector ``s`` to a length in [0, 1), keeping its direction:
    ``v = |s|^2 / (1 + |s|^2) * s / |s|``. Short vectors go to ~0, long ones to ~1,
    so a capsule's length can be read as a probability."""
    from keras import ops

    if s is None:
        raise TypeError("s must be a tensor of capsule vectors, got None")
    squared = ops.sum(ops.square(s), axis=axis, keepdims=True)
    return s * (squared / (1.0 + squared)) / ops.sqrt(squared + 1e-9)


class PrimaryCapsules(keras.layers.Layer):
    """The first capsule layer: a convolution with ``types * dim`` channels, cut into
    ``types`` capsules of ``dim`` numbers at every position of its output map, each
    squashed. Input ``(batch, height, width, channels)``; output
    ``(batch, positions * types, dim)``."""

    def __init__(
        self, types: int, dim: int, kernel_size: int = 9, strides: int = 2, **kwargs
    ):
        super().__init__(**kwargs)
        self.types, self.dim = positive_int("types", types), positive_int("dim", dim)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        self.strides = positive_int("strides", strides)
        self.conv = keras.layers.Conv2D(
            self.types * self.dim, self.kernel_size, strides=self.strides, name="conv"
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "inputs must be feature maps (batch, height, width, channels), "
                f"got shape {tuple(input_shape)}"
            )
        self.conv.build(input_shape)

    def call(self, inputs):
        from keras import ops

        maps = self.conv(inputs)
        return squash(ops.reshape(maps, (-1, self.capsules(maps.shape), self.dim)))

    def capsules(self, map_shape) -> int:
        """How many capsules a conv output map of ``map_shape`` holds."""
        return int(map_shape[1] * map_shape[2] * self.types)

    def compute_output_shape(self, input_shape):
        out = self.conv.compute_output_shape(input_shape)
        return (input_shape[0], self.capsules(out), self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "types": self.types,
            "dim": self.dim,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
        }


class Routing(keras.layers.Layer):
    """Routing-by-agreement (Sabour et al. 2017, Procedure 1) from ``n_in`` input
    capsules of ``d_in`` numbers to ``capsules`` parents of ``dim`` numbers.

    Every input ``i`` predicts every parent ``j`` with its own matrix,
    ``u_hat[j|i] = W[i, j] u[i]``; the parent is the squashed, coupling-weighted sum
    of the predictions; ``iterations`` rounds raise the logits of the couplings of
    the predictions that agree (dot product) with the parent's output. Input
    ``(batch, n_in, d_in)``; output ``(batch, capsules, dim)``.
    """

    def __init__(self, capsules: int, dim: int, iterations: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.n_out, self.dim = (
            positive_int("capsules", capsules),
            positive_int("dim", dim),
        )
        self.iterations = positive_int("iterations", iterations)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "inputs must be capsules (batch, n_in, d_in) with known n_in and d_in, "
                f"got shape {tuple(input_shape)}"
            )
        _, self.n_in, self.d_in = input_shape
        # std 1/sqrt(d_in): a vote has numbers of size |u_i| / sqrt(d_in), any d_in
        self.W = self.add_weight(
            shape=(self.n_in, self.n_out, self.dim, self.d_in),
            initializer=keras.initializers.RandomNormal(stddev=self.d_in**-0.5),
            name="W",
        )

    def predictions(self, inputs):
        """``u_hat[b, j, i, :] = W[i, j] @ u[b, i]``: what input ``i`` predicts for
        parent ``j``, shape ``(batch, capsules, n_in, dim)`` (parents first: the
        routing's sums over ``i`` then need no transposes, twice as fast on a CPU)."""
        from keras import ops

        if len(inputs.shape) != 3 or tuple(inputs.shape[1:]) != (self.n_in, self.d_in):
            raise ValueError(
                f"inputs must be capsules (batch, {self.n_in}, {self.d_in}), "
                f"got shape {tuple(inputs.shape)}"
            )
        return ops.einsum("ijed,bid->bjie", self.W, inputs)

    def route(self, u_hat):
        """Run the routing on predictions ``u_hat``; return the parents ``v``
        ``(batch, capsules, dim)`` and the coupling coefficients of every iteration,
        each ``(batch, capsules, n_in)``, summing to 1 over the parents (axis 1)."""
        from keras import ops

        logits = ops.zeros(ops.shape(u_hat)[:3])  # b_ij = 0: couplings start uniform
        couplings = []
        for iteration in range(self.iterations):
            c = ops.softmax(logits, axis=1)  # over the parents j of each input i
            couplings.append(c)
            v = squash(ops.einsum("bji,bjie->bje", c, u_hat))  # s_j = sum_i c_ij u_hat
            if iteration < self.iterations - 1:
                logits = logits + ops.einsum("bjie,bje->bji", u_hat, v)  # agreement
        return v, couplings

    def call(self, inputs):
        return self.route(self.predictions(inputs))[0]

    def couplings(self, inputs) -> np.ndarray:
        """The coupling coefficients of each iteration for ``inputs``, as one array
        ``(iterations, batch, capsules, n_in)``."""
        _, couplings = self.route(self.predictions(inputs))
        return np.stack([np.asarray(c) for c in couplings])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_out, self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "capsules": self.n_out,
            "dim": self.dim,
            "iterations": self.iterations,
        }


class Length(keras.layers.Layer):
    """Capsule lengths, ``(batch, capsules, dim) -> (batch, capsules)``: the class
    scores of a capsule network."""

    def call(self, inputs):
        from keras import ops

        return ops.sqrt(ops.sum(ops.square(inputs), axis=-1) + 1e-9)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


class Mask(keras.layers.Layer):
    """Keep one digit capsule, zero the others, flatten: the decoder's input. In
    training the true class's capsule (``label``, one-hot), otherwise the longest."""

    def call(self, inputs, training=None):
        from keras import ops

        capsules, label = inputs
        if not training:
            lengths = ops.sum(ops.square(capsules), axis=-1)
            label = ops.one_hot(ops.argmax(lengths, axis=-1), ops.shape(capsules)[1])
        masked = capsules * ops.expand_dims(ops.cast(label, capsules.dtype), -1)
        return ops.reshape(masked, (-1, capsules.shape[1] * capsules.shape[2]))

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[1] * shape[2])


def margin_loss(y_true, lengths):
    """The margin loss, per example: for each class ``k``,
    ``T_k max(0, 0.9 - |v_k|)^2 + 0.5 (1 - T_k) max(0, |v_k| - 0.1)^2``, summed over
    the classes. ``y_true`` one-hot ``(batch, classes)``, ``lengths`` the capsule
    lengths. Several digits may be present at once: each class is its own margin."""
    from keras import ops

    if len(lengths.shape) != 2:
        raise ValueError(
            f"lengths must be (batch, classes), got {tuple(lengths.shape)}"
        )
    if not shapes_agree(static_shape(y_true), static_shape(lengths)):
        raise ValueError(
            f"y_true must have the shape of lengths {static_shape(lengths)} (one "
            f"target per class), got {static_shape(y_true)}"
        )
    y_true = ops.cast(y_true, lengths.dtype)
    present = y_true * ops.square(ops.relu(M_PLUS - lengths))
    absent = DOWN_WEIGHT * (1.0 - y_true) * ops.square(ops.relu(lengths - M_MINUS))
    return ops.sum(present + absent, axis=-1)


# --- the network --------------------------------------------------------------------


class CapsNet:
    """The capsule network's models, sharing one set of layers: ``model`` (inputs
    ``image`` and ``label``, outputs ``digit`` lengths and ``reconstruction``; the one
    that trains), ``classifier`` (image to lengths), ``primary`` (image to primary
    capsules), ``encoder`` (image to digit capsules), ``decoder`` (masked capsules to
    a 784-pixel image) and the ``routing`` layer."""

    def __init__(self, model, classifier, primary, encoder, decoder, routing):
        self.model, self.classifier, self.primary = model, classifier, primary
        self.encoder, self.decoder, self.routing = encoder, decoder, routing


def capsnet(
    conv_filters: int = 32,
    primary_types: int = 8,
    primary_dim: int = 8,
    digit_dim: int = 16,
    iterations: int = 3,
    decoder_units=(256,),
    classes: int = 10,
    seed: int | None = None,
) -> CapsNet:
    """A CapsNet for 28x28 digits, the paper's shape with fewer units: a 9x9 ReLU
    convolution (``conv_filters``), primary capsules (9x9, stride 2, ``primary_types``
    of ``primary_dim`` numbers at each of 6x6 positions), one digit capsule of
    ``digit_dim`` per class from ``iterations`` of routing, and a decoder of dense
    ReLU layers (``decoder_units``) to a sigmoid image from the masked capsules.
    The paper: 256 filters, 32 types of 8D, 16D, 3 iterations, decoder (512, 1024).
    With ``seed``, the initial weights are the same on every call."""
    from keras import layers

    reseed(seed)
    classes, digit_dim = (
        positive_int("classes", classes),
        positive_int("digit_dim", digit_dim),
    )
    image = keras.Input((28, 28, 1), name="image")
    label = keras.Input((classes,), name="label")
    x = layers.Conv2D(
        positive_int("conv_filters", conv_filters), 9, activation="relu", name="conv1"
    )(image)
    primary = PrimaryCapsules(primary_types, primary_dim, name="primary_caps")(x)
    routing = Routing(classes, digit_dim, iterations, name="digit_caps")
    digits = routing(primary)
    lengths = Length(name="digit")(digits)
    decoder = keras.Sequential(
        [
            keras.Input((classes * digit_dim,)),
            *(
                layers.Dense(positive_int("decoder_units", u), activation="relu")
                for u in decoder_units
            ),
            layers.Dense(784, activation="sigmoid"),
        ],
        name="decoder",
    )
    reconstruction = layers.Identity(name="reconstruction")(
        decoder(Mask(name="mask")([digits, label]))
    )
    model = keras.Model(
        {"image": image, "label": label},
        {"digit": lengths, "reconstruction": reconstruction},
        name=f"capsnet_{iterations}",
    )
    classifier = keras.Model(image, lengths, name="capsnet_classifier")
    primary_model = keras.Model(image, primary, name="capsnet_primary")
    encoder = keras.Model(image, digits, name="capsnet_encoder")
    return CapsNet(model, classifier, primary_model, encoder, decoder, routing)


def fit_capsnet(
    net: CapsNet,
    train,
    test,
    epochs: int,
    reconstruction: bool = True,
    batch_size: int = 64,
    seed: int | None = None,
):
    """Train ``net.model`` on digits ``train = (images, labels)`` through the book's
    training core: Adam, the margin loss on the lengths plus, with ``reconstruction``,
    the paper's weighted reconstruction loss (without: weight 0, the decoder is
    idle), scored on ``test`` (``fit.test_digit_categorical_accuracy``)."""
    from dlbook import training

    validate.pair("train", train)
    validate.pair("test", test)
    weight = RECONSTRUCTION_WEIGHT if reconstruction else 0.0
    return training.fit(
        net.model,
        capsnet_targets(*train),
        loss={"digit": margin_loss, "reconstruction": "mse"},
        loss_weights={"digit": 1.0, "reconstruction": weight},
        metrics={"digit": ["categorical_accuracy"]},
        epochs=epochs,
        batch_size=batch_size,
        evaluate={"test": capsnet_targets(*test)},
        seed=seed,
    )


def capsnet_targets(images, labels, classes: int = 10):
    """Inputs and targets of :func:`capsnet`'s training model for digits ``images``
    ``(n, 28, 28, 1)`` with integer ``labels``: ``({"image", "label"}, {"digit",
    "reconstruction"})``, the label one-hot, the reconstruction target the flat image."""
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    if (
        images.ndim != 4
        or images.shape[1:] != (28, 28, 1)
        or len(images) != len(labels)
    ):
        raise ValueError(
            f"images must be (n, 28, 28, 1) with one label each, got {images.shape} "
            f"and {labels.shape} labels"
        )
    classes = positive_int("classes", classes)
    validate.labels("labels", labels, classes)
    one_hot = np.eye(classes, dtype=np.float32)[labels]
    inputs = {"image": images, "label": one_hot}
    return inputs, {"digit": one_hot, "reconstruction": images.reshape(len(images), -1)}


def perturbations(decoder, capsule, label: int, deltas, dims, classes: int = 10):
    """The paper's Figure 4: decode the digit capsule ``capsule`` (``dim`` numbers) of
    class ``label`` with each dimension in ``dims`` moved by each of ``deltas``; returns
    images ``(len(dims), len(deltas), 28, 28)``."""
    capsule = np.asarray(capsule, np.float32)
    if capsule.ndim != 1:
        raise ValueError(
            f"capsule must be one vector (dim,), got shape {capsule.shape}"
        )
    dim = len(capsule)
    rows = []
    for d in dims:
        moved = np.repeat(capsule[None], len(deltas), axis=0)
        moved[:, d] += np.asarray(deltas, np.float32)
        masked = np.zeros((len(deltas), classes, dim), np.float32)
        masked[:, label] = moved
        rows.append(np.asarray(decoder(masked.reshape(len(deltas), -1))))
    return np.stack(rows).reshape(len(dims), len(deltas), 28, 28)


# --- costs --------------------------------------------------------------------------


def layer_costs(model):
    """Per layer of ``model`` with weights: parameters (Keras' count) and multiply-adds
    for one image. Conv2D: positions x k x k x C_in x C_out; Dense: inputs x units;
    primary capsules: their convolution; routing: the predictions (n_in x n_out x
    d_out x d_in) plus, per iteration, the weighted sum and (all but the last) the
    agreement, n_in x n_out x d_out each. Squash, softmax and biases are not counted."""
    import pandas as pd

    rows = []
    for layer in model.layers:
        if not layer.weights:
            continue
        kind = type(layer).__name__
        if kind in ("Conv2D", "PrimaryCapsules"):
            conv = layer.conv if kind == "PrimaryCapsules" else layer
            out = conv.compute_output_shape(layer.input.shape)
            k = conv.kernel_size
            mult_adds = (
                out[1] * out[2] * k[0] * k[1] * layer.input.shape[-1] * conv.filters
            )
        elif kind == "Dense":
            mult_adds = layer.input.shape[-1] * layer.units
        elif kind == "Routing":
            edges = layer.n_in * layer.n_out * layer.dim
            mult_adds = edges * layer.d_in + edges * (2 * layer.iterations - 1)
        elif isinstance(layer, keras.Model):
            inner = layer_costs(layer)
            mult_adds = int(inner["multiply-adds"].sum())
        else:
            raise ValueError(f"layer_costs cannot count layer {layer.name!r} ({kind})")
        rows.append(
            {
                "layer": layer.name,
                "type": kind,
                "parameters": layer.count_params(),
                "multiply-adds": int(mult_adds),
            }
        )
    return pd.DataFrame(rows)


# --- data: shifts for training, affine transforms for testing ---------------------------


def random_shifts(images, max_shift: int = 2, seed: int | None = None):
    """Each image moved by its own random whole-pixel shift of up to ``max_shift`` in
    each direction, zero fill: the paper's only augmentation, drawn once with
    ``seed`` so that the reconstruction target is the shifted image itself."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"images must be (n, height, width, channels), got {images.shape}"
        )
    m = positive_int("max_shift", max_shift)
    dy, dx = rng(seed).integers(-m, m + 1, size=(2, len(images)))
    out = np.empty_like(images)
    for y in range(-m, m + 1):  # one call of the convnets page's shift per offset
        for x in range(-m, m + 1):
            chosen = (dy == y) & (dx == x)
            if chosen.any():
                out[chosen] = shift(images[chosen], x, y)
    return out


def affine(images, rotation: float = 0.0, shear: float = 0.0, shift=(0.0, 0.0)):
    """Images ``(n, height, width, 1)`` rotated by ``rotation`` degrees, sheared
    horizontally by ``shear`` (x += shear * y) and moved by ``shift = (right, down)``
    pixels, about the image centre, bilinear, zero fill."""
    from scipy import ndimage

    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must be (n, height, width, 1), got {images.shape}")
    a = np.deg2rad(rotation)
    # forward map on (row, col) = (y, x): rotate, then shear x by y
    rotate = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    forward = np.array([[1.0, 0.0], [shear, 1.0]]) @ rotate
    inverse = np.linalg.inv(forward)  # ndimage maps output coordinates to input ones
    centre = (np.array(images.shape[1:3]) - 1) / 2
    moved = centre + np.array([shift[1], shift[0]], float)
    offset = centre - inverse @ moved
    # one call for the whole stack: the image index maps to itself
    matrix = np.eye(3)
    matrix[1:, 1:] = inverse
    out = ndimage.affine_transform(images[..., 0], matrix, (0.0, *offset), order=1)
    return out[..., None]


ROTATIONS = (-30, -15, 0, 15, 30)  # degrees
SHEARS = (-0.4, -0.2, 0.0, 0.2, 0.4)
SHIFTS = (0, 1, 2, 3, 4, 5)  # pixels, each digit in one of the four directions


def transformed_digits(x, seed: int | None = None):
    """The test grid: ``(transformation, amount, images)`` for every rotation
    (``ROTATIONS``), shear (``SHEARS``) and shift (``SHIFTS``; each digit moved
    right, left, down or up, drawn with ``seed``) of the digits ``x``."""
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"x must be images (n, height, width, 1), got {x.shape}")
    grid = [("rotation", r, affine(x, rotation=r)) for r in ROTATIONS]
    grid += [("shear", s, affine(x, shear=s)) for s in SHEARS]
    directions = rng(seed).integers(0, 4, size=len(x))
    for k in SHIFTS:
        moved = np.empty_like(x)
        for d, (dx, dy) in enumerate(((k, 0), (-k, 0), (0, k), (0, -k))):
            chosen = directions == d
            moved[chosen] = affine(x[chosen], shift=(dx, dy))
        grid.append(("shift", k, moved))
    return grid


def transformed_accuracy(
    classifiers: dict, x, y, seed: int | None = None, per_digit: bool = False
):
    """Accuracy of each of ``classifiers`` (name: function from images to class
    scores) on the digits ``x`` under every transformation of
    :func:`transformed_digits`. One row per transformation and amount, a column per
    classifier, and whether the amount lies beyond the 2-pixel training shifts.
    ``per_digit``: also return, by name, which digits each classifier read right (an
    array of rows × digits), for a paired test on the same transformed digits."""
    seed = resolve_seed(seed)
    import pandas as pd

    if not classifiers:
        raise ValueError("classifiers must name at least one function")
    validate.same_length(x=x, y=y)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one label per digit of x, got shape {y.shape}")
    rows, right = [], {name: [] for name in classifiers}
    for kind, amount, images in transformed_digits(x, seed):
        row = {"transformation": kind, "amount": amount}
        for name, classify in classifiers.items():
            outcome = np.argmax(classify(images), axis=1) == y
            right[name].append(outcome)
            row[name] = float(np.mean(outcome))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["beyond training"] = (table["amount"] != 0) & ~(
        (table["transformation"] == "shift") & (table["amount"] <= 2)
    )
    if per_digit:
        return table, {name: np.stack(r) for name, r in right.items()}
    return table
