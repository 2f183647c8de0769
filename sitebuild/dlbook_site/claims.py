"""Sphinx extension: "Every claim in this book", gathered from every executed page.

Every check a page runs (:mod:`dlbook.book.checks`) lands in the page's claims ledger,
which ``page.finish()`` glues as ``dlbook_claims`` (a JSON list); myst-nb writes glued
values beside each executed notebook (``jupyter_execute/<page>.glue.json``), cached or
not. The ``claims-ledger`` directive becomes a table of them all: page, claim,
verdict, measured value, bound or test, margin, p-value (for a comparison) and seeds.
The page holding it is read again whenever another page is, after every page has
executed, so it is never stale; the same rows are written to ``claims.json`` in the
built site (the benchmark prints the smallest margins from it). Where a maintainer
recorded a rebuild on another seed or numeric path (``nox -s robustness`` writes
``docs/robustness/<variant>.json``), the table says per claim whether its verdict
held there.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from dlbook.book import replication

GLUE_NAME = "dlbook_claims"  # dlbook.book.page.CLAIMS_GLUE
COLUMNS = (
    "page",
    "claim",
    "verdict",
    "measured",
    "bound or test",
    "margin",
    "p",
    "seeds",
)


class claims_ledger(nodes.General, nodes.Element):  # noqa: N801 - docutils style
    """Where the table goes; filled once every page has executed."""


class ClaimsLedger(SphinxDirective):
    """``{claims-ledger}``: the table of every claim the executed pages checked."""

    def run(self) -> list[nodes.Node]:
        self.env.dlbook_claims_pages = {
            *getattr(self.env, "dlbook_claims_pages", set()),
            self.env.docname,
        }
        for path in records(Path(self.env.srcdir)):
            self.env.note_dependency(str(path))  # a new record: the table again
        return [claims_ledger()]


RECORDS = replication.RECORDS.name  # beside the pages: the recorded rebuilds


def records(srcdir: Path) -> list[Path]:
    """The recorded robustness rebuilds (``<srcdir>/robustness/*.json``), by name."""
    return replication.records(srcdir / RECORDS)


load_record = replication.load_record


def other_verdicts(rows: list[dict], record: dict) -> list[str]:
    """Per row, what the recorded rebuild said: ``"held"``, ``"→ <verdict>"``, or
    ``"not rerun"`` where the record has no such claim or recorded another verdict
    for this build (the page changed since)."""
    recorded = _keyed(record["claims"])
    out = []
    for key, row in _keyed(rows).items():
        again = recorded.get(key)
        if again is None or again["verdict"] != row["verdict"]:
            out.append("not rerun")
        elif again["held"]:
            out.append("held")
        else:
            out.append(f"→ {again['other verdict']}")
    return out


def gather(executed: Path) -> list[dict]:
    """Every page's claims, from the glued ledgers in the ``executed`` folder, in page
    order; each row gets its ``page`` (a docname)."""
    rows = []
    for path in sorted(executed.glob("**/*.glue.json")):
        entry = json.loads(path.read_text(encoding="utf-8")).get(GLUE_NAME)
        if not entry:
            continue
        text = ast.literal_eval(entry["data"]["text/plain"])  # the repr of a str
        page = path.relative_to(executed).as_posix().removesuffix(".glue.json")
        rows += [{"page": page, **claim} for claim in json.loads(text)]
    return rows


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(app, fromdoc: str, rows: list[dict], record: dict | None) -> nodes.table:
    columns = [*COLUMNS, *([_variant(record)] if record else [])]
    again = other_verdicts(rows, record) if record else [None] * len(rows)
    table = nodes.table(classes=["dlbook-claims"])
    group = nodes.tgroup(cols=len(columns))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in columns)
    head = nodes.thead()
    head += nodes.row("", *(nodes.entry("", nodes.paragraph(text=c)) for c in columns))
    group += head
    body = nodes.tbody()
    for row, other in zip(rows, again, strict=True):
        link = nodes.reference(
            "", row["page"], refuri=app.builder.get_relative_uri(fromdoc, row["page"])
        )
        cells = [nodes.paragraph("", "", link)]
        for column in COLUMNS[1:]:
            key = {"bound or test": "bound"}.get(column, column)
            cells.append(nodes.paragraph(text=_text(row.get(key, ""))))
        if record:
            cells.append(nodes.paragraph(text=other))
        body += nodes.row("", *(nodes.entry("", cell) for cell in cells))
    group += body
    return table


def _variant(record: dict) -> str:
    """The column's name: "with page seed 7", "with oneDNN kernels"."""
    return f"with {replication.label(record['variant'])}"


def record_summary(rows: list[dict], record: dict) -> str:
    """One sentence on the recorded rebuild: how many of this build's verdicts it
    reran, how many held, and at which commit it was made."""
    again = other_verdicts(rows, record)
    rerun = [a for a in again if a != "not rerun"]
    held_ = sum(a == "held" for a in rerun)
    return (
        f"Rebuilt {_variant(record)} (recorded at commit {record['commit']}): "
        f"{held_} of the {len(rerun)} verdicts it reran held, "
        f"{len(rerun) - held_} moved (marked → in the last column); "
        f"{len(again) - len(rerun)} changed or came after it (not rerun)."
    )


