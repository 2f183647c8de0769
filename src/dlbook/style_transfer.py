"""Neural style transfer (Gatys, Ecker & Bethge 2016): the losses, the feature
networks compared on the style transfer page, and the pixel optimisation as a
``training.run`` routine, so a stylised image is trained once and then restored.

The image is the only trainable variable: it lives in a one-layer Keras model
(:class:`Pixels`) that the routine optimises with Adam in a compiled step.
"""

from __future__ import annotations

import os

import numpy as np

from dlbook.base.seeding import reseed, resolve_seed
from dlbook.base.validate import array, positive_int, shapes_agree, static_shape
from dlbook.frechet import frechet_distance

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (Pixels subclasses a Keras layer)
import tensorflow as tf  # noqa: E402  (the gradient tape of the compiled step)

NETWORKS = ("lite0", "lite0_soft", "lite0_random", "vgg_random")
# EfficientNet-Lite0: the stem and the first (expansion) activation of stages 2-5,
# early to late, for style; the last of them for content
LITE0_STYLE = (
    "stem_activation",
    "block2a_expand_activation",
    "block3a_expand_activation",
    "block4a_expand_activation",
    "block5a_expand_activation",
)
LITE0_CONTENT = "block5a_expand_activation"


def check_image(name: str, image) -> np.ndarray:
    """``image`` as a float32 ``(h, w, 3)`` array in [0, 1], or a ValueError naming
    ``name``: the one image format of this module."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 8:
        raise ValueError(
            f"{name} must be an (h, w, 3) image with h, w >= 8, got shape {image.shape}"
        )
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must hold floats in [0, 1], got dtype {image.dtype}")
    if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
        raise ValueError(f"{name} must hold floats in [0, 1]")
    return image.astype(np.float32)


# --- the losses ----------------------------------------------------------------------


def _feature_map(name: str, features, batch: bool = True):
    """``features`` as a float32 tensor if it is one feature map ``(h, w, c)``, or
    ``(1, h, w, c)`` with ``batch``; else an error naming ``name`` (static shapes only:
    safe in the compiled step)."""
    if features is None:
        raise TypeError(f"{name} must be a feature map (h, w, c), got None")
    features = tf.convert_to_tensor(features, tf.float32)
    shape = static_shape(features)
    if shape is not None and not (
        len(shape) == 3 or (batch and len(shape) == 4 and shape[0] in (1, None))
    ):
        raise ValueError(
            f"{name} must be one feature map (h, w, c) or (1, h, w, c), got {shape}"
        )
    return features


def gram_matrix(features):
    """The Gram matrix of a feature map ``(1, h, w, c)`` or ``(h, w, c)``: the
    ``(c, c)`` channel correlations averaged over the ``h * w`` positions. It keeps
    which features fire together and drops where they fire: the "style"."""
    features = _feature_map("features", features)
    if features.shape.rank == 4:
        features = features[0]
    flat = tf.reshape(features, (-1, features.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(
        tf.shape(flat)[0], tf.float32
    )


def soften(features):
    """Activation softening (Wang, Li & Vasconcelos 2021): a softmax over the spatial
    positions of each channel, scaled by their number so values average 1. It flattens
    the peaky, low-entropy activations of efficient networks before the Gram matrix."""
    features = _feature_map("features", features)
    shape = tf.shape(features)
    flat = tf.reshape(features, (-1, shape[-1]))
    soft = tf.nn.softmax(flat, axis=0) * tf.cast(tf.shape(flat)[0], tf.float32)
    return tf.reshape(soft, shape)


def content_loss(features, target):
    """Mean squared difference of two feature maps, relative to the target's mean
    square, so the figure is comparable across networks and layers."""
    if features is None or target is None:
        raise TypeError("features and target must be feature maps, got None")
    if not shapes_agree(static_shape(features), static_shape(target)):
        raise ValueError(
            f"features and target must have the same shape, got "
            f"{static_shape(features)} and {static_shape(target)}"
        )
    return tf.reduce_mean(tf.square(features - target)) / (
        tf.reduce_mean(tf.square(target)) + 1e-8
    )


def style_loss(grams, target_grams):
    """Gram matrix distance averaged over the style layers, each layer's squared
    distance divided by ``||G(style)||^2`` so that every layer weighs alike whatever
    its channel count and activation scale."""
    if not len(grams) or len(grams) != len(target_grams):
        raise ValueError(
            f"grams and target_grams must hold one Gram matrix per style layer, got "
            f"{len(grams)} and {len(target_grams)}"
        )
    for g, t in zip(grams, target_grams, strict=True):
        if not shapes_agree(static_shape(g), static_shape(t)):
            raise ValueError(
                f"grams and target_grams must match layer by layer, got "
                f"{static_shape(g)} and {static_shape(t)}"
            )
    losses = [
        tf.reduce_sum(tf.square(g - t)) / (tf.reduce_sum(tf.square(t)) + 1e-12)
        for g, t in zip(grams, target_grams, strict=True)
    ]
    return tf.add_n(losses) / len(losses)


def total_variation(image):
    """Mean absolute difference between neighbouring pixels (down and right) of an
    image ``(1, h, w, c)`` or ``(h, w, c)``: small for smooth images, it damps the
    high-frequency noise the pixel optimisation otherwise makes."""
    image = _feature_map("image", image)
    if image.shape.rank == 3:
        image = image[None]
    down = tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1]))
    right = tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]))
    return down + right


def activation_entropy(features) -> float:
    """The diagnostic of Wang et al.: per channel, activations normalised to sum to
    one over positions, their entropy divided by its maximum ``log(h * w)``, averaged
    over channels. Near 1 when activations spread, low when a few positions dominate.
    Channels that are zero everywhere are left out."""
    features = array("features", features, finite=True, dtype=np.float64)
    if features.ndim < 2 or not features.size:
        raise ValueError(
            f"features must be (..., positions, channels), got {features.shape}"
        )
    a = np.maximum(np.asarray(features, np.float64).reshape(-1, features.shape[-1]), 0)
    totals = a.sum(axis=0)
    live = totals > 1e-12
    p = a[:, live] / totals[live]
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=0)
    return float(np.mean(entropy / np.log(len(a)))) if live.any() else 0.0


# --- the feature networks ------------------------------------------------------------


def vgg_like(size: int, seed: int | None = None):
    """A VGG-shaped stack (two 3x3 ReLU convolutions per block, 2x2 average pooling,
    16-32-64-128 channels: half VGG's first widths, cheap enough at 256 px) with random
    Glorot weights, never trained: the random-network baseline. Style layers: each
    block's first convolution; content: the last block's. Inputs in [0, 1]."""
    from keras import layers

    size = positive_int("size", size)
    reseed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(2.0, offset=-1.0)(inputs)
    for block, channels in enumerate((16, 32, 64, 128), start=1):
        if block > 1:
            x = layers.AveragePooling2D(2, name=f"vgg{block}_pool")(x)
        for conv in (1, 2):
            x = layers.Conv2D(
                channels,
                3,
                padding="same",
                activation="relu",
                name=f"vgg{block}_{conv}",
            )(x)
    return keras.Model(inputs, x, name="vgg_random")


def feature_network(network: str, size: int, seed: int | None = None):
    """The feature network ``network`` (one of ``NETWORKS``) for ``size`` x ``size``
    images in [0, 1], frozen: a Keras model whose outputs are the style layers then
    the content layer, and whether its style features are softened. ``lite0`` is
    EfficientNet-Lite0 with its offline ImageNet weights, ``lite0_soft`` the same
    with :func:`soften`, ``lite0_random`` the same architecture untrained."""
    seed = resolve_seed(seed)
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
    size = positive_int("size", size)
    if network == "vgg_random":
        base = vgg_like(size, seed)
        style = [f"vgg{b}_1" for b in (1, 2, 3, 4)]
        content = "vgg4_1"
        scale = keras.layers.Identity()
    else:
        from dlbook.pretrained import efficientnet_lite

        reseed(seed)
        base = efficientnet_lite.efficientnet_lite0(
            (size, size, 3),
            include_top=False,
            weights=None if network == "lite0_random" else "imagenet",
        )
        style, content = list(LITE0_STYLE), LITE0_CONTENT
        # (255 x - 127) / 128: the Lite preprocessing on images in [0, 1]
        scale = keras.layers.Rescaling(
            255.0 / efficientnet_lite.SCALE,
            offset=-efficientnet_lite.MEAN / efficientnet_lite.SCALE,
        )
    outputs = [base.get_layer(name).output for name in [*style, content]]
    inner = keras.Model(base.inputs, outputs)
    image = keras.Input((size, size, 3), name="pixels")
    model = keras.Model(image, inner(scale(image)), name=f"features_{network}")
    model.trainable = False
    return model, network == "lite0_soft"


class Pixels(keras.layers.Layer):
    """A layer whose only weight is an image ``(1, h, w, 3)``, returned whatever the
    input: it makes the image a Keras variable that ``training.run`` stores."""

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.image = self.add_weight(
            shape=(1, height, width, 3), initializer="zeros", name="image"
        )

    def call(self, inputs):
        return self.image

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


def pixel_model(height: int, width: int):
    """A built Keras model holding one image as its weight (see :class:`Pixels`)."""
    height, width = positive_int("height", height), positive_int("width", width)
    inputs = keras.Input((1,), name="unused")
    return keras.Model(inputs, Pixels(height, width, name="pixels")(inputs))


def _features(network_model, soft: bool, image):
    outputs = network_model(image, training=False)
    style = [soften(f) if soft else f for f in outputs[:-1]]
    return [gram_matrix(f) for f in style], outputs[-1]


def style_routine(
    models,
    seed: int,
    content,
    style,
    soft: bool = False,
    steps: int = 150,
    style_weight: float = 1.0,
    content_weight: float = 1.0,
    tv_weight: float = 1.0,
    learning_rate: float = 0.02,
    record_every: int = 10,
):
    """Gatys' optimisation, run by ``training.run``: start from the ``content`` photo
    and move its pixels (``models["image"]``) by Adam to lower
    ``style_weight * style_loss + content_weight * content_loss + tv_weight * TV``,
    measured in the frozen ``models["features"]``; pixels are clipped to [0, 1] after
    each compiled step. Records the three losses every ``record_every`` steps."""
    content, style = check_image("content", content), check_image("style", style)
    if content.shape != style.shape:
        raise ValueError(
            f"style must have the content's shape {content.shape}, got {style.shape}"
        )
    steps = positive_int("steps", steps)
    record_every = positive_int("record_every", record_every)
    features = models["features"]
    variable = models["image"].get_layer("pixels").image
    if tuple(variable.shape) != (1, *content.shape):
        raise ValueError(
            f"content must have the image model's shape {tuple(variable.shape)[1:]}, "
            f"got {content.shape}"
        )
    variable.assign(content[None])
    target_grams, _ = _features(features, soft, style[None])
    _, target_content = _features(features, soft, content[None])
    optimizer = keras.optimizers.Adam(learning_rate)
    weights = tf.constant([style_weight, content_weight, tv_weight], tf.float32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            grams, content_features = _features(features, soft, variable)
            losses = tf.stack(
                [
                    style_loss(grams, target_grams),
                    content_loss(content_features, target_content),
                    total_variation(variable),
                ]
            )
            total = tf.reduce_sum(weights * losses)
        optimizer.apply_gradients([(tape.gradient(total, variable), variable)])
        variable.assign(tf.clip_by_value(variable, 0.0, 1.0))
        return losses

    history = {"step": [], "style_loss": [], "content_loss": [], "tv_loss": []}
    for index in range(1, steps + 1):
        losses = step().numpy()
        if index % record_every == 0 or index == steps:
            history["step"].append(index)
            for name, value in zip(
                ("style_loss", "content_loss", "tv_loss"), losses, strict=True
            ):
                history[name].append(float(value))
    return {"history": history}


def stylise(
    content, style, network: str = "lite0_soft", seed: int | None = None, **options
):
    """Stylise ``content`` with ``style`` (same-shaped square images in [0, 1]) in the
    features of ``network`` through the trained-model store; returns ``(image,
    result)``: the stylised ``(h, w, 3)`` image and the ``training.run`` result whose
    ``record["history"]`` holds the loss curves. Used on the style transfer page."""
    seed = resolve_seed(seed)
    from dlbook import training

    content = check_image("content", content)
    if content.shape[0] != content.shape[1]:
        raise ValueError(f"content must be square, got shape {content.shape}")
    features, soft = feature_network(network, content.shape[0], seed)
    image_model = pixel_model(*content.shape[:2])
    result = training.run(
        style_routine,
        {"image": image_model, "features": features},
        seed=seed,
        content=content,
        style=style,
        soft=soft,
        **options,
    )
    image = image_model.get_layer("pixels").image.numpy()[0]
    return image, result


def style_distance(image, style, network: str, seed: int | None = None) -> float:
    """How far ``image``'s style is from ``style``'s in ``network``'s features
    (:func:`style_loss`, softened where the network is): the cross-grading of the page,
    where each result is measured in the networks that did not make it."""
    seed = resolve_seed(seed)
    image, style = check_image("image", image), check_image("style", style)
    features, soft = feature_network(network, image.shape[0], seed)
    grams, _ = _features(features, soft, image[None])
    targets, _ = _features(features, soft, style[None])
    return float(style_loss(grams, targets))


def network_entropy(image, network: str, seed: int | None = None) -> float:
    """:func:`activation_entropy` of ``image`` averaged over ``network``'s style
    layers (before any softening): the paper's measure of how peaky they are."""
    seed = resolve_seed(seed)
    image = check_image("image", image)
    features, _ = feature_network(network, image.shape[0], seed)
    outputs = features(image[None], training=False)[:-1]
    return float(np.mean([activation_entropy(f.numpy()) for f in outputs]))


def square(image, size: int) -> np.ndarray:
    """The central square of an ``(h, w, 3)`` image in [0, 1], resized to ``size``."""
    image = check_image("image", image)
    size = positive_int("size", size)
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    crop = image[top : top + side, left : left + side]
    resized = keras.ops.image.resize(crop[None], (size, size), antialias=True)
    return np.clip(keras.ops.convert_to_numpy(resized)[0], 0, 1).astype(np.float32)


# --- the independent grader: pixel statistics, no network -----------------------------

# RGB -> an opponent colour space (luma, blue-yellow, red-green; BT.601 YCbCr axes)
OPPONENT = np.array(
    [[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]], np.float64
)
ORIENTATIONS, SCALES = 8, (1, 2, 4)


def colour_distance(image, reference) -> float:
    """Fréchet distance between the pixel colours of ``image`` and ``reference``,
    each summarised by the mean and covariance of its pixels in an opponent colour
    space (luma, blue-yellow, red-green): 0 for the same colour statistics, whatever
    the layout. No network is involved."""
    image, reference = (
        check_image(name, value).reshape(-1, 3).astype(np.float64) @ OPPONENT.T
        for name, value in (("image", image), ("reference", reference))
    )
    return frechet_distance(image, reference)


def _luma_at(image: np.ndarray, scale: int) -> np.ndarray:
    """The luma of ``image`` box-averaged over ``scale`` x ``scale`` pixels (the rows and
    columns that do not fill a box are dropped)."""
    luma = image.astype(np.float64) @ OPPONENT[0]
    h, w = (luma.shape[0] // scale) * scale, (luma.shape[1] // scale) * scale
    return luma[:h, :w].reshape(h // scale, scale, w // scale, scale).mean((1, 3))


def texture_energies(image) -> np.ndarray:
    """A small filter bank on the luma of ``image``: at scales 1, 2 and 4 (box
    averages), the gradient energy in each of 8 orientation bins, as the mean over
    positions: ``(3 * 8,)`` numbers that describe brushwork (how strong the edges are,
    at which size, in which directions) and not where it lies."""
    image = check_image("image", image)
    energies = []
    for scale in SCALES:
        if min(image.shape[:2]) // scale < 3:
            raise ValueError(
                f"image must be at least {3 * max(SCALES)} px a side, got {image.shape}"
            )
        small = _luma_at(image, scale)
        dy = small[2:, 1:-1] - small[:-2, 1:-1]
        dx = small[1:-1, 2:] - small[1:-1, :-2]
        angle = np.mod(np.arctan2(dy, dx), np.pi)
        bins = np.minimum((angle / np.pi * ORIENTATIONS).astype(int), ORIENTATIONS - 1)
        energy = np.bincount(bins.ravel(), (dx**2 + dy**2).ravel(), ORIENTATIONS)
        energies.append(energy / bins.size)
    return np.concatenate(energies)


def texture_distance(image, reference) -> float:
    """Distance between the filter-bank energies (:func:`texture_energies`) of
    ``image`` and ``reference``: root mean square of their log ratios (0: the same
    edge energy at every scale and orientation; 1: off by a factor e on average)."""
    a = texture_energies(check_image("image", image))
    b = texture_energies(check_image("reference", reference))
    return float(np.sqrt(np.mean(np.log((a + 1e-6) / (b + 1e-6)) ** 2)))


def edge_correlation(image, photo) -> float:
    """Content kept: the correlation between the edge maps (gradient magnitude of the
    luma, after a 4x4 box average so brushwork does not count as new edges) of
    ``image`` and ``photo``; 1 when every edge of the photo is where it was."""
    image, photo = check_image("image", image), check_image("photo", photo)
    if image.shape != photo.shape:
        raise ValueError(
            f"photo must have the image's shape {image.shape}, got {photo.shape}"
        )
    maps = []
    for picture in (image, photo):
        gy, gx = np.gradient(_luma_at(picture, 4))
        maps.append(np.hypot(gx, gy).ravel())
    if min(np.std(m) for m in maps) == 0:
        return 0.0
    return float(np.corrcoef(*maps)[0, 1])


def tiles(image, count: int = 4) -> list[np.ndarray]:
    """``image`` cut into ``count`` x ``count`` equal square tiles, row by row."""
    image = check_image("image", image)
    count = positive_int("count", count)
    h, w = image.shape[0] // count, image.shape[1] // count
    if min(h, w) < 3 * max(SCALES):
        raise ValueError(f"count={count} leaves tiles under {3 * max(SCALES)} px")
    return [
        image[r * h : (r + 1) * h, c * w : (c + 1) * w]
        for r in range(count)
        for c in range(count)
    ]


def style_progress(image, photo, painting, count: int = 4) -> dict:
    """How far ``image`` moved from ``photo`` toward ``painting``, by pixel statistics
    alone, per tile of a ``count`` x ``count`` grid (the paired items of the page's
    comparisons): for colour and texture, ``1 - d(image tile, painting) / d(photo
    tile, painting)``: 0 where the tile kept the photo's statistics, 1 where it has
    the painting's, negative where it moved away. Also the whole-image figures and
    :func:`edge_correlation`. Returns a dict of arrays and floats."""
    image, photo = check_image("image", image), check_image("photo", photo)
    painting = check_image("painting", painting)
    if image.shape != photo.shape:
        raise ValueError(
            f"photo must have the image's shape {image.shape}, got {photo.shape}"
        )
    result = {}
    for what, distance in (("colour", colour_distance), ("texture", texture_distance)):
        per_tile = []
        for made, before in zip(tiles(image, count), tiles(photo, count), strict=True):
            start = distance(before, painting)
            per_tile.append(1 - distance(made, painting) / max(start, 1e-12))
        result[what] = np.array(per_tile)
        whole = distance(photo, painting)
        result[f"{what} whole"] = 1 - distance(image, painting) / max(whole, 1e-12)
    result["style"] = (result["colour"] + result["texture"]) / 2
    result["edges kept"] = edge_correlation(image, photo)
    return result
