"""The page template's code: seed and style at the top, run time at the bottom.

Every page starts with ``page = start_page()`` and ends with ``page.finish()``; the
header glues ``seed`` and ``runtime`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from dlbook.base import ledger
from dlbook.base.seeding import DEFAULT_SEED, check_seed, seed_everything
from dlbook.book import checks
from dlbook.book.plotting import use_book_style

#: the glue name of a page's claims ledger (a JSON list of :data:`checks.CLAIMS` rows)
CLAIMS_GLUE = "dlbook_claims"


def glue(name: str, value, display: bool = False) -> None:
    """Glue ``value`` under ``name`` for ``{glue}`` roles in the page.

    Outside a build (no IPython kernel, or no myst-nb: a reader's own Python) it does
    nothing, so every cell of a page can be pasted and run with only ``dlbook``
    installed. Returns nothing, so a glue on a cell's last line displays nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


@dataclass
class PageRun:
    """A page's execution: its seed and when it started."""

    seed: int
    started: float = field(default_factory=time.perf_counter)
    ledger_start: int = 0
    claims_start: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def finish(self) -> str:
        """Glue what a cold run of the page costs as ``runtime`` (e.g. ``"42 s"``): this
        execution plus the original time of each training restored from the store (once
        per store key, and not for one this execution trained).
        ``trainings`` says how many trainings ran, how many were restored, and how long
        this execution took. Returns the ``trainings`` sentence."""
        executed = self.elapsed()
        mine = ledger.since(self.ledger_start)
        restored = [t for t in mine if t.restored]
        # a training restored twice, or restored after this run trained it, counts once
        glue("runtime", f"{executed + ledger.cold_seconds(mine):.0f} s")
        cores = os.cpu_count() or 1
        glue("cpus", str(cores))
        sentence = (
            f"{len(mine)} training{'' if len(mine) == 1 else 's'}, {len(restored)} "
            "restored from the trained-model "
            f"store; executing took {executed:.0f} s; {sharing(_load(), cores)}"
        )
        glue("trainings", sentence)
        # the page's claims ledger, gathered by the site into "Every claim in this book"
        glue(CLAIMS_GLUE, json.dumps(checks.CLAIMS[self.claims_start :]))
        return sentence


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None


def sharing(load: float | None, cores: int) -> str:
    """Whether the run time above was measured alone, from the machine's load average
    over the last minute (``load``) on ``cores`` cores: a docs build executes two pages
    at a time, and a page that shared the cores took longer than it would alone."""
    if load is None:
        return "the machine's load was not measurable here"
    measured = f"the machine's load average over the last minute was {load:.1f} on "
    measured += f"{cores} core{'' if cores == 1 else 's'}"
    if load > cores + 0.5:
        return measured + ": other work shared the cores, so alone it runs faster"
    return measured + ": it had the cores about to itself"


SEED_VAR = "DLBOOK_SEED"


def page_seed() -> int:
    """The seed pages start with: ``$DLBOOK_SEED`` (``nox -s robustness -- seed=N``
    rebuilds the book with another), else :data:`DEFAULT_SEED`."""
    value = os.environ.get(SEED_VAR, "").strip()
    if not value:
        return DEFAULT_SEED
    try:
        return check_seed(int(value))
    except ValueError:
        raise ValueError(
            f"{SEED_VAR} must be an integer in [0, 2**32), got {value!r}"
        ) from None


def start_page(seed: int | None = None) -> PageRun:
    """Seed everything (with ``seed``, else :func:`page_seed`), apply the figure
    style, start the clock; glue ``seed``."""
    run = PageRun(
        seed_everything(page_seed() if seed is None else seed),
        ledger_start=len(ledger.TRAININGS),
        claims_start=len(checks.CLAIMS),
    )
    use_book_style()
    glue("seed", str(run.seed))
    return run
