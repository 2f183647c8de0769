"""The trainings of this process, as the training core records them: which store key,
how long it took and whether it was restored from the store. The page template reads it
to report what a cold run of the page costs (:meth:`dlbook.book.page.PageRun.finish`)."""

from __future__ import annotations

from typing import NamedTuple


class Training(NamedTuple):
    """One training as the core saw it: ``seconds`` is the original training time
    (stored with the weights when ``restored``)."""

    key: str
    seconds: float
    restored: bool


TRAININGS: list[Training] = []


def record(key: str, seconds: float, restored: bool) -> None:
    """Note one training: its store key, its (original) seconds, whether restored."""
    TRAININGS.append(Training(str(key), float(seconds), bool(restored)))


def since(start: int) -> list[Training]:
    """The trainings recorded after the first ``start`` ones."""
    return TRAININGS[start:]


def cold_seconds(trainings: list[Training]) -> float:
    """What restoring ``trainings`` saved against a cold run: the original seconds of
    each restored key once, leaving out keys this run trained itself (their time is
    already in the run's clock) and a key restored twice (a cold run trains it once)."""
    trained = {t.key for t in trainings if not t.restored}
    saved = {t.key: t.seconds for t in trainings if t.restored and t.key not in trained}
    return sum(saved.values())
