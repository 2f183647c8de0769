"""Print how long the site takes to build: cold, unchanged, and after editing one page.

Works on a copy of docs/ in a temporary folder, so the real build and its cache are
untouched. Run through ``./noxw -s benchmark``; pass a page name to edit another page.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(source: Path) -> float:
    """Build the site in ``source``; return the wall time in seconds."""
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
            str(source),
            str(source / "_build" / "html"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def main(page: str = "memo") -> None:
    with tempfile.TemporaryDirectory(prefix="dlbook-bench-") as tmp:
        skip = shutil.ignore_patterns(
            "_build", ".nox", ".git", ".venv", "__pycache__", "*.egg-info"
        )
        shutil.copytree(
            ROOT, Path(tmp) / "repo", ignore=skip
        )  # pages include ../src, ../*.md
        docs = Path(tmp) / "repo" / "docs"
        target = docs / f"{page}.md"
        if not target.exists():
            raise SystemExit(f"page must name a file in docs/, got {page!r}")
        rows = [("cold build (every page executes)", build(docs))]
        rows.append(("no-change rebuild", build(docs)))
        target.write_text(target.read_text() + "\nA sentence added by the benchmark.\n")
        rows.append((f"prose edit of {page}.md (no execution)", build(docs)))
        target.write_text(
            target.read_text() + "\n```{code-cell} ipython3\n1 + 1\n```\n"
        )
        rows.append((f"code edit of {page}.md (the page executes)", build(docs)))
    width = max(len(name) for name, _ in rows)
    print(f"\n{'build':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
