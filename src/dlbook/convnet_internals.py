"""Looking inside a trained convnet: feature maps, occlusion and Grad-CAM.

Used by ``docs/convnet_internals.md`` only, so editing these tools re-executes that
page alone.
"""

from __future__ import annotations

import numpy as np

from dlbook import training
from dlbook.base.seeding import resolve_seed
from dlbook.base.validate import array, integer, number, positive_int
from dlbook.convnets import conv_layer_names, conv_output_size, trace_layer


def _image(model, image) -> np.ndarray:
    """``image`` as an array if it is one input of ``model`` (its input shape without
    the batch axis), else a ``ValueError`` naming ``image``."""
    image = array("image", image)
    wanted = tuple(model.inputs[0].shape[1:])
    if len(image.shape) != len(wanted) or any(
        w is not None and w != got for w, got in zip(wanted, image.shape, strict=True)
    ):
        raise ValueError(
            f"image must be one input of the model, shape {wanted}, got {image.shape}"
        )
    return image


def _class_index(name: str, model, index) -> int:
    """``index`` if it is one of ``model``'s output classes, else an error naming it."""
    classes = int(model.outputs[0].shape[-1])
    if integer(name, index) not in range(classes):
        raise ValueError(f"{name} must be a class in 0..{classes - 1}, got {index}")
    return index


