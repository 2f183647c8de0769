"""One call that makes a page reproducible: seeds and deterministic ops; and the book's
one seed convention.

Every page calls :func:`seed_everything` (through :func:`dlbook.book.page.start_page`)
before it builds a model, so two builds of the site print the same numbers. Every
``seed`` argument in ``dlbook`` defaults to ``None``, which means *the page's seed*: the
one the last :func:`seed_everything` was given (:data:`DEFAULT_SEED` before any). So the
page's seed reaches every training, split and draw that does not name a seed of its own.
"""

from __future__ import annotations

import os
import random

import numpy as np

from dlbook.base import settings

DEFAULT_SEED = 20181

_page_seed: int | None = None  # set by seed_everything


def current_seed() -> int:
    """The page's seed: the one :func:`seed_everything` was last given, else
    :data:`DEFAULT_SEED`."""
    return DEFAULT_SEED if _page_seed is None else _page_seed


def resolve_seed(seed: object) -> int:
    """``seed`` checked (:func:`check_seed`), or the page's seed when it is None."""
    return current_seed() if seed is None else check_seed(seed)


def check_seed(seed: object) -> int:
    """Return ``seed`` if it is a usable seed, else raise a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    return int(seed)


def reseed(seed: int | None = None) -> int:
    """Seed Python, NumPy, Keras and TensorFlow's global generators with ``seed`` (the
    page's seed when None): the one way the book re-seeds, e.g. before building a model
    so that one seed always gives the same initial weights."""
    seed = resolve_seed(seed)
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
    global _page_seed
    _page_seed = seed = reseed(check_seed(seed))
    if deterministic_ops:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed


def rng(seed: int | None = None) -> np.random.Generator:
    """A NumPy generator for data generation that does not touch global state (seeded
    with the page's seed when ``seed`` is None)."""
    return np.random.default_rng(resolve_seed(seed))
