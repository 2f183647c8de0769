"""Checked claims: a page states what it measured, and the build fails if it stops holding.

Each check returns a short verdict to glue into the prose, or raises
:class:`ClaimFailed`, which stops the page's execution and so the build.
"""

from __future__ import annotations

import math

import numpy as np


class ClaimFailed(AssertionError):
    """A claim a page makes no longer holds for the numbers it just measured."""


def _number(value: object, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected a number, got {value!r}") from None
    if math.isnan(number):
        raise ClaimFailed(f"{what}: measured NaN")
    return number


def at_least(value: float, bound: float, what: str) -> str:
    """Require ``value >= bound``; return the verdict, e.g. ``"0.962 ≥ 0.9"``."""
    value, bound = _number(value, what), _number(bound, f"{what} (bound)")
    if value < bound:
        raise ClaimFailed(
            f"{what}: measured {value:.4g}, expected at least {bound:.4g}"
        )
    return f"{value:.3g} ≥ {bound:.3g}"


def at_most(value: float, bound: float, what: str) -> str:
    """Require ``value <= bound``; return the verdict, e.g. ``"0.12 ≤ 0.5"``."""
    value, bound = _number(value, what), _number(bound, f"{what} (bound)")
    if value > bound:
        raise ClaimFailed(f"{what}: measured {value:.4g}, expected at most {bound:.4g}")
    return f"{value:.3g} ≤ {bound:.3g}"


def greater(a: float, b: float, what: str, margin: float = 0.0) -> str:
    """Require ``a > b + margin``; return the verdict, e.g. ``"0.91 > 0.52"``."""
    a, b = _number(a, what), _number(b, what)
    if not a > b + margin:
        raise ClaimFailed(
            f"{what}: measured {a:.4g} vs {b:.4g}, expected a margin over {margin}"
        )
    return f"{a:.3g} > {b:.3g}"


def holds(condition: object, what: str) -> str:
    """Require a yes/no finding to be yes (``condition`` a bool, e.g. ``np.all(...)``);
    return ``"holds"``. For claims that are not a number against a bound."""
    if not isinstance(condition, bool | np.bool_):
        raise TypeError(f"{what}: condition must be a bool, got {condition!r}")
    if not condition:
        raise ClaimFailed(f"{what}: does not hold")
    return "holds"
