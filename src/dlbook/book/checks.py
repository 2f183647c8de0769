"""Checked claims: a page states what it measured, and the build fails if it stops holding.

Each check returns a short verdict to glue into the prose, or raises
:class:`ClaimFailed`, which stops the page's execution and so the build. Comparisons of
two methods go through one protocol, :func:`compare`: a paired test on the same test
items (and seeds), whose verdict is one method or *cannot tell*; the page writes every
variant and the verdict picks (:meth:`Comparison.says`). Every check, passed or not, is
noted in :data:`CLAIMS`, the page's claims ledger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from dlbook.book import replication

#: every check this process ran, in order: the claims ledger of the page
CLAIMS: list[dict] = []


def record_claim(
    what: str,
    verdict: str,
    measured,
    bound,
    margin: float,
    seeds: int = 1,
    p_value: float | None = None,
) -> None:
    """Note one check in :data:`CLAIMS`: what it claims, its verdict, the measured
    value, the bound or test, the margin by which it held (negative: by which a
    "cannot tell" missed a verdict), the number of seeds behind it and, for a test,
    its p-value (how near the verdict sat to the other side)."""
    row = {
        "claim": what,
        "verdict": verdict,
        "measured": measured if isinstance(measured, str) else float(measured),
        "bound": bound if isinstance(bound, str) else float(bound),
        "margin": float(margin),
        "seeds": int(seeds),
    }
    if p_value is not None:
        row["p"] = float(p_value)
    CLAIMS.append(row)


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
    record_claim(
        what, "holds" if value >= bound else "fails", value, bound, value - bound
    )
    if value < bound:
        raise ClaimFailed(
            f"{what}: measured {value:.4g}, expected at least {bound:.4g}"
        )
    return f"{value:.3g} ≥ {bound:.3g}"


def at_most(value: float, bound: float, what: str) -> str:
    """Require ``value <= bound``; return the verdict, e.g. ``"0.12 ≤ 0.5"``."""
    value, bound = _number(value, what), _number(bound, f"{what} (bound)")
    record_claim(
        what, "holds" if value <= bound else "fails", value, bound, bound - value
    )
    if value > bound:
        raise ClaimFailed(f"{what}: measured {value:.4g}, expected at most {bound:.4g}")
    return f"{value:.3g} ≤ {bound:.3g}"


def greater(a: float, b: float, what: str, margin: float = 0.0) -> str:
    """Require ``a > b + margin``; return the verdict, e.g. ``"0.91 > 0.52"``."""
    a, b = _number(a, what), _number(b, what)
    held = a > b + margin
    record_claim(what, "holds" if held else "fails", a, b + margin, a - b - margin)
    if not held:
        raise ClaimFailed(
            f"{what}: measured {a:.4g} vs {b:.4g}, expected a margin over {margin}"
        )
    return f"{a:.3g} > {b:.3g}"


def holds(condition: object, what: str) -> str:
    """Require a yes/no finding to be yes (``condition`` a bool, e.g. ``np.all(...)``);
    return ``"holds"``. For claims that are not a number against a bound."""
    if not isinstance(condition, bool | np.bool_):
        raise TypeError(f"{what}: condition must be a bool, got {condition!r}")
    record_claim(what, "holds" if condition else "fails", bool(condition), True, 0.0)
    if not condition:
        raise ClaimFailed(f"{what}: does not hold")
    return "holds"


# --- comparing two methods: one protocol --------------------------------------------

CANNOT_TELL = "cannot tell"


@dataclass(frozen=True)
class Comparison:
    """Two methods compared on the same test items (and seeds, where several were
    trained): which is better, or that the data cannot tell.

    ``difference`` is the mean score of the first minus the second (in the direction
    where larger is better), ``interval`` its 95 % interval (the paired bootstrap's,
    widened to Welch's over the seeds where both methods have several),
    ``p_value`` the two-sided test's (exact McNemar for right/wrong scores of one seed,
    else the paired bootstrap's, and with several seeds on both sides the larger of it
    and Welch's t over the seeds). ``verdict`` is a name only when the test rejects
    equality at ``alpha`` and the interval excludes zero, and no recorded rebuild on
    another page seed or numeric path failed to reproduce it (``moved``, see
    :mod:`dlbook.book.replication`); a tie is never a win."""

    names: tuple[str, str]
    difference: float
    interval: tuple[float, float]
    p_value: float
    test: str
    items: int
    seeds: tuple[int, int]
    alpha: float = 0.05
    moved: replication.Moved | None = None

    @property
    def test_verdict(self) -> str:
        """What this build's test alone says: a name, or *cannot tell*."""
        low, high = self.interval
        if self.p_value < self.alpha and low > 0:
            return self.names[0]
        if self.p_value < self.alpha and high < 0:
            return self.names[1]
        return CANNOT_TELL

    @property
    def verdict(self) -> str:
        """The test's verdict, unless a recorded rebuild did not reproduce it: then
        *cannot tell*."""
        return CANNOT_TELL if self.moved is not None else self.test_verdict

    @property
    def winner(self) -> str | None:
        """The better method's name, or ``None`` when the comparison cannot tell."""
        return None if self.verdict == CANNOT_TELL else self.verdict

    def says(self, first: str, second: str, tie: str) -> str:
        """The sentence for the verdict: ``first`` when the first method is better,
        ``second`` when the second is, ``tie`` when the data cannot tell. A page
        writes all three; the measurement picks."""
        return {self.names[0]: first, self.names[1]: second}.get(self.verdict, tie)

    def summary(self, scale: float = 1.0, unit: str = "") -> str:
        """E.g. ``"+1.2 points [−0.3, +2.6], McNemar p = 0.12, 1,000 shared items,
        1 seed each: cannot tell"``; ``scale`` multiplies the difference (100 for
        points of accuracy)."""
        low, high = (scale * v for v in self.interval)
        seeds = (
            f"{self.seeds[0]} seed{'s' * (self.seeds[0] != 1)} each"
            if self.seeds[0] == self.seeds[1]
            else f"{self.seeds[0]} and {self.seeds[1]} seeds"
        )
        return (
            f"{scale * self.difference:+.3g}{unit} [{low:+.3g}, {high:+.3g}], "
            f"{self.test} {_p(self.p_value)}, {self.items:,} shared items, "
            f"{seeds}: {self.replication_note()}{self.verdict}"
        )

    def replication_note(self) -> str:
        """``""``, or where a recorded rebuild did not reproduce the test's verdict,
        e.g. ``"LSTM by this test, cannot tell with page seed 7 (p = 0.22), so "``."""
        if self.moved is None:
            return ""
        p = f" ({_p(self.moved.p_value)})" if self.moved.p_value is not None else ""
        return (
            f"{self.test_verdict} by this test, {self.moved.verdict} with "
            f"{self.moved.label}{p}, so "
        )


def _p(p_value: float) -> str:
    """``p = 0.032``; below a thousandth (where a bootstrap drew no resample across
    zero, or an exact test underflows) ``p < 0.001``."""
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.2g}"


