"""Which code decides a result: a module's closure of ``dlbook`` imports, as code (not
bytes), and the installed distributions that code runs on.

Shared by the trained-model store (:mod:`dlbook.training.store`: when must a model
train again?) and the Sphinx extension (``dlbook_site.sphinx_cache``: when must a
page execute again?), so both follow the same imports. A docstring, a comment or a
reformatting changes neither key; installing an unrelated package changes neither.
"""

from __future__ import annotations

import ast
import hashlib
import re
import sys
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


@lru_cache(maxsize=1024)
def _file_imports(path: Path, module: str, stamp: tuple) -> frozenset[str]:
    code = path.read_text(encoding="utf-8")
    return frozenset(imported_names(code, module, path.name == "__init__.py"))


def file_imports(path: Path, module: str) -> frozenset[str]:
    """:func:`imported_names` of the module ``module`` in ``path``, cached until the
    file changes (every training key and page key follows these imports)."""
    status = path.stat()
    return _file_imports(path, module, (status.st_mtime_ns, status.st_size))


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
            inner = file_imports(path, name)
            todo += [n for n in inner if self.module_file(n) and n not in found]
        return found


def code_text(source: str) -> str:
    """The code of ``source`` without its docstrings, comments and formatting: the
    dump of its syntax tree with every module, class and function docstring removed.
    Source that does not parse is kept as it is."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


@lru_cache(maxsize=512)
def _file_code(path: Path, stamp: tuple) -> str:
    return code_text(path.read_text(encoding="utf-8"))


def file_code(path: Path) -> str:
    """:func:`code_text` of a file, cached until the file changes."""
    status = path.stat()
    return _file_code(path, (status.st_mtime_ns, status.st_size))


def source_digest(package: str, names) -> str:
    """Hash of the code (:func:`code_text`) of every module of ``package`` that
    importing ``names`` runs (parent packages included), by module name: what the store
    keys on."""
    index = PackageIndex.find(package)
    digest = hashlib.sha256()
    if index is not None:
        for name, path in sorted(index.closure(set(names)).items()):
            digest.update(name.encode() + b"\0" + file_code(path).encode() + b"\0")
    return digest.hexdigest()


def third_party_imports(index: PackageIndex | None, names) -> set[str]:
    """Top-level names of the modules outside ``index``'s package and outside the
    standard library that ``names``, and the package modules they reach, import."""
    found = {n.split(".")[0] for n in names}
    if index is not None:
        for module, path in index.closure(set(names)).items():
            found.update(n.split(".")[0] for n in file_imports(path, module))
        found.discard(index.package)
    return {
        n
        for n in found
        if n and n not in sys.stdlib_module_names and not n.startswith("_")
    }


@lru_cache(maxsize=1)
def _module_distributions() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in metadata.packages_distributions().items()}


def distributions_of(modules) -> set[str]:
    """The installed distributions that provide the top-level ``modules``."""
    table = _module_distributions()
    return {d for m in modules for d in table.get(m.split(".")[0], ())}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=256)
def _requirements(distribution: str) -> tuple[str, ...]:
    """The names of what ``distribution`` requires (extras left out)."""
    try:
        lines = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return ()
    names = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        if "extra" in marker:
            continue
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if name:
            names.append(name.group(1))
    return tuple(names)


@lru_cache(maxsize=64)
def _environment(distributions: frozenset[str]) -> str:
    seen: dict[str, str] = {}
    todo = list(distributions)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement that is not installed
        seen[name] = version
        todo.extend(_requirements(name))
    pins = sorted(f"{name}=={version}" for name, version in seen.items())
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()


def environment_fingerprint(distributions) -> str:
    """Hash of the name and version of ``distributions`` and of everything they
    require, transitively: the installed code a result runs on, and nothing else (an
    unrelated package installed beside it changes nothing)."""
    return _environment(frozenset(_canonical(d) for d in distributions))
