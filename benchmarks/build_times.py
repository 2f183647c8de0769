"""Print how long the book takes to build and validate, in one run on one machine.

Works on a copy of the repository in a temporary folder, with a store of its own, so
the real build, its cache and its trained-model store are untouched. Prints:

- the cold build (every page executes and trains);
- a no-change rebuild;
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

Run through ``./noxw -s benchmark``; ``-- --quick`` skips the nbval pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlbook.base import settings
from dlbook.training import store
from dlbook_site import weight

ROOT = Path(__file__).resolve().parents[1]
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
    """Build the copy's site; return the wall time in seconds."""
    docs = repo / "docs"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-n",
            "-q",
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


def main(quick: bool = False) -> None:
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
        rows.append(("cold build (every page executes and trains)", cold, ""))
        rows.append(("  of which page execution", executed, f"{len(cold_pages)} pages"))
        weights = weight.weigh_site(repo / "docs" / "_build" / "html")
        smallest_margins(repo / "docs" / "_build" / "html" / "claims.json")
        rows.append(("no-change rebuild", build(repo, env), ""))
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


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