def summary(rows: list[dict]) -> str:
    """One sentence: how many claims on how many pages, how many undecided."""
    pages = len({row["page"] for row in rows})
    undecided = sum(row["verdict"] == "cannot tell" for row in rows)
    compared = sum(row["verdict"] not in ("holds", "fails") for row in rows)
    return (
        f"{_count(len(rows), 'check')} on {_count(pages, 'page')}; {compared} of them "
        f"compare two methods, of which {undecided} cannot tell."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _executed(app) -> Path:
    return Path(app.outdir).parent / "jupyter_execute"


def _on_doctree_resolved(app, doctree, docname: str) -> None:
    found = list(doctree.findall(claims_ledger))
    if not found:
        return
    rows = gather(_executed(app))
    found_records = records(Path(app.srcdir))
    record = load_record(found_records[-1]) if found_records else None
    for node in found:
        text = [nodes.paragraph(text=summary(rows))]
        if record:
            text.append(nodes.paragraph(text=record_summary(rows, record)))
        node.replace_self([*text, _table(app, docname, rows, record)])


def _on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    """The ledger page is read again when any other page is (its claims may change as
    it executes), or when the ledgers on disk differ from the last table written
    (``claims.json``); an unchanged rebuild leaves it, and the pages linking it, alone.
    Runs after ``dlbook_site.sphinx_cache``'s handler, which notes the pages it found
    stale."""
    pages = getattr(env, "dlbook_claims_pages", set()) - added - changed
    if not pages:
        return []
    others = added | changed | removed | getattr(env, "dlbook_stale_pages", set())
    written = Path(app.outdir, "claims.json")
    if others - pages or not written.is_file():
        return sorted(pages)
    try:
        last = json.loads(written.read_text(encoding="utf-8"))
    except ValueError:
        return sorted(pages)
    return [] if last == gather(_executed(app)) else sorted(pages)


def _on_env_merge_info(app, env, docnames, other) -> None:
    env.dlbook_claims_pages = getattr(env, "dlbook_claims_pages", set()) | getattr(
        other, "dlbook_claims_pages", set()
    )


def _on_env_purge_doc(app, env, docname: str) -> None:
    getattr(env, "dlbook_claims_pages", set()).discard(docname)


def _on_build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        rows = gather(_executed(app))
        Path(app.outdir, "claims.json").write_text(
            json.dumps(rows, indent=1), encoding="utf-8"
        )


def setup(app):
    app.add_node(claims_ledger)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.connect("doctree-resolved", _on_doctree_resolved)
    # after sphinx_cache's (priority 500), which notes the pages it re-reads
    app.connect("env-get-outdated", _on_env_get_outdated, priority=900)
    app.connect("env-merge-info", _on_env_merge_info)
    app.connect("env-purge-doc", _on_env_purge_doc)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- robustness: the same claims on another numeric path or seed -----------------------


def _keyed(rows: list[dict]) -> dict[tuple, dict]:
    """Rows by (page, claim, occurrence): a page may check one claim several times."""
    seen: dict[tuple, int] = {}
    keyed = {}
    for row in rows:
        name = (row["page"], row["claim"])
        seen[name] = seen.get(name, 0) + 1
        keyed[(*name, seen[name])] = row
    return keyed


def held(reference: list[dict], other: list[dict]) -> list[dict]:
    """Each claim of ``reference`` with its verdict in ``other`` (``None`` where
    ``other`` did not check it) and whether the verdict held."""
    mine, theirs = _keyed(reference), _keyed(other)
    out = []
    for key, row in mine.items():
        again = theirs.get(key)
        verdict = None if again is None else again["verdict"]
        out.append(
            {
                "page": row["page"],
                "claim": row["claim"],
                "verdict": row["verdict"],
                "measured": row.get("measured"),
                "other verdict": verdict,
                "held": verdict == row["verdict"],
                "p": row.get("p"),
                "other p": None if again is None else again.get("p"),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m dlbook_site.claims REFERENCE OTHER [--record PATH VARIANT]``:
    compare two builds' claims.json, print every claim whose verdict did not hold and a
    count; with ``--record``, also write the comparison to PATH for the claims page,
    stamped with VARIANT and the commit checked out. Exit 0 (a report)."""
    import sys

    args = list(argv if argv is not None else sys.argv[1:])
    target = None
    if "--record" in args:
        at = args.index("--record")
        target, variant = Path(args[at + 1]), args[at + 2]
        del args[at : at + 3]
    reference, other = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args)
    rows = held(reference, other)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {"variant": variant, "commit": _commit(), "claims": rows}
        target.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    flipped = [r for r in rows if not r["held"]]
    for row in flipped:
        near = (
            f" (p {row['p']:.2g} -> {row['other p']:.2g})"
            if row.get("p") is not None and row.get("other p") is not None
            else ""
        )
        print(
            f"FLIPPED {row['page']}: {row['claim']}: {row['verdict']} -> "
            f"{row['other verdict']}{near}"
        )
    print(
        f"{len(rows) - len(flipped)} of {len(rows)} verdicts held; "
        f"{len(flipped)} flipped or missing"
    )
    return 0


def _commit() -> str:
    """The commit checked out (short), with "+changes" when the tree has edits: the
    record says which book it checked."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


if __name__ == "__main__":
    raise SystemExit(main())
