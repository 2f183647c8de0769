"""Sample quality measured the same way for every generative model, with the book's
MNIST classifier as the judge: its mean confidence, how many classes it sees, the
class histogram's distance to uniform, a Fréchet distance in its penultimate features
(calibrated by two sets of real digits), and a sharpness measure. The page that uses
it is ``docs/generative.md``.
"""

from __future__ import annotations

import numpy as np

from dlbook.base.validate import array, positive_int
from dlbook.frechet import frechet_distance


def _images(images) -> np.ndarray:
    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise ValueError(f"images must be a batch of 28x28 images, got shape {x.shape}")
    return x


def feature_model(classifier):
    """The classifier cut at its penultimate layer (the input of its softmax layer):
    the features the Fréchet distance compares, as FID does with Inception's."""
    import keras

    last = classifier.layers[-1]
    return keras.Model(classifier.inputs[0], last.input, name="penultimate")


def class_histogram(probabilities, classes: int = 10) -> np.ndarray:
    """Share of samples the classifier puts in each class (argmax of ``probabilities``)."""
    classes = positive_int("classes", classes)
    shape = array("probabilities", probabilities).shape
    if len(shape) != 2 or not shape[0]:
        raise ValueError(f"probabilities must be (samples, classes), got shape {shape}")
    labels = np.argmax(np.asarray(probabilities), axis=1)
    return np.bincount(labels, minlength=classes)[:classes] / len(labels)


def distance_to_uniform(histogram) -> float:
    """Total-variation distance of a class histogram to the uniform one: 0 when every
    class is equally frequent, 0.9 when all samples fall in one class of ten."""
    histogram = array("histogram", histogram, ndim=1, finite=True, dtype=np.float64)
    if not len(histogram) or histogram.min() < 0:
        raise ValueError(f"histogram must be class shares >= 0, got {histogram}")
    return float(0.5 * np.abs(histogram - 1.0 / len(histogram)).sum())


def sharpness(images, per_image: bool = False):
    """Mean variance of each image's Laplacian (the focus measure of photography):
    blurred digits score low, crisp strokes high. ``per_image=True``: one value per
    image (an array), to compare two sets image by image."""
    from scipy import ndimage

    x = _images(images)[..., 0].astype(np.float64)
    values = np.array([ndimage.laplace(one).var() for one in x])
    return values if per_image else float(values.mean())


def score(images, classifier, reference_features, features=None) -> dict:
    """Every measure of one set of ``images`` ``(n, 28, 28)``: ``confidence`` (the
    classifier's mean top probability), ``classes_seen`` (classes with at least 2 %
    of the samples), ``distance_to_uniform``, ``frechet`` (to ``reference_features``,
    the penultimate features of real digits) and ``sharpness``. ``features`` is
    :func:`feature_model` of ``classifier`` (built once and passed in to save time)."""
    from dlbook import training

    x = _images(images)
    features = feature_model(classifier) if features is None else features
    probabilities = training.predict(classifier, x)
    histogram = class_histogram(probabilities)
    return {
        "confidence": float(np.max(probabilities, axis=1).mean()),
        "classes_seen": int(np.sum(histogram >= 0.02)),
        "distance_to_uniform": distance_to_uniform(histogram),
        "frechet": frechet_distance(training.predict(features, x), reference_features),
        "sharpness": sharpness(x),
    }
