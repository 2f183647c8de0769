"""A winner that a recorded rebuild on another page seed did not reproduce reads
*cannot tell*, with both results; anything the record does not hold keeps its test's
verdict (dlbook.book.replication, checks.compare)."""

import json

import numpy as np
import pytest

from dlbook.book import checks, replication
from dlbook_site import claims


def right_wrong(n_right, n):
    scores = np.zeros(n)
    scores[:n_right] = 1
    return scores


@pytest.fixture
def records(tmp_path, monkeypatch):
    """An empty records folder the package reads instead of docs/robustness."""
    monkeypatch.setattr(replication, "RECORDS", tmp_path)
    replication._records.cache_clear()
    yield tmp_path
    replication._records.cache_clear()


def record(folder, rows, other_rows, variant="seed=7"):
    """What ``nox -s robustness`` writes: this build's claims against the rebuild's."""
    (folder / "this.json").write_text(json.dumps(rows))
    (folder / "other.json").write_text(json.dumps(other_rows))
    target = folder / f"{variant.replace('=', '-')}.json"
    claims.main(
        [
            str(folder / "this.json"),
            str(folder / "other.json"),
            "--record",
            str(target),
            variant,
        ]
    )
    (folder / "this.json").unlink()
    (folder / "other.json").unlink()
    replication._records.cache_clear()


def test_a_winner_the_rebuild_did_not_reproduce_cannot_tell(records, monkeypatch):
    monkeypatch.setattr(checks, "CLAIMS", [])
    a, b = right_wrong(950, 1000), right_wrong(850, 1000)
    first = checks.compare(a, b, names=("p", "q"))
    assert first.verdict == "p" and first.moved is None  # no record yet
    row = {"page": "x", **checks.CLAIMS[0]}
    record(records, [row], [{**row, "verdict": "cannot tell", "p": 0.2}])
    again = checks.compare(a, b, names=("p", "q"))
    assert again.test_verdict == "p"
    assert again.verdict == checks.CANNOT_TELL and again.winner is None
    assert again.says("p ahead", "q ahead", "cannot tell") == "cannot tell"
    assert again.summary().endswith(
        "p by this test, cannot tell with page seed 7 (p = 0.2), so cannot tell"
    )
    # the ledger keeps the test's verdict: the next rebuild compares like with like
    assert checks.CLAIMS[-1]["verdict"] == "p"


def test_a_result_the_record_does_not_hold_keeps_its_verdict(records):
    a, b = right_wrong(950, 1000), right_wrong(850, 1000)
    start = len(checks.CLAIMS)
    checks.compare(a, b, names=("p", "q"))
    row = {"page": "x", **checks.CLAIMS[start]}
    record(records, [row], [{**row, "verdict": "cannot tell"}])
    # other numbers (the page changed, or another machine): the record is not about them
    assert checks.compare(a, right_wrong(860, 1000), names=("p", "q")).verdict == "p"
    # another claim name, or a record of a verdict that held
    assert checks.compare(a, b, names=("p", "q"), claim="other").verdict == "p"
    record(records, [row], [row])
    assert checks.compare(a, b, names=("p", "q")).verdict == "p"
    # a "cannot tell" is never turned into anything else
    tie = checks.compare(right_wrong(10, 20), right_wrong(10, 20), names=("p", "q"))
    assert tie.verdict == checks.CANNOT_TELL and tie.moved is None


def test_the_label_names_the_rebuild():
    assert replication.Moved("seed=7", "a", 0.1).label == "page seed 7"
    assert replication.Moved("onednn", "a", None).label == "oneDNN kernels"
