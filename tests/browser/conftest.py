"""The browser check's set-up: the built site served on localhost, headless Chromium.

Run by ``nox -s browser`` (``pytest tests/browser``); the plain ``pytest tests`` run
does not collect this folder (``norecursedirs`` in pyproject.toml). The site is
DLBOOK_SITE, else what ``nox -s tests`` built (``docs/_build/tests/html``), else
``docs/_build/html``. Chromium is the system's (Debian's ``chromium`` package), or the
binary DLBOOK_CHROMIUM names: Playwright drives it and never downloads a browser.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_VARIABLE = "DLBOOK_CHROMIUM"
CHROMIUM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
INSTALL_HINT = (
    "install it with `sudo apt-get install chromium` (Debian/Ubuntu), or point "
    f"{CHROMIUM_VARIABLE} at a Chromium or Chrome binary"
)


def site_folder() -> Path:
    """The built site to check (see the module's docstring)."""
    chosen = os.environ.get("DLBOOK_SITE")
    if chosen:
        return Path(chosen).resolve()
    for folder in (ROOT / "docs/_build/tests/html", ROOT / "docs/_build/html"):
        if (folder / "index.html").is_file():
            return folder
    return ROOT / "docs/_build/html"


def find_chromium() -> str | None:
    """DLBOOK_CHROMIUM, else the first Chromium or Chrome on PATH."""
    chosen = os.environ.get(CHROMIUM_VARIABLE)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the site, relative, e.g. ``memo.html``."""
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not {"_static", "_sources"} & set(p.relative_to(site).parts)
    )


#: pages Sphinx generates (index, search, module index): not in the search index
GENERATED = {"genindex.html", "search.html", "py-modindex.html"}


def pytest_generate_tests(metafunc):
    """``page_name``: every page of the built site; ``indexed_page``: those of them
    the search index holds (all but Sphinx's generated ones)."""
    site = site_folder()
    names = site_pages(site) if (site / "index.html").is_file() else ["index.html"]
    if "page_name" in metafunc.fixturenames:
        metafunc.parametrize("page_name", names)
    if "indexed_page" in metafunc.fixturenames:
        indexed = [n for n in names if PurePosixPath(n).name not in GENERATED]
        metafunc.parametrize("indexed_page", indexed)


@pytest.fixture(scope="session")
def site() -> Path:
    folder = site_folder()
    if not (folder / "index.html").is_file():
        pytest.fail(
            f"no built site in {folder}: run `./noxw -s docs` (or set DLBOOK_SITE)"
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
    executable = find_chromium()
    if executable is None:
        pytest.fail(f"no Chromium found: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `pip install -e .[browser]`")
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
