"""Argument checks shared by every module: a bad argument gets an error that names it
and says what was expected (``TypeError`` for a wrong kind of value, ``ValueError``
for a wrong value), before any library fails on it deep inside.

The checks only read: an argument that passes comes back unchanged (or as the plain
Python number it holds), so checking never changes a result."""

from __future__ import annotations

import math
import numbers

import numpy as np


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def integer(name: str, value: object, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number (an ``int``, not a float or a
    bool) of at least ``minimum``, else raise ``TypeError`` / ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool), else
    raise ``TypeError`` (not a number) or ``ValueError`` (NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r:.60}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def in_range(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite number in the interval from ``low``
    to ``high`` (closed unless ``low_open`` / ``high_open``; ``None``: unbounded), else
    raise an error that names ``name`` and the interval."""
    given, value = value, number(name, value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        if high is None:
            wanted = f"a number {'>' if low_open else '>='} {low:g}"
        elif low is None:
            wanted = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            wanted = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {wanted}, got {given!r}")
    return value


def probability(name: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1], else an error naming ``name``."""
    return in_range(name, value, 0.0, 1.0)


def positive_number(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number above 0, else an error naming it."""
    given, value = value, number(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, got {given!r}")
    return value


def split_fractions(fractions) -> tuple[float, float, float]:
    """Return train/validation/test ``fractions`` if they are three positive numbers
    summing to 1, else raise ``ValueError``."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(
            f"fractions must be three positive numbers summing to 1, got {fractions}"
        )
    return tuple(float(f) for f in fractions)


def array(
    name: str,
    value: object,
    ndim: int | tuple[int, ...] | None = None,
    *,
    numeric: bool = True,
    finite: bool = False,
    dtype=None,
) -> np.ndarray:
    """``np.asarray(value, dtype)`` if ``value`` is an array (not ``None``) with
    ``ndim`` axes (one of them, for a tuple), numbers unless ``numeric=False``, all
    finite with ``finite=True``; else an error naming ``name``."""
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        result = np.asarray(value, dtype)
    except (TypeError, ValueError) as error:  # ragged lists, strings as numbers
        raise TypeError(
            f"{name} must be an array, got {value!r:.60} ({error})"
        ) from None
    if ndim is not None:
        wanted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if result.ndim not in wanted:
            axes = " or ".join(str(n) for n in wanted)
            raise ValueError(f"{name} must have {axes} axes, got shape {result.shape}")
    if numeric and not (
        np.issubdtype(result.dtype, np.number) or result.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {result.dtype}")
    if finite and numeric and not np.all(np.isfinite(result)):
        raise ValueError(f"{name} must hold finite numbers (no NaN or infinity)")
    return result


def same_length(**named) -> int:
    """The common length of the named sequences, or a ``ValueError`` naming them:
    ``same_length(x=x, y=y)``."""
    lengths = {}
    for name, value in named.items():
        if value is None:
            raise TypeError(f"{name} must be a sequence, got None")
        try:
            lengths[name] = len(value)
        except TypeError:
            raise TypeError(
                f"{name} must be a sequence, got {type(value).__name__}"
            ) from None
    if len(set(lengths.values())) > 1:
        names = " and ".join(lengths)
        got = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"{names} must have the same length, got {got}")
    return next(iter(lengths.values()), 0)


def labels(name: str, value: object, classes: int) -> np.ndarray:
    """``value`` as an array of integer class labels in ``0 .. classes - 1``, or an
    error naming ``name`` (a negative label would silently index from the end)."""
    result = array(name, value)
    if result.size and not np.issubdtype(result.dtype, np.integer):
        raise TypeError(f"{name} must hold integer labels, got dtype {result.dtype}")
    if result.size and (result.min() < 0 or result.max() >= classes):
        raise ValueError(
            f"{name} must be class labels in 0..{classes - 1}, got values "
            f"{result.min()}..{result.max()}"
        )
    return result


def texts(
    name: str, value: object, *, each_str: bool = True, empty: bool = False
) -> list:
    """``value`` as a list of texts (non-empty unless ``empty``), or an error naming
    ``name``: a single ``str`` is not a list of texts (it would be read as its
    characters)."""
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(
            f"{name} must be a sequence of texts (a list of str), got {value!r:.60}"
        )
    try:
        result = list(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of texts, got {type(value).__name__}"
        ) from None
    if not result and not empty:
        raise ValueError(f"{name} must hold at least one text, got none")
    if each_str:
        wrong = next((t for t in result if not isinstance(t, str)), None)
        if wrong is not None:
            raise TypeError(f"{name} must hold str texts, got {wrong!r:.60}")
    return result


def static_shape(value) -> tuple | None:
    """The shape of an array or tensor as a tuple, ``None`` for a dimension that is
    unknown (symbolic), or ``None`` altogether when even the rank is unknown.
    Reads the static shape only: safe inside a traced ``tf.function``."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return np.shape(value)
    if getattr(shape, "rank", 0) is None:  # a TensorShape of unknown rank
        return None
    return tuple(None if d is None else int(d) for d in shape)


def shapes_agree(a: tuple | None, b: tuple | None) -> bool:
    """Whether two static shapes may be equal: same rank, the same size on every axis
    where both are known (``None`` for an unknown shape agrees with any)."""
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def examples(name: str, value: object) -> int | None:
    """How many examples ``value`` holds: the length of an array, the common length
    of a dict's (or a list's) arrays, one input or target each; ``None`` when it
    cannot be told (a generator, a dataset). An error naming ``name`` for ``None`` or
    for parts of different lengths."""
    if value is None:
        raise TypeError(f"{name} must hold arrays, got None")
    if isinstance(value, dict) or (
        isinstance(value, list | tuple) and value and hasattr(value[0], "shape")
    ):
        parts = value.values() if isinstance(value, dict) else value
        counts = {len(p) for p in parts if getattr(p, "ndim", 1)}
        if len(counts) > 1:
            raise ValueError(
                f"{name} must hold one row per example in each of its arrays, got "
                f"lengths {sorted(counts)}"
            )
        return counts.pop() if counts else None
    shape = getattr(value, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) and shape[0] is not None else None
    try:
        return len(value)
    except TypeError:
        return None


def pair(name: str, value: object) -> int | None:
    """Check that ``value`` is an ``(inputs, targets)`` pair with as many targets as
    inputs; return that count (``None`` when it cannot be told)."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        got = (
            f"a {type(value).__name__} of {len(value)}"
            if isinstance(value, tuple | list)
            else f"{value!r:.60}"
        )
        raise ValueError(f"{name} must be an (inputs, targets) pair, got {got}")
    inputs, targets = value
    count = examples(f"{name}'s inputs", inputs)
    if targets is None:  # a model with its own loss (a VAE): inputs only
        return count
    other = examples(f"{name}'s targets", targets)
    if count is not None and other is not None and count != other:
        raise ValueError(
            f"{name} must have one target per input, got {count} inputs and "
            f"{other} targets"
        )
    return count