def conv_activations(model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Feature maps ``(height, width, filters)`` of every conv layer for one image."""
    import keras

    image = _image(model, image)
    maps = {}
    for name in conv_layer_names(model):
        inputs, inner, _ = trace_layer(model, name)
        maps[name] = np.asarray(
            keras.Model(inputs, inner)(image[None], training=False)
        )[0]
    return maps


def occlusion_map(
    model,
    image: np.ndarray,
    label: int,
    patch: int = 6,
    stride: int = 2,
    fill: float = 0.0,
    score: str = "probability",
) -> np.ndarray:
    """Probability of ``label`` as a ``patch`` x ``patch`` square of ``fill`` slides over
    the image: low values mark the parts the answer depends on (cs231n's heat-map).

    ``score="log drop"`` returns instead how far the log-probability of ``label``
    falls, ``log p(image) - log p(occluded)``: high where the answer depends on the
    pixels, and not squashed near 1 when the network is sure."""
    if score not in ("probability", "log drop"):
        raise ValueError(f"score must be 'probability' or 'log drop', got {score!r}")
    image = _image(model, image)
    _class_index("label", model, label)
    patch, stride = positive_int("patch", patch), positive_int("stride", stride)
    number("fill", fill)
    height, width = image.shape[:2]
    rows = conv_output_size(height, patch, stride)
    cols = conv_output_size(width, patch, stride)
    occluded = np.repeat(image[None], rows * cols, axis=0)
    for n, (i, j) in enumerate(np.ndindex(rows, cols)):
        occluded[
            n, i * stride : i * stride + patch, j * stride : j * stride + patch
        ] = fill
    if score == "probability":
        return training.predict(model, occluded)[:, label].reshape(rows, cols)
    probabilities = training.predict(model, np.concatenate([image[None], occluded]))
    logs = np.log(np.maximum(probabilities[:, label].astype(np.float64), 1e-30))
    return (logs[0] - logs[1:]).reshape(rows, cols)


def grad_cam(
    model,
    image: np.ndarray,
    class_index: int,
    layer: str | None = None,
    score: str = "logit",
):
    """Grad-CAM: the feature maps of ``layer`` (the last conv layer by default)
    weighted by the gradient of the class score, ReLU'd, scaled to [0, 1] and resized
    to the image. Returns the map and the mean absolute gradient that weighted it.

    ``score="logit"`` (the method's choice) differentiates the class score before the
    softmax, which keeps its slope however sure the network is; ``"probability"``
    differentiates the softmax output, whose gradient vanishes on a confident answer
    (docs/convnet_internals.md shows both). ``model`` is a Sequential network or a
    functional one (such as the EfficientNet-Lite0 port) ending in a softmax ``Dense``.
    """
    import tensorflow as tf

    if score not in ("logit", "probability"):
        raise ValueError(f"score must be 'logit' or 'probability', got {score!r}")
    image = _image(model, image)
    _class_index("class_index", model, class_index)
    both = _maps_and_score(model, layer, score)
    with tf.GradientTape() as tape:
        feature_maps, scores = both(image[None], training=False)
        target = scores[:, class_index]
    gradient = tape.gradient(target, feature_maps)
    weights = tf.reduce_mean(gradient, axis=(1, 2))
    cam = tf.nn.relu(tf.reduce_sum(feature_maps * weights[:, None, None, :], axis=-1))[
        0
    ]
    cam = cam / (tf.reduce_max(cam) + 1e-8)
    resized = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")
    return resized.numpy()[..., 0], float(tf.reduce_mean(tf.abs(gradient)))


def _softmax_top(model):
    """``model``'s last layer if it is a softmax ``Dense``, else an error."""
    import keras

    last = model.layers[-1]
    if getattr(last, "activation", None) is not keras.activations.softmax:
        raise ValueError(
            f"model's last layer must be a softmax Dense, got {last.name!r}"
        )
    return last


def _rebuilt(model, layer: str | None):
    """``(inputs, maps of layer, input of the softmax layer)`` of ``model``, sharing
    its weights; ``layer=None`` skips the maps (a Sequential model is rebuilt
    functionally, a functional one read as it is)."""
    import keras

    if isinstance(model, keras.Sequential):
        inputs = keras.Input(model.inputs[0].shape[1:])
        x, maps = inputs, None
        for hidden in model.layers[:-1]:
            x = hidden(x)
            if hidden.name == layer:
                maps = x
        names = conv_layer_names(model)
    else:
        names = [hidden.name for hidden in model.layers[1:-1]]
        inputs, x = model.inputs[0], model.layers[-1].input
        maps = model.get_layer(layer).output if layer in names else None
    if layer is not None and maps is None:
        raise ValueError(f"layer must be one of {names}, got {layer!r}")
    return inputs, maps, x


def _maps_and_score(model, layer: str | None, score: str = "logit"):
    """A model from ``model``'s input to ``[maps of layer, class scores]``, sharing
    its weights: the scores are logits (the softmax's input) or probabilities."""
    import keras

    last = _softmax_top(model)
    if layer is None and isinstance(model, keras.Sequential):
        layer = conv_layer_names(model)[-1]
    inputs, maps, x = _rebuilt(model, layer)
    logits = keras.ops.matmul(x, last.kernel) + last.bias  # the softmax's input
    return keras.Model(inputs, [maps, logits if score == "logit" else last(x)])


def saliency_map(model, image: np.ndarray, class_index: int) -> np.ndarray:
    """Vanilla gradient saliency: how much the class logit moves per unit change of
    each pixel, ``|d logit / d pixel|``, the largest over the colour channels."""
    import keras
    import tensorflow as tf

    image = _image(model, image)
    _class_index("class_index", model, class_index)
    last = _softmax_top(model)
    inputs, _, x = _rebuilt(model, None)
    logits = keras.Model(inputs, keras.ops.matmul(x, last.kernel) + last.bias)
    pixels = tf.convert_to_tensor(image[None])
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        target = logits(pixels, training=False)[:, class_index]
    gradient = tape.gradient(target, pixels)[0].numpy()
    return np.abs(gradient).max(axis=-1)


def randomised_copy(model, layers, seed: int | None = None):
    """A copy of ``model`` whose named ``layers`` get fresh random weights (the
    model-randomisation test of Adebayo et al., 2018): kernels drawn He-normal from
    ``seed``, biases 0, batch normalisation reset to the identity; every other layer
    keeps the trained weights."""
    import keras

    seed = resolve_seed(seed)
    names = [layer.name for layer in model.layers]
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers or any(name not in names for name in layers):
        raise ValueError(f"layers must be names from {names}, got {layers!r}")
    generator = np.random.default_rng(integer("seed", seed, minimum=0))
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in layers:
        target = copy.get_layer(name)
        fresh = []
        for variable in target.weights:
            shape, path = tuple(variable.shape), variable.path.rsplit("/", 1)[-1]
            if path in ("kernel", "depthwise_kernel"):
                fan_in = (
                    int(np.prod(shape[:-1]))
                    if path == "kernel"
                    else int(np.prod(shape[:2]))
                )
                fresh.append(generator.normal(0, np.sqrt(2 / fan_in), shape))
            elif path in ("gamma", "moving_variance"):
                fresh.append(np.ones(shape))
            else:  # bias, beta, moving_mean
                fresh.append(np.zeros(shape))
        target.set_weights([w.astype(np.float32) for w in fresh])
    return copy


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape (1: same order of
    importance, 0: unrelated; 0 if either map is constant), the sanity check's
    measure of how much a map changed."""
    from scipy.stats import spearmanr

    a, b = array("a", a), array("b", b)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {a.shape} and {b.shape}"
        )
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant map orders nothing
        return 0.0
    return float(spearmanr(a.ravel(), b.ravel()).statistic)
