"""Sample quality measured the same way for every generative model, with the book's
MNIST classifier as the judge: its mean confidence, how many classes it sees, the
class histogram's distance to uniform, a Fréchet distance in its penultimate features
(calibrated by two sets of real digits), and a sharpness measure. The page that uses
it is ``docs/generative.md``.
"""

from __future__ import annotations

import numpy as np

from dlbook.base.validate import array, positive_int


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


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets:
    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Heusel et al., 2017).

    With the centred features ``A`` and ``B`` (``S_a = A^T A / (n_a - 1)``), the
    trace of the root is the sum of the singular values of ``A B^T`` divided by
    ``sqrt((n_a - 1)(n_b - 1))``; ``A`` and ``B`` are first reduced to their
    triangular QR factors, so the largest matrix factored is the smaller of the
    sample count and the feature width (1,000 digits in 1,152 features: no 1,152 x
    1,152 eigenproblem)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError("features_a and features_b must be (n, d) with the same d")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each feature set needs at least two rows")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features_a and features_b must be finite")
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mu_a, b - mu_b
    # one BLAS thread: on a busy 2-core machine threaded factorisations of this
    # size ran 10-30x slower than one thread (measured: 37 s against 1.1 s)
    with threadpool_limits(1, user_api="blas"):
        r_a = np.linalg.qr(centred_a, mode="r")
        r_b = np.linalg.qr(centred_b, mode="r")
        singular = np.linalg.svd(r_a @ r_b.T, compute_uv=False)
    scale_a, scale_b = len(a) - 1, len(b) - 1
    trace_root = singular.sum() / np.sqrt(scale_a * scale_b)
    distance = (
        np.sum((mu_a - mu_b) ** 2)
        + np.sum(centred_a**2) / scale_a
        + np.sum(centred_b**2) / scale_b
        - 2 * trace_root
    )
    return float(max(distance, 0.0))


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
