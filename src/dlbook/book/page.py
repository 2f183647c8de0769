"""The page template's code: seed and style at the top, run time at the bottom.

Every page starts with ``page = start_page()`` and ends with ``page.finish()``; the
header glues ``seed`` and ``runtime`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from dlbook.base.seeding import DEFAULT_SEED, seed_everything
from dlbook.book.plotting import use_book_style


def glue(name: str, value, display: bool = False) -> None:
    """Glue ``value`` under ``name`` for ``{glue}`` roles in the page.

    Returns nothing, so a glue on a cell's last line displays nothing by accident.
    """
    from myst_nb import glue as myst_glue

    myst_glue(name, value, display=display)


@dataclass
class PageRun:
    """A page's execution: its seed and when it started."""

    seed: int
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def finish(self) -> str:
        """Glue the measured run time as ``runtime`` (e.g. ``"42 s"``) and return it."""
        runtime = f"{self.elapsed():.0f} s"
        glue("runtime", runtime)
        glue("cpus", str(os.cpu_count()))
        return runtime


def start_page(seed: int = DEFAULT_SEED) -> PageRun:
    """Seed everything, apply the figure style, start the clock; glue ``seed``."""
    run = PageRun(seed_everything(seed))
    use_book_style()
    glue("seed", str(run.seed))
    return run
