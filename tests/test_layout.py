"""The package boundaries hold: ``dlbook`` (what pages and readers import) pulls in
nothing of the site machinery, the training core nothing of the page runtime, and the
machinery is a distribution of its own (``dlbook-site``, ``sitebuild/``) that
``pip install 'dlbook[data]'`` does not install."""

import json
import os
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dlbook_site import reader

ROOT = Path(__file__).resolve().parents[1]
# what only building and testing the site needs
SITE_ONLY = ("sphinx", "docutils", "myst_nb", "nbval", "dlbook_site")

# Imports every module of a package in a fresh interpreter; prints, as JSON, the modules
# imported and, for each module whose import brought forbidden ones in, which of them.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
package, forbidden = sys.argv[1], tuple(sys.argv[2].split(","))
root = importlib.import_module(package)
names = [package] + [
    m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
    if m.name.rpartition(".")[2] != "__main__"  # a command line, not a module to import
]
found, seen = {}, set()
for name in names:
    importlib.import_module(name)
    hits = {f for f in forbidden for m in sys.modules if m == f or m.startswith(f + ".")}
    if hits - seen:
        found[name] = sorted(hits - seen)
        seen |= hits
print(json.dumps({"imported": names, "forbidden": found}))
"""


def _import_all(package: str, forbidden) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package, ",".join(forbidden)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg", "SDL_VIDEODRIVER": "dummy"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_no_dlbook_module_imports_the_site_machinery():
    """Every module of dlbook, imported in a fresh interpreter, leaves no Sphinx,
    docutils, myst-nb, nbval or dlbook_site in ``sys.modules``."""
    result = _import_all("dlbook", SITE_ONLY)
    assert "dlbook.book.page" in result["imported"]
    assert "dlbook.training.core" in result["imported"]
    assert result["forbidden"] == {}, (
        f"dlbook modules that import site machinery: {result['forbidden']}"
    )


def test_the_training_core_imports_nothing_of_the_book_or_the_site():
    result = _import_all("dlbook.training", ("dlbook.book", "dlbook_site"))
    assert "dlbook.training.store" in result["imported"]
    assert result["forbidden"] == {}, result["forbidden"]


def test_the_site_machinery_is_not_in_what_a_reader_installs():
    """``pip install 'dlbook[data]'`` pulls in no Sphinx, myst-nb, test tools or
    dlbook-site; dlbook-site depends on dlbook[data] and ships its templates."""
    reader_gets = reader.reader_distributions("dlbook", ("data",))
    assert "dlbook" in reader_gets and "numpy" in reader_gets
    site_only = {"dlbook-site", "sphinx", "myst-nb", "nbval", "pytest", "playwright"}
    assert not site_only & reader_gets, site_only & reader_gets
    book = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(book["project"]["optional-dependencies"]) == {"data"}
    site = tomllib.loads((ROOT / "sitebuild" / "pyproject.toml").read_text())
    assert site["project"]["name"] == "dlbook-site"
    assert "dlbook[data]" in site["project"]["dependencies"]
    assert {"test", "browser"} <= set(site["project"]["optional-dependencies"])
    assert not list((ROOT / "src" / "dlbook").rglob("templates"))
    assert (
        ROOT / "sitebuild/dlbook_site/templates/components/view-this-page.html"
    ).is_file()


@pytest.mark.parametrize("module", ["settings", "scripts", "weight"])
def test_modules_read_by_path_need_only_the_standard_library(module):
    """The noxfile (nox's own Python) and the browser check (Playwright's environment)
    read these by path: they run in an isolated Python without site-packages."""
    path = ROOT / "sitebuild" / "dlbook_site" / f"{module}.py"
    code = f"import runpy; runpy.run_path({str(path)!r})"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert runpy.run_path(str(path))  # and here as well


# --- where each page's code is: dlbook.pages against the code -------------------------

SRC = ROOT / "src" / "dlbook"


def _top_modules() -> set[str]:
    """The top-level modules and packages of dlbook (``convnets``, ``data``...)."""
    return {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__")
        or (p.is_dir() and (p / "__init__.py").is_file())
    }


def _top(name: str) -> str | None:
    """``dlbook.data.archives`` -> ``data``; ``None`` outside dlbook or for ``dlbook``."""
    parts = name.split(".")
    if parts[0] != "dlbook" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in _top_modules() else None


def _module_name(path: Path, root: Path | None = None) -> str:
    parts = path.relative_to((root or SRC).parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(code: str, name: str, is_package: bool, index) -> set[str]:
    """The dlbook modules ``code`` (module ``name``) imports, at any depth (an import
    inside a function counts: it runs): ``from p import m`` imports module ``p.m``
    when there is one, ``from p import f`` the module ``p``."""
    import ast

    from dlbook.base.closure import from_module

    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = from_module(node, name, is_package)
            for alias in node.names:
                module = f"{base}.{alias.name}"
                found.add(module if index.module_file(module) else base)
    return {n for n in found if index.module_file(n) and n != name}


def _module_imports(root: Path | None = None) -> dict[str, set[str]]:
    """Every module of dlbook (under ``root``) -> the dlbook modules it imports."""
    from dlbook.base.closure import PackageIndex

    root = root or SRC
    index = PackageIndex("dlbook", root)
    return {
        _module_name(path, root): _imports_of(
            path.read_text(),
            _module_name(path, root),
            path.name == "__init__.py",
            index,
        )
        for path in sorted(root.rglob("*.py"))
    }


def _page_imports() -> dict[str, set[str]]:
    """Every page with code cells -> the dlbook names its cells import (the way the
    execution cache reads them)."""
    from dlbook.base.closure import imported_names
    from dlbook_site.sphinx_cache import code_cells

    found = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        cells = code_cells(page.read_text())
        if cells:
            found[page.stem] = set().union(*(imported_names(c) for c in cells))
    return found


def test_every_page_with_code_and_every_module_is_on_the_map():
    from dlbook.pages import PAGES, SHARED

    assert set(PAGES) == set(_page_imports()), "pages with code cells vs dlbook.pages"
    owned = [m for modules in PAGES.values() for m in modules]
    assert len(owned) == len(set(owned)), "a module holds the code of two pages"
    assert set(owned) | set(SHARED) == _top_modules(), {
        "on no page and not shared": sorted(_top_modules() - set(owned) - set(SHARED)),
        "on the map but not in src/dlbook": sorted(
            (set(owned) | set(SHARED)) - _top_modules()
        ),
    }


def test_each_page_imports_the_modules_the_map_gives_it():
    from dlbook.pages import PAGES

    imports = _page_imports()
    for page, modules in PAGES.items():
        imported = {_top(n) for n in imports[page]}
        missing = [m for m in modules if m not in imported]
        assert not missing, f"docs/{page}.md imports none of {missing}"


def test_what_each_page_builds_on_is_what_its_code_imports():
    """A page's cells and its modules import its own modules, shared ones, and the
    modules of the pages BUILDS_ON names: no more, no fewer."""
    from dlbook.pages import BUILDS_ON, PAGES, SHARED

    owner = {m: page for page, ms in PAGES.items() for m in ms if m not in SHARED}
    modules = _module_imports()
    pages = _page_imports()
    for page, own in PAGES.items():
        names = set(pages[page])
        for name, imported in modules.items():
            if _top(name) in own:
                names |= imported
        reused = {owner[t] for t in map(_top, names) if t in owner} - {page}
        assert reused == set(BUILDS_ON.get(page, ())), page


def test_shared_modules_and_weight_ports_import_no_chapter():
    """Imports run one way: what chapters and ports stand on imports no page's own
    module (the ports in dlbook.pretrained included)."""
    from dlbook.pages import PAGES, SHARED

    chapters = {m for ms in PAGES.values() for m in ms} - set(SHARED)
    wrong = {
        name: sorted(n for n in imported if _top(n) in chapters)
        for name, imported in _module_imports().items()
        if _top(name) in SHARED or name == "dlbook"
    }
    wrong = {name: chapters for name, chapters in wrong.items() if chapters}
    assert not wrong, f"shared modules that import a page's module: {wrong}"


def test_no_module_reads_a_private_name_of_another():
    """``from dlbook.x import _name`` or ``x._name`` across top-level modules: a
    private name is its module's own."""
    import ast

    from dlbook.base.closure import from_module

    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text())
        aliases = {}  # local name -> the dlbook module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = from_module(node, name, path.name == "__init__.py")
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    aliases[alias.asname or alias.name] = target
                    private = alias.name.startswith("_")
                    if private and _top(base) and _top(base) != _top(name):
                        found.append(f"{name}: from {base} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                target = aliases.get(node.value.id, "")
                if _top(target) and _top(target) != _top(name):
                    found.append(f"{name}: {node.value.id}.{node.attr}")
    assert not found, found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycle_hidden_or_not():
    """No dlbook module imports itself back, through any chain of imports, counting
    the ones inside functions (a cycle they hide still runs when they do)."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles(_module_imports()) == []


def test_the_cycle_test_sees_an_import_inside_a_function(tmp_path):
    """The cycle that dlbook.data once hid: the package imported its archive reader
    inside a function, and the reader imported the package for Dataset."""
    package = tmp_path / "dlbook" / "data"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text(
        "class Dataset: ...\n\ndef shakespeare():\n    from dlbook.data import archives\n"
    )
    (package / "archives.py").write_text("from dlbook.data import Dataset\n")
    graph = _module_imports(tmp_path / "dlbook")
    assert graph["dlbook.data"] == {"dlbook.data.archives"}
    assert _cycles(graph) == [["dlbook.data", "dlbook.data.archives"]]


def test_the_readme_shows_the_map():
    from dlbook.pages import PAGES

    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    rows = {
        line.split()[0]: line.split(None, 1)[1].strip()
        for line in layout.splitlines()
        if line.startswith("  ") and line.split() and line.split()[0] in PAGES
    }
    assert rows == {page: ", ".join(ms) for page, ms in PAGES.items()}
