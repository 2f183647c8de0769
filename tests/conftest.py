"""Test set-up: a quiet TensorFlow, a headless matplotlib, the built site the checks
read, the store turned off where a test asks, and glue-aware nbval.

myst-nb moves glued values out of the executed notebooks it writes
(``<build>/jupyter_execute/<page>.ipynb``) into ``<page>.glue.json``. When nbval
re-executes a page, those glue outputs come back; here they are compared with the
build's ``glue.json`` instead of with the cell (:func:`compare_with_glue`), so glued
numbers are validated too.
"""

from __future__ import annotations

import ast
import functools
import json
import os
from pathlib import Path

from dlbook.base import settings  # (both standard library only)
from dlbook_site import settings as site_settings

settings.apply_environment(os.environ)

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")  # this process only: nbval's kernels keep the inline backend

from dlbook.book.page import CLAIMS_GLUE  # noqa: E402  (after the backend is chosen)

ROOT = Path(__file__).resolve().parents[1]
# The build folder of the site the checks read (html/, jupyter_execute/): DLBOOK_SITE
# (`nox -s tests` builds into docs/_build/tests and sets it), else what `tests` built,
# else docs/_build (dlbook_site.settings.checked_build).
BUILD = site_settings.checked_build(ROOT / "docs")
HTML = BUILD / "html"
EXECUTED = BUILD / "jupyter_execute"
NOT_BUILT = "site not built: run `./noxw -s docs` (or `./noxw -s tests`)"


def missing_data(reason: str):
    """Skip a test whose fetched data, weights or built site are absent, except where
    they must be there (``DLBOOK_REQUIRE_DATA=1``, set by ``nox -s tests``, which
    fetches the data and builds the site): then it fails."""
    if site_settings.required():
        pytest.fail(
            f"{reason} ({site_settings.REQUIRE_VAR}=1: nox fetched the data and "
            "built the site, so it must be there)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def built_html() -> Path:
    """The built site's HTML folder (``BUILD / "html"``); skips when there is none,
    except where it must be there (:func:`missing_data`)."""
    if not (HTML / "index.html").exists():
        missing_data(f"{NOT_BUILT}; no {HTML / 'index.html'}")
    return HTML


@pytest.fixture(scope="session")
def executed_notebooks(built_html) -> list[Path]:
    """The notebooks the build executed (``BUILD / "jupyter_execute"``), which nbval
    compares against."""
    notebooks = sorted(EXECUTED.glob("*.ipynb"))
    if not notebooks:
        missing_data(f"{NOT_BUILT}; no executed notebooks in {EXECUTED}")
    return notebooks


@pytest.fixture(autouse=True)
def no_page_seed(monkeypatch):
    """Every test starts outside a page: a seed of None means DEFAULT_SEED, whatever
    page seed an earlier test set (the book's seed convention, dlbook.base.seeding)."""
    from dlbook.base import seeding

    monkeypatch.setattr(seeding, "_page_seed", None)


@pytest.fixture
def no_store(monkeypatch):
    """The trained-model store off (``DLBOOK_STORE=off``): every training trains, so a
    test can compare two runs of it."""
    from dlbook.training import store

    monkeypatch.setenv(store.STORE_VAR, "off")
    monkeypatch.delenv(store.RETRAIN_VAR, raising=False)


# --- nbval: glued values compared with the build's glue.json -------------------------

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


def claim_verdicts(text: str) -> list[tuple[str, str]]:
    """(claim, verdict) of each row of a glued claims ledger (the repr of its JSON)."""
    return [(c["claim"], c["verdict"]) for c in json.loads(ast.literal_eval(text))]


def compare_with_glue(cell, compare, test, ref, skip_compare=None) -> bool:
    """nbval's comparison of one cell's outputs, glued values apart.

    ``cell`` is nbval's ``IPyNbCell`` and ``compare`` its own ``compare_outputs``. The
    outputs of this run (``test``) hold the glue outputs, the build's notebook (``ref``)
    does not: myst-nb moved them to ``<page>.glue.json``. So ``compare`` gets the
    outputs without them, and each glued value is compared, after nbval's sanitizers,
    with the build's value in that file. A difference is written to nbval's report
    (``cell.comparison_traceback``) and makes the cell fail.
    """
    kept, glued = split_glue(test)
    same = compare(kept, ref, skip_compare)
    glue_file = Path(str(cell.parent.fspath)).with_suffix(".glue.json")
    reference = json.loads(glue_file.read_text()) if glue_file.exists() else {}
    for key, data in glued.items():
        expected = reference.get(key, {}).get("data", {}).get("text/plain")
        got = data.get("text/plain")
        if expected is None:
            cell.comparison_traceback.append(
                f"glue key {key!r} is not in {glue_file.name}"
            )
            same = False
        elif key == CLAIMS_GLUE:  # measured values include timings: verdicts only
            if claim_verdicts(expected) != claim_verdicts(got):
                cell.comparison_traceback.append(
                    f"a verdict of the claims ledger changed: build had "
                    f"{claim_verdicts(expected)}, this run gave {claim_verdicts(got)}"
                )
                same = False
        elif cell.sanitize(expected) != cell.sanitize(got):
            cell.comparison_traceback.append(
                f"glued value {key!r} changed: build had {expected}, this run gave {got}"
            )
            same = False
    return same


def pytest_collection_modifyitems(items):
    """Give every notebook cell nbval collected :func:`compare_with_glue` as its
    comparison.

    nbval 0.11 has no hook or option for how outputs are compared (its only knobs are
    the sanitizers, ``--nbval-lax`` and cell tags), and without this every cell that
    glues fails with "Unexpected output fields". So the comparison is ours, set here on
    each collected cell (not on nbval's class) around nbval's own, which still compares
    everything but the glue outputs.
    """
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: no notebook cells to compare
        return
    for item in items:
        if isinstance(item, IPyNbCell):
            # nbval calls self.compare_outputs(test, ref): this cell's attribute now
            nbval_compare = item.compare_outputs  # nbval's own, bound to this cell
            item.compare_outputs = functools.partial(
                compare_with_glue, item, nbval_compare
            )
