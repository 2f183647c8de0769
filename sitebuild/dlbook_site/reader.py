"""Run a page's script as a reader would: a fresh interpreter with only ``dlbook[data]``.

The script (:mod:`dlbook_site.scripts`) runs in a new ``python`` process in which every
installed package that ``pip install 'dlbook[data]'`` would *not* install (Sphinx,
myst-nb, IPython, pytest, nbval...) cannot be imported: a shown cell that needs one of
them fails here as it would for a reader. It runs in the book's own environment so that
the trained-model store, keyed on the installed packages, restores what the build
trained (a separate environment would retrain every model).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BOOTSTRAP = """\
import importlib.abc, runpy, sys
BLOCKED = set(sys.argv[2].split(",")) - {""}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(
                f"No module named {name!r}: `pip install 'dlbook[data]'` does not "
                "install it (a reader would not have it)", name=name)
        return None
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:2]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def reader_distributions(package: str = "dlbook", extras=("data",)) -> set[str]:
    """Canonical names of ``package`` and every distribution that installing it with
    ``extras`` pulls in (requirements followed recursively, markers evaluated)."""
    wanted, todo = set(), [(package, tuple(extras))]
    while todo:
        name, chosen = todo.pop()
        key = canonicalize_name(name)
        if (key, chosen) in wanted:
            continue
        wanted.add((key, chosen))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (chosen or ("",))
            ):
                continue
            todo.append((requirement.name, tuple(sorted(requirement.extras))))
    return {key for key, _ in wanted}


def _top_level(dist: metadata.Distribution) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    names = set()
    for file in dist.files or []:
        parts = file.parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        if parts[0] == ".." or parts[0] == "__pycache__":
            continue
        first = parts[0]
        if len(parts) == 1:
            if first.endswith(".py"):
                names.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                names.add(first.split(".")[0])
        else:
            names.add(first)
    return names


def blocked_modules(package: str = "dlbook", extras=("data",)) -> set[str]:
    """Top-level modules installed here that a reader's ``pip install`` would lack."""
    allowed = reader_distributions(package, extras)
    kept, blocked = set(), set()
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        (kept if name in allowed else blocked).update(_top_level(dist))
    return {m for m in blocked - kept if m.isidentifier()} - set(
        sys.stdlib_module_names
    )


def run_script(
    script: str | Path, cwd: str | Path, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter with :func:`blocked_modules` unimportable,
    in the folder ``cwd``, figures drawn off screen; returns the finished process."""
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"script must be an existing file, got {str(script)!r}")
    environment = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            BOOTSTRAP,
            str(script.resolve()),
            ",".join(sorted(blocked_modules())),
        ],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
