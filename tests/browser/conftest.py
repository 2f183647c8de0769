"""The browser check's set-up: the built site served on localhost, headless Chromium.

Run by ``nox -s browser`` (``pytest tests/browser``); the plain ``pytest tests`` run
does not collect this folder (``norecursedirs`` in pyproject.toml). The site is the
HTML of the build folder DLBOOK_SITE, else of what ``nox -s tests`` built
(``docs/_build/tests``), else of ``docs/_build``. Chromium is the system's (Debian's
``chromium`` package), or the binary DLBOOK_CHROMIUM names: Playwright drives it and
never downloads a browser.

This environment has Playwright and pytest, not the book: what the check shares with
the site (where the build is, how Chromium is found, which pages Sphinx generates, the
copy button's rule) is read by path from ``dlbook_site``'s standard-library-only modules.
"""

from __future__ import annotations

import functools
import os
import runpy
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def site_module(name: str) -> dict:
    """The namespace of ``dlbook_site.<name>`` (settings, weight, scripts), read by path."""
    return runpy.run_path(str(ROOT / "sitebuild" / "dlbook_site" / f"{name}.py"))


def site_folder() -> Path:
    """The built site to check: the ``html`` of the build folder (see the module)."""
    return site_module("settings")["checked_build"](ROOT / "docs") / "html"


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the site, relative, e.g. ``memo.html``."""
    return [
        p.relative_to(site).as_posix() for p in site_module("weight")["pages"](site)
    ]


def pytest_generate_tests(metafunc):
    """``page_name``: every page of the built site; ``indexed_page``: those of them
    the search index holds (all but the pages Sphinx generates, ``weight.GENERATED``)."""
    site = site_folder()
    names = site_pages(site) if (site / "index.html").is_file() else ["index.html"]
    if "page_name" in metafunc.fixturenames:
        metafunc.parametrize("page_name", names)
    if "indexed_page" in metafunc.fixturenames:
        generated = site_module("weight")["GENERATED"]
        indexed = [n for n in names if PurePosixPath(n).name not in generated]
        metafunc.parametrize("indexed_page", indexed)


@pytest.fixture(scope="session")
def site() -> Path:
    folder = site_folder()
    if not (folder / "index.html").is_file():
        pytest.fail(
            f"no built site in {folder}: run `./noxw -s docs` (or set DLBOOK_SITE to "
            "a build folder)"
        )
    return folder


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


@pytest.fixture(scope="session")
def base_url(site):
    """http://127.0.0.1:PORT/ serving the site, on a free port, in a thread."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    settings = site_module("settings")
    executable = settings["find_chromium"]()
    if executable is None:
        pytest.fail(settings["chromium_problem"]())
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "playwright is missing: run the check with `./noxw -s browser`, which "
            "installs it (sitebuild/pyproject.toml, extra `browser`)"
        )
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(
        os.environ.get("DLBOOK_SCREENSHOTS") or ROOT / "docs/_build/screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder
