"""What the noxfile, ``docs/conf.py`` and the tests share about the site: where a build
goes and which one the checks read (``DLBOOK_SITE``), whether a missing build or
missing data fails instead of skipping (``DLBOOK_REQUIRE_DATA``), and where the
Chromium of the browser check is (``DLBOOK_CHROMIUM``).

Standard library only: the noxfile (whose Python has nothing of the book installed)
and the browser check (whose environment has only Playwright and pytest) read this
file by path, ``runpy.run_path``, as the noxfile reads :mod:`dlbook.base.settings`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

#: The build folder of the site: Sphinx writes ``html/``, ``jupyter_execute/`` and the
#: execution cache ``.jupyter_cache/`` into it, and the checks read them from it.
SITE_VAR = "DLBOOK_SITE"
#: Set to 1 (``nox -s tests`` does): a test that would skip for want of fetched data,
#: weights or a built site fails instead.
REQUIRE_VAR = "DLBOOK_REQUIRE_DATA"
#: A Chromium or Chrome binary for the browser check, when none is on PATH.
CHROMIUM_VAR = "DLBOOK_CHROMIUM"
#: Pages a build executes at once (``sphinx -j``; the docs and tests sessions and the
#: benchmark): most of a page's operations are too small to keep two cores busy
#: (nbval's two workers ran the pages 1.6x faster than one), and the numbers stay the
#: same (trained weights depend on the intra-op thread count, part of every store key,
#: not on what else runs: tests/test_parallel_numbers.py).
PAGES_AT_ONCE = 2
#: What the browser check looks for on PATH, in this order.
CHROMIUM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def build_folder(docs: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where a build of the site in ``docs`` goes: ``$DLBOOK_SITE``, else
    ``docs/_build`` (``nox -s tests`` builds into ``docs/_build/tests`` and sets it, so
    pages it executes two at a time never reach the published site's cache)."""
    chosen = _environ(environ).get(SITE_VAR)
    return Path(chosen) if chosen else Path(docs) / "_build"


def checked_build(docs: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The build folder the checks of a built site read: ``$DLBOOK_SITE``; else what
    ``nox -s tests`` built (``docs/_build/tests``) when it holds a site; else
    ``docs/_build``, what ``nox -s docs`` builds."""
    if _environ(environ).get(SITE_VAR):
        return build_folder(docs, environ)
    tests = Path(docs) / "_build" / "tests"
    if (tests / "html" / "index.html").is_file():
        return tests
    return Path(docs) / "_build"


def required(environ: Mapping[str, str] | None = None) -> bool:
    """True when what the tests read must be there (``DLBOOK_REQUIRE_DATA=1``)."""
    return _environ(environ).get(REQUIRE_VAR, "").strip() == "1"


def find_chromium(environ: Mapping[str, str] | None = None) -> str | None:
    """``$DLBOOK_CHROMIUM`` when it names a file, else the first Chromium or Chrome on
    PATH; ``None`` when there is none."""
    environ = _environ(environ)
    chosen = environ.get(CHROMIUM_VAR)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    search = environ.get("PATH", os.defpath)
    return next(
        (
            found
            for name in CHROMIUM_NAMES
            if (found := shutil.which(name, path=search))
        ),
        None,
    )


def chromium_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """``None`` when :func:`find_chromium` finds a browser; else the one message that
    says how to get one (the noxfile stops with it before building anything)."""
    environ = _environ(environ)
    if find_chromium(environ) is not None:
        return None
    chosen = environ.get(CHROMIUM_VAR)
    found = (
        f"{CHROMIUM_VAR}={chosen} is not a file"
        if chosen
        else f"no Chromium found on PATH (looked for {', '.join(CHROMIUM_NAMES)})"
    )
    return (
        f"{found}. The browser check drives the system's Chromium (Playwright never "
        "downloads one): install it (Debian/Ubuntu: `sudo apt-get install chromium`; "
        f".ci/run does), or set {CHROMIUM_VAR}=/path/to/chromium (or Chrome)."
    )
