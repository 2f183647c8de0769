"""Test set-up: a quiet TensorFlow, a headless matplotlib, and glue-aware nbval.

myst-nb moves glued values out of the executed notebooks it writes
(``<build>/jupyter_execute/<page>.ipynb``) into ``<page>.glue.json``. When nbval
re-executes a page, those glue outputs come back; here they are compared with the
build's ``glue.json`` instead of with the cell, so glued numbers are validated too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dlbook.base import settings  # noqa: E402  (standard library only)

settings.apply_environment(os.environ)

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")  # this process only: nbval's kernels keep the inline backend

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_DATA = "DLBOOK_REQUIRE_DATA"
# The built site the site checks read: DLBOOK_BUILD_DIR (`nox -s tests` builds into
# docs/_build/tests and sets it), else docs/_build.
BUILD = Path(os.environ.get("DLBOOK_BUILD_DIR") or ROOT / "docs" / "_build")


@pytest.fixture(scope="session")
def built_html() -> Path:
    """The built site's HTML folder; skips when there is none, except under nox
    (``DLBOOK_SITE_BUILT=1``: it built the site, so a missing one fails)."""
    html = BUILD / "html"
    if not (html / "index.html").exists():
        if os.environ.get("DLBOOK_SITE_BUILT"):
            pytest.fail(f"nox built the site but {html / 'index.html'} is missing")
        pytest.skip("site not built: run `./noxw -s docs` (or `./noxw -s tests`)")
    return html


def missing_data(reason: str):
    """Skip a test whose fetched data or weights are absent, except where they must be
    there (``DLBOOK_REQUIRE_DATA=1``, set by ``nox -s tests``): then it fails."""
    if os.environ.get(REQUIRE_DATA, "") == "1":
        pytest.fail(
            f"{reason} ({REQUIRE_DATA}=1: nox installs it, so it must be there)"
        )
    pytest.skip(reason)


GLUE_PREFIX = "application/papermill.record/"


def split_glue(outputs):
    """Separate hidden glue outputs (as myst-nb removes them) from the rest."""
    kept, glued = [], {}
    for output in outputs:
        scrapbook = output.get("metadata", {}).get("scrapbook")
        if scrapbook is None:
            kept.append(output)
            continue
        prefix = scrapbook.get("mime_prefix", "")
        glued[scrapbook["name"]] = {
            k[len(prefix) :]: v for k, v in output["data"].items()
        }
        if not prefix:
            kept.append(output)
    return kept, glued


def _install_glue_comparison() -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to patch
        return
    original = IPyNbCell.compare_outputs
    if getattr(original, "dlbook_glue_aware", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        kept, glued = split_glue(test)
        same = original(self, kept, ref, skip_compare)
        glue_file = Path(str(self.parent.fspath)).with_suffix(".glue.json")
        reference = json.loads(glue_file.read_text()) if glue_file.exists() else {}
        for key, data in glued.items():
            expected = reference.get(key, {}).get("data", {}).get("text/plain")
            got = data.get("text/plain")
            if expected is None:
                self.comparison_traceback.append(
                    f"glue key {key!r} is not in {glue_file.name}"
                )
                same = False
            elif self.sanitize(expected) != self.sanitize(got):
                self.comparison_traceback.append(
                    f"glued value {key!r} changed: build had {expected}, this run gave {got}"
                )
                same = False
        return same

    compare_outputs.dlbook_glue_aware = True
    IPyNbCell.compare_outputs = compare_outputs


_install_glue_comparison()
