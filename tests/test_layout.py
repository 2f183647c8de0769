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
