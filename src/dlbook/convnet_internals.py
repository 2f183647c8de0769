"""Looking inside a trained convnet: feature maps, occlusion and Grad-CAM.

Used by ``docs/convnet_internals.md`` only, so editing these tools re-executes that
page alone.
"""

from __future__ import annotations

import numpy as np

from dlbook import training
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
) -> np.ndarray:
    """Probability of ``label`` as a ``patch`` x ``patch`` square of ``fill`` slides over
    the image: low values mark the parts the answer depends on (cs231n's heat-map)."""
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
    return training.predict(model, occluded)[:, label].reshape(rows, cols)


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
    (docs/convnet_internals.md shows both).
    """
    import keras
    import tensorflow as tf

    if score not in ("logit", "probability"):
        raise ValueError(f"score must be 'logit' or 'probability', got {score!r}")
    image = _image(model, image)
    _class_index("class_index", model, class_index)
    last = model.layers[-1]
    if getattr(last, "activation", None) is not keras.activations.softmax:
        raise ValueError(
            f"model's last layer must be a softmax Dense, got {last.name!r}"
        )
    layer = layer or conv_layer_names(model)[-1]
    inputs = keras.Input(model.inputs[0].shape[1:])
    x, maps = inputs, None
    for hidden in model.layers[:-1]:  # rebuilt functionally, sharing the weights
        x = hidden(x)
        if hidden.name == layer:
            maps = x
    if maps is None:
        raise ValueError(
            f"layer must be one of {conv_layer_names(model)}, got {layer!r}"
        )
    logits = keras.ops.matmul(x, last.kernel) + last.bias  # the softmax's input
    both = keras.Model(inputs, [maps, logits if score == "logit" else last(x)])
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
