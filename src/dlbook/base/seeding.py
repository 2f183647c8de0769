"""One call that makes a page reproducible: seeds and deterministic ops.

Every page calls :func:`seed_everything` (through :func:`dlbook.book.page.start_page`)
before it builds a model, so two builds of the site print the same numbers.
"""

from __future__ import annotations

import os
import random

import numpy as np

from dlbook.base import settings

DEFAULT_SEED = 20181


def check_seed(seed: object) -> int:
    """Return ``seed`` if it is a usable seed, else raise a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    return int(seed)


def reseed(seed: int | None) -> int | None:
    """Seed Python, NumPy, Keras and TensorFlow's global generators with ``seed``
    (nothing when ``seed`` is None): the one way the book re-seeds, e.g. before
    building a model so that one seed always gives the same initial weights."""
    if seed is None:
        return None
    seed = check_seed(seed)
    settings.apply_environment(os.environ)  # before TensorFlow starts: quiet, stable
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # also seeds Python, NumPy and the TF global seed
    return seed


def seed_everything(seed: int = DEFAULT_SEED, deterministic_ops: bool = True) -> int:
    """:func:`reseed` with ``seed`` and enable deterministic TF ops.

    Used by every page (see ``dlbook.book.page.start_page``). Returns the seed so a page
    can show it. ``deterministic_ops`` makes TensorFlow pick deterministic kernels
    (slower for a few ops, identical results run to run).
    """
    seed = reseed(check_seed(seed))
    if deterministic_ops:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed


def rng(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """A NumPy generator for data generation that does not touch global state."""
    return np.random.default_rng(check_seed(seed))
