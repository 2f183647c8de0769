"""Which source decides a result: a module's closure of ``dlbook`` imports, and the
installed packages.

Shared by the Sphinx extension (:mod:`dlbook.book.sphinx_cache`: when must a page execute
again?) and the trained-model store (:mod:`dlbook.training.store`: when must a model
train again?), so both follow the same imports.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from importlib import metadata, util
from pathlib import Path


def from_module(node: ast.ImportFrom, current_module: str, is_package: bool) -> str:
    """The absolute name of the module a ``from ... import`` statement reads, its
    relative dots resolved against ``current_module`` (a package when
    ``is_package``)."""
    base = node.module or ""
    if node.level:
        parts = current_module.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return base


def imported_names(
    code: str, current_module: str = "", is_package: bool = False
) -> set[str]:
    """Dotted names imported by ``code``; ``from x import a`` gives ``x`` and ``x.a``.

    Relative imports are resolved against ``current_module``. IPython magics are skipped.
    """
    code = "\n".join(
        "" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines()
    )
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(re.findall(r"(?:from|import)\s+([\w.]+)", code))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = from_module(node, current_module, is_package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


class PackageIndex:
    """Maps the modules of one package to their files and their in-package imports."""

    def __init__(self, package: str, root: Path):
        self.package = package
        self.root = root

    @classmethod
    def find(cls, package: str) -> PackageIndex | None:
        spec = util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        return cls(package, Path(list(spec.submodule_search_locations)[0]))

    def module_file(self, name: str) -> Path | None:
        if name != self.package and not name.startswith(self.package + "."):
            return None
        parts = name.split(".")[1:]
        candidates = [self.root.joinpath(*parts, "__init__.py")]
        if parts:
            candidates.append(self.root.joinpath(*parts).with_suffix(".py"))
        return next((c for c in candidates if c.is_file()), None)

    def closure(self, names: set[str]) -> dict[str, Path]:
        """Every module of the package that importing ``names`` runs, with its file."""
        found: dict[str, Path] = {}
        todo = [n for n in names if self.module_file(n)]
        while todo:
            name = todo.pop()
            if name in found:
                continue
            path = self.module_file(name)
            found[name] = path
            parts = name.split(".")
            todo += [
                ".".join(parts[:i]) for i in range(1, len(parts))
            ]  # parent packages
            inner = imported_names(path.read_text(), name, path.name == "__init__.py")
            todo += [n for n in inner if self.module_file(n) and n not in found]
        return found


@lru_cache(maxsize=1)
def environment_fingerprint() -> str:
    """Hash of the name and version of every installed distribution."""
    pins = sorted(
        {f"{d.metadata['Name']}=={d.version}".lower() for d in metadata.distributions()}
    )
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()


def source_digest(package: str, names) -> str:
    """Hash of the source of every module of ``package`` that importing ``names`` runs
    (parent packages included), by module name: what the store keys on."""
    index = PackageIndex.find(package)
    digest = hashlib.sha256()
    if index is not None:
        for name, path in sorted(index.closure(set(names)).items()):
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
