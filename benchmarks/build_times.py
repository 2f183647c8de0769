"""Print how long the book takes to build and validate, in one run on one machine.

Works on a copy of the repository in a temporary folder, with a store of its own, so
the real build, its cache and its trained-model store are untouched. Prints:

- the cold build (every page executes and trains, two at a time as ``nox -s docs``
  builds; goal at most 15 min) and each page's execution time, beside the same
  figures of an earlier run when ``--against FILE`` names its record (every run writes
  one: ``docs/_build/benchmark.json``, or ``--save FILE``);
- a no-change rebuild (goal at most 5 s);
- a figure-only edit of a training page (it executes again, its trainings restored:
  goal at most a quarter of that page's cold time);
- prose edits of the code (a docstring in ``base/``, a comment in the training core):
  the pages they re-execute and the trainings they retrain (goal: none, none);
- a code edit of one chapter module, and which pages it re-executes;
- the trained-model store's own overhead (keying, reading, verifying, writing) per
  training, on the cold build's misses and on the hits of a re-execution, against the
  cold build (goal under 2 %; from the store's journal);
- the nbval pass over every executed page (two workers, as ``nox -s tests`` runs it)
  against the build's execution time (goal at most 0.35);
- the weight of every page of the cold build's site (HTML + its own images, against
  the limits of 3 MB a page and 1 MB the median; :mod:`dlbook_site.weight`);
- every training of the cold build: fixed cost against steady steps, samples per
  second, FLOP/s against a matmul's peak, and the core against a plain Keras ``fit``
  (``benchmarks/training_time.py``);
- the claims with the smallest margins (``claims.json``, :mod:`dlbook_site.claims`).

Run through ``./noxw -s benchmark``; ``-- --quick`` skips the nbval pass; ``--against
OLD.json`` compares with an earlier run (run the two on the same machine: hosts differ
up to ~2.5x).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlbook.base import settings
from dlbook.training import store
from dlbook_site import settings as site_settings
from dlbook_site import weight

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "_build" / "benchmark.json"
COLD_GOAL_S = 15 * 60  # the whole book, cold, on 2 cores
REBUILD_GOAL_S = 5.0
FIGURE_PAGE = "convnets"  # a training page; its figure edit must not retrain
FIGURE_EDIT = (
    "fig, axes = figure(1, 2, width=8, height=3)",
    "fig, axes = figure(1, 2, width=8.5, height=3)",
)
CHAPTER_MODULE = "src/dlbook/convnet_internals.py"
# prose in the code: neither may re-execute a page or retrain a model
PROSE_EDITS = (
    (
        "src/dlbook/base/validate.py",
        '"""Argument checks',
        '"""Argument checks (edited)',
    ),
    (
        "src/dlbook/training/core.py",
        "\nimport inspect\n",
        "\nimport inspect  # edited\n",
    ),
)


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    if old not in text:
        raise SystemExit(f"the benchmark's edit no longer applies to {path}")
    file.write_text(text.replace(old, new, 1))


def smallest_margins(path: Path, count: int = 10) -> None:
    """The claims that held by the least (in their own units), and the comparisons
    that came closest to a verdict: the claims to watch on another machine."""
    claims = json.loads(path.read_text())
    print(f"\nthe {count} smallest margins of {len(claims)} claims ({path.name}):")
    for claim in sorted(claims, key=lambda c: abs(c["margin"]))[:count]:
        print(
            f"  {claim['page']}: {claim['claim']}: {claim['verdict']}, "
            f"margin {claim['margin']:.4g} (measured {claim['measured']}, "
            f"bound {claim['bound']}, seeds {claim['seeds']})"
        )
    tested = [c for c in claims if c.get("p") is not None]
    if tested:
        # the threshold is 0.05: a p-value a few times either side of it is a close call
        closest = sorted(
            tested, key=lambda c: abs(math.log(max(c["p"], 1e-300) / 0.05))
        )
        print(f"\nthe {count} comparisons of {len(tested)} with p nearest 0.05:")
        for claim in closest[:count]:
            print(
                f"  {claim['page']}: {claim['claim']}: {claim['verdict']}, "
                f"p = {claim['p']:.3g}, seeds {claim['seeds']}"
            )


def overhead_rows(rows, journal: list[dict], cold: float, what: str) -> None:
    """The store's own cost per training, and in all against the cold build."""
    for line in journal:
        print(
            f"  store {what}: {line['routine']} trained {line['training_s']:.2f} s, "
            f"store overhead {line['overhead_s'] * 1000:.0f} ms "
            f"(key {line['key_s'] * 1000:.0f} ms)"
        )
    total = sum(line["overhead_s"] for line in journal)
    rows.append(
        (
            f"store overhead, {what} ({len(journal)} trainings)",
            total,
            f"{100 * total / cold:.2f} % of the cold build (goal < 2 %)",
        )
    )


def build(repo: Path, env: dict) -> float:
    """Build the copy's site as ``nox -s docs`` does (pages executing
    :data:`dlbook_site.settings.PAGES_AT_ONCE` at a time); return the wall time in
    seconds."""
    docs = repo / "docs"
    start = time.perf_counter()
    cache = docs / "_build" / ".jupyter_cache"
    # its database first: two workers would race to create it
    from jupyter_cache import get_cache

    get_cache(str(cache)).list_cache_records()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-n",
            "-q",
            "-j",
            str(site_settings.PAGES_AT_ONCE),
            "-b",
            "html",
            str(docs),
            str(docs / "_build" / "html"),
        ],
        check=True,
        env=env,
        cwd=repo,
    )
    return time.perf_counter() - start


def execution_times(repo: Path) -> dict[str, tuple[float, float]]:
    """Per page: (when its cached execution was made, how long it took)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(repo / "docs" / "_build" / ".jupyter_cache"))
    times = {}
    for record in cache.list_cache_records():
        page = Path(record.uri).stem
        seconds = float(record.data.get("execution_seconds") or 0.0)
        times[page] = (record.created.timestamp(), seconds)
    return times


def executed_since(repo: Path, before: dict) -> dict[str, float]:
    """Pages whose execution is newer than in ``before``, with their execution time."""
    now = execution_times(repo)
    return {page: s for page, (t, s) in now.items() if before.get(page, (0, 0))[0] != t}


def nbval_pass(repo: Path, env: dict) -> tuple[float, bool]:
    """nbval over every executed page, two workers, as ``nox -s tests`` runs it; the
    seconds and whether every comparison passed."""
    executed = repo / "docs" / "_build" / "jupyter_execute"
    start = time.perf_counter()
    # tests/conftest.py as a plugin: it compares glued values as `nox -s tests` does
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "conftest",
            str(executed),
            *settings.NBVAL_ARGS,
            "--rootdir",
            str(repo),
        ],
        check=False,
        env={
            **env,
            "PYTHONPATH": os.pathsep.join([env["PYTHONPATH"], str(repo / "tests")]),
        },
        cwd=repo,
    )
    return time.perf_counter() - start, done.returncode == 0


class Rows(list):
    """Measurements, each printed as soon as it is taken (a long run that fails late
    still shows what it measured)."""

    def append(self, row) -> None:
        super().append(row)
        name, seconds, note = row
        print(f"BENCHMARK {name}: {seconds:.1f}  {note}", flush=True)


def page_table(pages: dict[str, float], earlier: dict | None) -> None:
    """Each page's cold execution time, slowest first, beside an earlier run's."""
    old = (earlier or {}).get("pages", {})
    print(
        "\ncold execution per page (s)" + (", against the earlier run" if old else "")
    )
    for page, seconds in sorted(pages.items(), key=lambda item: -item[1]):
        before = old.get(page)
        change = (
            "" if before is None else f"  was {before:6.1f}  ({seconds - before:+.1f})"
        )
        print(f"  {page:<20} {seconds:7.1f}{change}")
    if old:
        now, then = sum(pages.values()), sum(old.values())
        print(
            f"  {'all pages':<20} {now:7.1f}  was {then:6.1f}  ({now / then - 1:+.1%})"
        )


def main(quick: bool = False, against: Path | None = None, save: Path = RECORD) -> None:
    earlier = json.loads(against.read_text()) if against else None
    rows = Rows()
    with tempfile.TemporaryDirectory(prefix="dlbook-bench-") as tmp:
        skip = shutil.ignore_patterns(
            "_build", ".nox", ".git", ".venv", "__pycache__", "*.egg-info"
        )
        repo = Path(tmp) / "repo"
        shutil.copytree(ROOT, repo, ignore=skip)
        env = {
            **os.environ,
            "DLBOOK_STORE": str(Path(tmp) / "store"),
            # the copy's code: dlbook and the site machinery
            "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo / "sitebuild")]),
        }
        env.pop("DLBOOK_RETRAIN", None)
        env.pop("DLBOOK_SITE", None)  # the copy builds into its own docs/_build

        cold = build(repo, env)
        cold_pages = execution_times(repo)
        executed = sum(s for _, s in cold_pages.values())
        met = "met" if cold <= COLD_GOAL_S else f"missed by {cold - COLD_GOAL_S:.0f} s"
        # an earlier record may hold page times only (cold_s None: no wall time taken)
        was = (
            f"; earlier run {earlier['cold_s']:.0f} s"
            if earlier and earlier.get("cold_s") is not None
            else ""
        )
        rows.append(
            (
                "cold build (every page executes and trains)",
                cold,
                f"{site_settings.PAGES_AT_ONCE} pages at a time; goal <= "
                f"{COLD_GOAL_S} s: {met}{was}",
            )
        )
        rows.append(("  of which page execution", executed, f"{len(cold_pages)} pages"))
        pages = {page: seconds for page, (_, seconds) in cold_pages.items()}
        page_table(pages, earlier)
        save.parent.mkdir(parents=True, exist_ok=True)
        record = {"cold_s": cold, "cpus": os.cpu_count(), "pages": pages}
        save.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"(this run's record: {save})")
        weights = weight.weigh_site(repo / "docs" / "_build" / "html")
        smallest_margins(repo / "docs" / "_build" / "html" / "claims.json")
        rebuild = build(repo, env)
        met = "met" if rebuild <= REBUILD_GOAL_S else "missed"
        rows.append(
            ("no-change rebuild", rebuild, f"goal <= {REBUILD_GOAL_S} s: {met}")
        )
        misses = store.read_journal(Path(tmp) / "store")
        overhead_rows(rows, misses, cold, "misses of the cold build")
        # where the cold build's training time went, against this machine's peak
        print("\ntrainings of the cold build (benchmarks/training_time.py):")
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "training_time.py"),
                str(Path(tmp) / "store"),
            ],
            check=True,
            env={**env, "DLBOOK_STORE": str(Path(tmp) / "core-vs-fit")},
        )

        page = repo / "docs" / f"{FIGURE_PAGE}.md"
        text = page.read_text()
        if FIGURE_EDIT[0] not in text:
            raise SystemExit(f"the figure edit no longer applies to {page.name}")
        page.write_text(text.replace(*FIGURE_EDIT))
        before = execution_times(repo)
        seconds = build(repo, env)
        ran = executed_since(repo, before)
        share = ran.get(FIGURE_PAGE, float("nan")) / cold_pages[FIGURE_PAGE][1]
        rows.append(
            (
                f"figure edit of {FIGURE_PAGE}.md (trainings restored)",
                seconds,
                f"page {ran.get(FIGURE_PAGE, 0):.0f} s = {share:.2f} of its cold "
                f"{cold_pages[FIGURE_PAGE][1]:.0f} s (goal <= 0.25)",
            )
        )

        hits = store.read_journal(Path(tmp) / "store")[len(misses) :]
        overhead_rows(rows, hits, cold, "hits of the figure edit")

        entries = _store_size(Path(tmp) / "store")[0]
        for path, old, new in PROSE_EDITS:
            edit(repo, path, old, new)
        before = execution_times(repo)
        seconds = build(repo, env)
        ran = executed_since(repo, before)
        retrained = _store_size(Path(tmp) / "store")[0] - entries
        rows.append(
            (
                "prose edits of the code (a docstring in base/, a comment in the core)",
                seconds,
                "re-executed: "
                + (", ".join(sorted(ran)) or "nothing")
                + f"; retrained: {retrained} (goal: nothing, 0)",
            )
        )

        entries = _store_size(Path(tmp) / "store")[0]
        module = repo / CHAPTER_MODULE
        module.write_text(module.read_text() + "\nBENCHMARK_EDIT = 1\n")
        before = execution_times(repo)
        seconds = build(repo, env)
        ran = executed_since(repo, before)
        retrained = _store_size(Path(tmp) / "store")[0] - entries
        rows.append(
            (
                f"code edit of {CHAPTER_MODULE}",
                seconds,
                "re-executed: "
                + (", ".join(sorted(ran)) or "nothing")
                + f"; retrained: {retrained}",
            )
        )

        if not quick:
            nbval, passed = nbval_pass(repo, env)
            verdict = "every page matched" if passed else "SOME PAGES DIFFERED"
            rows.append(
                (
                    "nbval pass (2 workers, trainings restored)",
                    nbval,
                    f"{nbval / executed:.2f} of the build's page execution "
                    f"(goal <= 0.35); {verdict}",
                )
            )
        count, size = _store_size(Path(tmp) / "store")
        rows.append(
            ("trained-model store", float(count), f"entries, {size / 1e6:.0f} MB")
        )
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'measurement':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:8.1f}  {note}")
    print("\npage weight of the cold build's site (benchmarks/page_weight.py)")
    print(weight.table(weights))
    print(json.dumps({"cpus": os.cpu_count()}))


def _store_size(folder: Path) -> tuple[int, int]:
    files = list(folder.glob("*.npz")) if folder.is_dir() else []
    return len(files), sum(f.stat().st_size for f in files)


def _arguments(argv: list[str]) -> dict:
    """``--quick``, ``--against FILE`` (an earlier run's record), ``--save FILE``."""
    options, rest = {"quick": False}, list(argv)
    while rest:
        name = rest.pop(0)
        if name == "--quick":
            options["quick"] = True
        elif name in ("--against", "--save") and rest:
            options[name[2:]] = Path(rest.pop(0))
        else:
            raise SystemExit(
                f"unknown argument {name!r}: expected --quick, --against FILE or "
                "--save FILE"
            )
    if "against" in options and not options["against"].is_file():
        raise SystemExit(f"--against: no record at {options['against']}")
    return options


if __name__ == "__main__":
    main(**_arguments(sys.argv[1:]))
