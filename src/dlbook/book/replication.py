"""Recorded rebuilds: did another page seed (or numeric path) reach the same verdict?

``nox -s robustness`` rebuilds the whole book with another page seed or with oneDNN
kernels and writes, per claim, both builds' verdicts to ``docs/robustness/<variant>.json``
(a maintainer commits it). :func:`checks.compare` asks :func:`moved` whether that
rebuild reproduced the very result it just computed (the same claim, verdict and
measured difference): a winner the rebuild did not reproduce is reported as *cannot
tell*, with both results, since two draws that disagree establish neither. A result the
record does not hold (the page changed since, or another machine computed other numbers)
keeps its own test's verdict. Outside a source checkout there are no records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: where the recorded rebuilds live: ``docs/robustness`` of the source checkout
RECORDS = Path(__file__).resolve().parents[3] / "docs" / "robustness"


@dataclass(frozen=True)
class Moved:
    """What a recorded rebuild said of a result it did not reproduce."""

    variant: str  # "seed=7", "onednn"
    verdict: str
    p_value: float | None

    @property
    def label(self) -> str:
        """``"page seed 7"``, ``"oneDNN kernels"``."""
        return label(self.variant)


def label(variant: str) -> str:
    """How prose names a rebuild: ``"seed=7"`` → ``"page seed 7"``, ``"onednn"`` →
    ``"oneDNN kernels"``."""
    if variant.startswith("seed="):
        return f"page seed {variant[5:]}"
    return {"onednn": "oneDNN kernels"}.get(variant, variant)


def records(folder: Path) -> list[Path]:
    """The recorded rebuilds in ``folder`` (``*.json``), by name."""
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_record(path: Path) -> dict:
    """A recorded rebuild: its variant, the commit it compared, and per claim both
    builds' verdicts (as ``dlbook_site.claims.held`` returns them)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    missing = {"variant", "commit", "claims"} - set(record)
    if missing:
        raise ValueError(f"{path}: a robustness record needs {sorted(missing)}")
    return record


@lru_cache(maxsize=4)
def _records(folder: Path) -> tuple[tuple[str, tuple[dict, ...]], ...]:
    """Each record's variant and its claims that did not hold, by file name."""
    found = []
    for path in records(folder):
        record = load_record(path)
        rows = tuple(r for r in record["claims"] if not r.get("held", True))
        found.append((record["variant"], rows))
    return tuple(found)


def moved(claim: str, verdict: str, measured: float) -> Moved | None:
    """The :class:`Moved` of the first recorded rebuild that did not reproduce this
    result (``claim`` named alike, reaching ``verdict`` with this ``measured`` value in
    the build it checked), or ``None``."""
    for variant, rows in _records(RECORDS):
        for row in rows:
            if (
                row.get("claim") == claim
                and row.get("verdict") == verdict
                and isinstance(row.get("measured"), int | float)
                and math.isclose(row["measured"], measured, rel_tol=1e-9, abs_tol=0)
            ):
                return Moved(variant, str(row["other verdict"]), row.get("other p"))
    return None
