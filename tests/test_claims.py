"""The claims ledger: every check lands in it, the page glues it, the site gathers it
into "Every claim in this book" (dlbook_site.claims)."""

import json

import pytest

from dlbook.book import checks
from dlbook.book.page import CLAIMS_GLUE
from dlbook_site import claims


def glue_file(folder, page, rows):
    """A glue.json as myst-nb writes it: the glued value's repr as text/plain."""
    data = {
        CLAIMS_GLUE: {
            "output_type": "display_data",
            "data": {"text/plain": repr(json.dumps(rows))},
        },
        "seed": {"data": {"text/plain": "'20181'"}},
    }
    path = folder / f"{page}.glue.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_the_site_reads_the_name_the_page_glues():
    assert claims.GLUE_NAME == CLAIMS_GLUE


def test_gather_reads_every_page_ledger_in_page_order(tmp_path):
    start = len(checks.CLAIMS)
    checks.at_least(0.97, 0.9, "acc")
    checks.compare([1, 1, 0, 1], [1, 0, 0, 1], names=("a", "b"))
    glue_file(tmp_path, "beta", checks.CLAIMS[start:])
    glue_file(tmp_path, "alpha", checks.CLAIMS[start : start + 1])
    (tmp_path / "gamma.glue.json").write_text(json.dumps({"seed": {}}))  # no ledger
    rows = claims.gather(tmp_path)
    assert [(r["page"], r["claim"]) for r in rows] == [
        ("alpha", "acc"),
        ("beta", "acc"),
        ("beta", "a vs b"),
    ]
    assert rows[2]["verdict"] == checks.CANNOT_TELL
    assert claims.summary(rows) == (
        "3 checks on 2 pages; 1 of them compare two methods, of which 1 cannot tell."
    )


def test_the_ledger_page_is_read_again_only_when_its_claims_can_change(tmp_path):
    from types import SimpleNamespace

    executed, html = tmp_path / "jupyter_execute", tmp_path / "html"
    html.mkdir()
    row = {"claim": "acc", "verdict": "holds", "measured": 0.97, "bound": 0.9}
    glue_file(executed, "alpha", [row])
    app = SimpleNamespace(outdir=str(html))
    env = SimpleNamespace(dlbook_claims_pages={"claims"}, dlbook_stale_pages=set())

    def outdated(added=frozenset(), changed=frozenset()):
        return claims._on_env_get_outdated(app, env, set(added), set(changed), set())

    assert outdated() == ["claims"]  # no table written yet
    (html / "claims.json").write_text(json.dumps(claims.gather(executed)))
    assert outdated() == []  # an unchanged rebuild
    env.dlbook_stale_pages = {"alpha"}  # the execution cache runs alpha again
    assert outdated() == ["claims"]
    env.dlbook_stale_pages = set()
    assert outdated(changed={"alpha"}) == ["claims"]  # its text changed
    assert outdated(changed={"claims"}) == []  # read again anyway
    glue_file(executed, "alpha", [{**row, "measured": 0.96}])  # the ledgers moved
    assert outdated() == ["claims"]


def test_held_matches_claims_by_page_name_and_occurrence():
    row = {"measured": 1.0, "bound": 0.5, "margin": 0.5, "seeds": 1}
    reference = [
        {"page": "p", "claim": "a vs b", "verdict": "a", **row},
        {"page": "p", "claim": "a vs b", "verdict": "cannot tell", **row},
        {"page": "q", "claim": "acc", "verdict": "holds", **row},
    ]
    other = [
        {"page": "p", "claim": "a vs b", "verdict": "cannot tell", **row},
        {"page": "p", "claim": "a vs b", "verdict": "cannot tell", **row},
    ]
    reference[0]["p"], other[0]["p"] = 0.03, 0.07
    rows = claims.held(reference, other)
    assert [r["held"] for r in rows] == [False, True, False]
    assert rows[2]["other verdict"] is None
    assert (rows[0]["p"], rows[0]["other p"]) == (0.03, 0.07)
    assert rows[1]["p"] is None and rows[2]["other p"] is None


def test_a_recorded_rebuild_marks_each_claim_held_moved_or_not_rerun(tmp_path):
    row = {"measured": 1.0, "bound": 0.5, "margin": 0.5, "seeds": 1}
    before = [
        {"page": "p", "claim": "a vs b", "verdict": "a", **row},
        {"page": "p", "claim": "acc", "verdict": "holds", **row},
        {"page": "q", "claim": "c vs d", "verdict": "cannot tell", **row},
    ]
    rebuilt = [
        {"page": "p", "claim": "a vs b", "verdict": "cannot tell", **row},
        {"page": "p", "claim": "acc", "verdict": "holds", **row},
        {"page": "q", "claim": "c vs d", "verdict": "c", **row},
    ]
    reference, other = tmp_path / "ref.json", tmp_path / "other.json"
    reference.write_text(json.dumps(before))
    other.write_text(json.dumps(rebuilt))
    target = tmp_path / "robustness" / "seed-7.json"
    assert (
        claims.main([str(reference), str(other), "--record", str(target), "seed=7"])
        == 0
    )
    record = claims.load_record(target)
    assert record["variant"] == "seed=7" and record["commit"]
    assert claims.records(tmp_path) == [target]
    # this build: the first claim as recorded, the third changed since, a fourth is new
    now = [
        before[0],
        before[1],
        {**before[2], "verdict": "c"},
        {"page": "q", "claim": "new", "verdict": "holds", **row},
    ]
    assert claims.other_verdicts(now, record) == [
        "→ cannot tell",
        "held",
        "not rerun",
        "not rerun",
    ]
    assert claims.record_summary(now, record).startswith(
        f"Rebuilt with page seed 7 (recorded at commit {record['commit']}): 1 of the 2 "
        "verdicts it reran held, 1 moved"
    )
    (tmp_path / "bad.json").write_text(json.dumps({"variant": "seed=7"}))
    with pytest.raises(ValueError, match="commit"):
        claims.load_record(tmp_path / "bad.json")
