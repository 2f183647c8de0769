"""What every data module stands on: the :class:`Dataset` and :class:`Splits` records
and :func:`require`, which imports an optional package or names its install.

A leaf of :mod:`dlbook.data`: the package, its generators and its archive readers all
import it, and it imports none of them (so no import of the package runs in a circle).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np


class MissingDependencyError(ImportError):
    """An optional package that provides a dataset is not installed."""


def require(module: str, install: str):
    """Import ``module`` or raise :class:`MissingDependencyError` saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this dataset needs the Python package {module!r}: "
            f"install it with `pip install {install}` (or `pip install dlbook[data]`)"
        ) from exc


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x``, targets ``y`` and where they came from (shown on the pages)."""

    x: np.ndarray
    y: np.ndarray
    name: str
    source: str
    notes: str = field(default="")

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test parts of a dataset, as ``(x, y)`` pairs."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
