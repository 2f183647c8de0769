"""Source listings a reader can paste: the import lines a shown object needs.

A page shows a function or class of ``dlbook`` with ``literalinclude :pyobject:``. Pasted
alone, such a listing fails (``class Routing(keras.layers.Layer)`` needs ``keras``) or
defines a function that fails when called. :func:`needed_imports` finds, in the module's
own source, the import statements whose names the object uses, and a ``from dlbook.x
import name`` line for each module-level name it uses, so the listing shown is the real
source preceded by exactly what makes it run (see :mod:`dlbook_site.downloads`).
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

from dlbook.base.closure import PackageIndex


def module_of(index: PackageIndex, path: str | Path) -> str | None:
    """The dotted name of the module a ``.py`` file of the package ``index`` maps is
    (``src/dlbook/capsules.py`` -> ``dlbook.capsules``, ``src/dlbook/training/__init__.py``
    -> ``dlbook.training``); ``None`` for any other file."""
    path = Path(path)
    try:
        parts = path.resolve().relative_to(index.root.resolve()).with_suffix("").parts
    except ValueError:
        return None
    if not parts or path.suffix != ".py":
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([index.package, *parts])


def _find_object(tree: ast.Module, pyobject: str) -> ast.AST:
    node: ast.AST = tree
    for part in pyobject.split("."):
        body = getattr(node, "body", [])
        found = [
            child
            for child in body
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and child.name == part
        ]
        if not found:
            raise ValueError(f"pyobject {pyobject!r} is not defined in the module")
        node = found[0]
    return node


def _used_names(node: ast.AST) -> set[str]:
    """Names the object reads; names it binds itself (arguments, assignments, its own
    name) are local and left out unless read before any binding is known (approximate:
    a name both bound inside and read is treated as local)."""
    loads, stores = set(), set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            (loads if isinstance(child.ctx, ast.Load) else stores).add(child.id)
        elif isinstance(child, ast.arg):
            stores.add(child.arg)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if child is not node:
                stores.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in child.names)
    return loads - stores - set(dir(builtins))


def _module_bindings(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Top-level import lines by the name they bind, and the other top-level names."""
    imports: dict[str, str] = {}
    defined: set[str] = set()
    for child in tree.body:
        if isinstance(child, ast.Import):
            for alias in child.names:
                name = alias.asname or alias.name.split(".")[0]
                line = f"import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
                imports[name] = line
        elif isinstance(child, ast.ImportFrom) and child.module != "__future__":
            if child.level:
                continue  # the package uses absolute imports; a relative one is skipped
            for alias in child.names:
                name = alias.asname or alias.name
                imports[name] = f"from {child.module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(child.name)
        elif isinstance(child, (ast.Assign, ast.AnnAssign)):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                defined.update(
                    n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                )
    return imports, defined


def needed_imports(path: str | Path, pyobject: str, module: str) -> list[str]:
    """The import lines that make the listing of ``pyobject`` (``"f"`` or
    ``"Class.method"``) from the module file ``path`` (importable as ``module``) run when
    pasted on its own: the module's own import statements for the names the object
    uses, then ``from <module> import ...`` for the module-level names it uses."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    node = _find_object(tree, pyobject)
    used = _used_names(node)
    imports, defined = _module_bindings(tree)
    plain, froms = set(), {}
    for line in {imports[name] for name in used if name in imports}:
        if line.startswith("import "):
            plain.add(line)
        else:
            source, _, names = line[len("from ") :].partition(" import ")
            froms.setdefault(source, set()).add(names)
    own = {name for name in used if name in defined and name not in imports}
    if "." not in pyobject:  # a class or function listing defines its own name
        own.discard(pyobject)
    if own:
        froms.setdefault(module, set()).update(own)
    return sorted(plain) + [
        f"from {source} import {', '.join(sorted(names))}"
        for source, names in sorted(froms.items())
    ]