def _scores(values, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(
            f"{what}: expected per-item scores, shape (items,) or (seeds, items), "
            f"got shape {array.shape}"
        )
    if np.isnan(array).any():
        raise ClaimFailed(f"{what}: a per-item score is NaN")
    return array


def mcnemar_p(a_right, b_right) -> float:
    """Exact two-sided McNemar p-value for paired right/wrong outcomes: under equal
    accuracy, the items only one method gets right split like fair coin flips."""
    a_right, b_right = np.asarray(a_right, bool), np.asarray(b_right, bool)
    only_a = int(np.sum(a_right & ~b_right))
    only_b = int(np.sum(~a_right & b_right))
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def welch_over_seeds(a_means, b_means, level: float = 0.95):
    """Welch's t-test on each seed's mean score, two methods with two or more seeds
    each: the p-value and the ``level`` interval of the difference of the means. Seeds
    are the units here, so a gap that another seed could undo cannot pass (with 3
    seeds each, the t quantile is about 4)."""
    from scipy import stats

    a_means = np.asarray(a_means, dtype=float)
    b_means = np.asarray(b_means, dtype=float)
    if len(a_means) < 2 or len(b_means) < 2:
        raise ValueError(
            f"Welch's test needs two or more seeds per method, got {len(a_means)} "
            f"and {len(b_means)}"
        )
    difference = float(a_means.mean() - b_means.mean())
    va, vb = a_means.var(ddof=1) / len(a_means), b_means.var(ddof=1) / len(b_means)
    error = math.sqrt(va + vb)
    if error == 0.0:  # no seed moved either method: the seeds add no doubt
        return (1.0 if difference == 0 else 0.0), difference, difference
    freedom = (va + vb) ** 2 / (va**2 / (len(a_means) - 1) + vb**2 / (len(b_means) - 1))
    t = difference / error
    p_value = float(2 * stats.t.sf(abs(t), freedom))
    half = float(stats.t.ppf(0.5 + level / 2, freedom)) * error
    return p_value, difference - half, difference + half


def compare(
    a,
    b,
    names: tuple[str, str] = ("A", "B"),
    higher_is_better: bool = True,
    alpha: float = 0.05,
    resamples: int = 4000,
    block: int = 1,
    claim: str | None = None,
) -> Comparison:
    """Compare two methods on the same test items: ``a`` and ``b`` are per-item
    scores (1/0 for right/wrong, or any per-item score such as an error), shape
    ``(items,)`` or ``(seeds, items)`` with the items in the same order. The interval
    comes from a paired bootstrap that resamples the items (shared by both methods)
    and, with several seeds, each method's seeds; the p-value from the exact McNemar
    test for right/wrong scores of one seed each, else from that bootstrap. With two or
    more seeds on both sides, Welch's t-test over the seeds' mean scores must reject
    too (:func:`welch_over_seeds`): its interval widens the bootstrap's and its p-value
    is taken when larger, so a gap the seeds disagree on cannot tell. ``block``:
    for items in time order whose errors run together (forecasts of neighbouring
    weeks), resample runs of that many neighbours (a moving-block bootstrap) instead of
    single items. Seeded, so the same scores always give the same verdict. ``claim``:
    the claims ledger's name for it (default ``"A vs B"``), to tell apart two
    comparisons of the same pair on one page."""
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different names, got {names!r}")
    a, b = _scores(a, f"{names[0]} scores"), _scores(b, f"{names[1]} scores")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"the two methods must be scored on the same items: {a.shape[1]} vs "
            f"{b.shape[1]}"
        )
    sign = 1.0 if higher_is_better else -1.0
    a, b = sign * a, sign * b
    items = a.shape[1]
    difference = float(a.mean() - b.mean())
    if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= items:
        raise ValueError(f"block must be an integer from 1 to {items}, got {block!r}")
    generator = np.random.default_rng(20181)
    runs = -(-items // block)
    starts = generator.integers(0, items - block + 1, size=(resamples, runs))
    pick = (starts[:, :, None] + np.arange(block)).reshape(resamples, -1)[:, :items]
    seeds_a = generator.integers(0, len(a), size=(resamples, len(a)))
    seeds_b = generator.integers(0, len(b), size=(resamples, len(b)))
    per_item_a = np.stack([a[s].mean(axis=0) for s in seeds_a]) if len(a) > 1 else None
    per_item_b = np.stack([b[s].mean(axis=0) for s in seeds_b]) if len(b) > 1 else None
    mean_a = (
        np.take_along_axis(per_item_a, pick, axis=1).mean(axis=1)
        if per_item_a is not None
        else a[0][pick].mean(axis=1)
    )
    mean_b = (
        np.take_along_axis(per_item_b, pick, axis=1).mean(axis=1)
        if per_item_b is not None
        else b[0][pick].mean(axis=1)
    )
    draws = mean_a - mean_b
    low, high = (float(v) for v in np.quantile(draws, [0.025, 0.975]))
    binary = np.isin(a, (0.0, sign)).all() and np.isin(b, (0.0, sign)).all()
    if len(a) == len(b) == 1 and binary and block == 1:
        p_value, test = mcnemar_p(a[0] != 0, b[0] != 0), "McNemar"
    else:
        share = min(np.mean(draws <= 0), np.mean(draws >= 0))
        test = "paired bootstrap" if block == 1 else f"paired block bootstrap ({block})"
        p_value = float(min(1.0, 2 * share))
    if len(a) > 1 and len(b) > 1:
        # a handful of seeds resampled understates how much another seed could move a
        # method: the seeds' own test must agree (a winner needs both)
        seed_p, seed_low, seed_high = welch_over_seeds(a.mean(axis=1), b.mean(axis=1))
        p_value = max(p_value, seed_p)
        low, high = min(low, seed_low), max(high, seed_high)
        test += " and Welch's t over seeds"
    if np.array_equal(a, b):  # the same scores: an exact tie
        p_value, low, high = 1.0, 0.0, 0.0
    comparison = Comparison(
        names=tuple(names),
        difference=difference,
        interval=(low, high),
        p_value=p_value,
        test=test,
        items=items,
        seeds=(len(a), len(b)),
        alpha=alpha,
    )
    name = claim or f"{names[0]} vs {names[1]}"
    # the ledger keeps what this build's test said: a rebuild compares like with like
    record_claim(
        name,
        comparison.test_verdict,
        measured=difference,
        bound=f"{test} at alpha={alpha}",
        margin=min(abs(low), abs(high)) * (1 if comparison.winner else -1),
        seeds=max(len(a), len(b)),
        p_value=p_value,
    )
    if comparison.winner is not None:
        moved = replication.moved(name, comparison.test_verdict, difference)
        comparison = replace(comparison, moved=moved)
    return comparison


def select(validation: dict, higher_is_better: bool = True) -> str:
    """The name whose validation score is best (the first such in ``validation``'s
    order on an exact tie): model choice reads validation scores only, never test
    scores, so the test comparison that follows stays honest."""
    if not validation:
        raise ValueError("validation must map at least one name to its score")
    scores = {
        name: _number(v, f"validation score of {name}")
        for name, v in validation.items()
    }
    best = (max if higher_is_better else min)(scores.values())
    return next(name for name, v in scores.items() if v == best)
