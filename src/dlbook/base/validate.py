"""Argument checks shared by every module: a bad argument gets an error that names it
and says what was expected."""

from __future__ import annotations

import numpy as np


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def split_fractions(fractions) -> tuple[float, float, float]:
    """Return train/validation/test ``fractions`` if they are three positive numbers
    summing to 1, else raise ``ValueError``."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(
            f"fractions must be three positive numbers summing to 1, got {fractions}"
        )
    return tuple(float(f) for f in fractions)
