"""The trainings of this process, as the training core records them: how long each
took and whether it was restored from the store. The page template reads it to report
what a cold run of the page costs (:meth:`dlbook.book.page.PageRun.finish`)."""

from __future__ import annotations

TRAININGS: list[tuple[float, bool]] = []


def record(seconds: float, restored: bool) -> None:
    """Note one training: its (original) seconds and whether it was restored."""
    TRAININGS.append((float(seconds), bool(restored)))


def since(start: int) -> list[tuple[float, bool]]:
    """The trainings recorded after the first ``start`` ones."""
    return TRAININGS[start:]
