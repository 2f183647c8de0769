"""The execution cache never goes stale, and an unchanged rebuild executes nothing."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlbook.base.closure import PackageIndex, imported_names
from dlbook_site import sphinx_cache

FIXTURE = Path(__file__).parent / "fixtures" / "cache_site"


def test_code_cells_are_found_with_their_options_removed():
    page = textwrap.dedent("""\
        # Title
        ```{code-cell} ipython3
        :tags: [remove-cell]
        import dlbook.data
        ```
        text
        ````{code-cell} ipython3
        ---
        mystnb:
          figure:
            caption: x
        ---
        from dlbook.book import plotting
        ````
        ```python
        import not_a_cell
        ```
        """)
    assert sphinx_cache.code_cells(page) == [
        "import dlbook.data",
        "from dlbook.book import plotting",
    ]


def test_imported_names_resolve_relative_imports():
    code = "from . import helper\nfrom .sub import thing\nimport numpy as np\n%matplotlib inline"
    names = imported_names(code, "pkg.mod")
    assert {"pkg", "pkg.helper", "pkg.sub", "pkg.sub.thing", "numpy"} <= names
    assert "pkg.pkg" not in names


def _write_package(root: Path) -> None:
    package = root / "fixturepkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Fixture package."""\n')
    (package / "helper.py").write_text("FACTOR = 2\n")
    (package / "a.py").write_text("VALUE = 'a1'\n")
    (package / "b.py").write_text(
        "from . import helper\n\nVALUE = helper.FACTOR * 21\n"
    )


def test_closure_follows_in_package_imports(tmp_path):
    _write_package(tmp_path)
    index = PackageIndex("fixturepkg", tmp_path / "fixturepkg")
    assert set(index.closure({"fixturepkg.b"})) == {
        "fixturepkg",
        "fixturepkg.b",
        "fixturepkg.helper",
    }
    assert set(index.closure({"fixturepkg.a", "numpy"})) == {
        "fixturepkg",
        "fixturepkg.a",
    }


def test_page_key_changes_with_imported_code_only(tmp_path):
    _write_package(tmp_path)
    index = PackageIndex("fixturepkg", tmp_path / "fixturepkg")
    page = "```{code-cell} ipython3\nfrom fixturepkg import b\n```\n"
    before = sphinx_cache.page_key(page, ".md", index)
    (tmp_path / "fixturepkg" / "a.py").write_text("VALUE = 'changed'\n")
    assert sphinx_cache.page_key(page, ".md", index) == before
    (tmp_path / "fixturepkg" / "helper.py").write_text("FACTOR = 3\n")
    assert sphinx_cache.page_key(page, ".md", index) != before
    assert sphinx_cache.page_key("# prose only\n", ".md", index) is None


def test_the_inputs_digest_follows_the_package_files(tmp_path):
    # an unchanged rebuild reuses a page's key while this digest is unchanged
    _write_package(tmp_path)
    index = PackageIndex("fixturepkg", tmp_path / "fixturepkg")
    before = sphinx_cache.inputs_digest(index)
    assert sphinx_cache.inputs_digest(index) == before
    (tmp_path / "fixturepkg" / "a.py").write_text("VALUE = 'changed'\n")
    assert sphinx_cache.inputs_digest(index) != before


def test_the_data_digest_follows_the_recorded_rebuilds(tmp_path):
    # no records: empty, so a book without them keeps its keys
    assert sphinx_cache.data_digest(tmp_path, ["robustness"]) == ""
    (tmp_path / "robustness").mkdir()
    (tmp_path / "robustness" / "seed-7.json").write_text('{"claims": []}')
    first = sphinx_cache.data_digest(tmp_path, ["robustness"])
    assert first
    (tmp_path / "robustness" / "seed-7.json").write_text('{"claims": [1]}')
    assert sphinx_cache.data_digest(tmp_path, ["robustness"]) != first


def test_page_key_ignores_docstrings_comments_and_formatting(tmp_path):
    _write_package(tmp_path)
    index = PackageIndex("fixturepkg", tmp_path / "fixturepkg")
    page = "```{code-cell} ipython3\nfrom fixturepkg import b\n```\n"
    before = sphinx_cache.page_key(page, ".md", index)
    (tmp_path / "fixturepkg" / "b.py").write_text(
        '"""Now documented."""\n\nfrom . import helper  # the factor\n\n'
        "VALUE = (helper.FACTOR *\n         21)\n"
    )
    assert sphinx_cache.page_key(page, ".md", index) == before
    (tmp_path / "fixturepkg" / "b.py").write_text(
        "from . import helper\n\nVALUE = helper.FACTOR * 22\n"
    )
    assert sphinx_cache.page_key(page, ".md", index) != before


class FixtureSite:
    """The fixture site copied to a temporary folder, built with Sphinx in a subprocess."""

    def __init__(self, root: Path):
        self.root = root
        self.src = root / "site"
        self.packages = root / "packages"
        self.log = root / "executions.log"
        shutil.copytree(FIXTURE, self.src, ignore=shutil.ignore_patterns("_build"))
        _write_package(self.packages)

    def build(self, *options: str, **extra_env) -> set[str]:
        """Build the site; return the pages that executed. A kernel that dies before
        it answers (seen once in CI while the other test worker started kernels of its
        own: a race for its ports) is not the cache's doing: that build runs once more,
        from the same state, since nothing executed."""
        env = {
            **os.environ,
            "PYTHONPATH": str(self.packages),
            "EXECUTION_LOG": str(self.log),
            **extra_env,
        }
        for attempt in (1, 2):
            self.log.write_text("")
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sphinx",
                    "-W",
                    "-q",
                    "-b",
                    "html",
                    *options,
                    str(self.src),
                    str(self.src / "_build" / "html"),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            output = done.stdout + done.stderr
            died = "Kernel died before replying to kernel_info" in output
            if done.returncode == 0 or not died or self.log.read_text() or attempt == 2:
                break
        assert done.returncode == 0, done.stdout + done.stderr
        return set(self.log.read_text().split())

    def edit(self, module: str, text: str) -> None:
        (self.packages / "fixturepkg" / module).write_text(text)


@pytest.mark.slow
def test_cache_reexecutes_exactly_the_pages_whose_code_changed(tmp_path):
    site = FixtureSite(tmp_path)
    everything = {"page_a", "page_b", "page_plain"}
    assert site.build() == everything, "cold build executes every page with code"
    assert site.build() == set(), "an unchanged rebuild executes nothing"
    assert site.build("-E") == set(), (
        "a fresh environment reads every page from the cache"
    )
    for (
        page
    ) in everything:  # and the notebooks nbval compares against still hold outputs
        cells = json.loads(
            (site.src / "_build" / "jupyter_execute" / f"{page}.ipynb").read_text()
        )
        assert any(
            c.get("outputs") for c in cells["cells"] if c["cell_type"] == "code"
        ), page

    site.edit("helper.py", "FACTOR = 3\n")  # imported by b only, indirectly
    assert site.build() == {"page_b"}
    site.edit("a.py", "VALUE = 'a2'\n")
    assert site.build() == {"page_a"}
    assert site.build() == set()

    # Prose in code (a docstring, a comment, formatting) re-executes nothing.
    site.edit("helper.py", '"""The factor."""\n\n# three\nFACTOR = (\n    3\n)\n')
    assert site.build() == set()

    # A distribution installed beside the book that no page's code imports re-executes
    # nothing; once a page's code imports it, its version is part of that page's key.
    def install(version: str) -> None:
        for old in site.packages.glob("fakedep-*.dist-info"):
            shutil.rmtree(old)
        dist = site.packages / f"fakedep-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: fakedep\nVersion: {version}\n"
        )
        (dist / "top_level.txt").write_text("fakedep\n")
        (site.packages / "fakedep").mkdir(exist_ok=True)
        (site.packages / "fakedep" / "__init__.py").write_text("")

    install("1.0")
    assert site.build() == set()
    site.edit("helper.py", "import fakedep\n\nFACTOR = 3\n")
    assert site.build() == {"page_b"}
    install("1.1")
    assert site.build() == {"page_b"}
    assert site.build() == set()

    # Forcing one page.
    assert site.build(DLBOOK_RERUN="page_plain") == {"page_plain"}
    html = (site.src / "_build" / "html" / "page_b.html").read_text()
    assert "63" in html, "page_b shows the value computed with the edited helper"


def test_pasted_from_finds_the_pages_a_page_pastes_values_from():
    source = (
        "Best: {glue:text}`forecasting.md::best:s`, gap {glue:}`../a/b.ipynb::gap` and "
        "{glue:text}`local_key` and {glue:text}`local:.2f`."
    )
    assert sphinx_cache.pasted_from(source, "chapter/page") == {
        "chapter/forecasting",
        "a/b",
    }
    assert sphinx_cache.pasted_from("no glue here", "page") == set()


def test_pruning_the_execution_cache_spares_a_record_being_written(
    tmp_path, monkeypatch
):
    """Two pages executing at once: jupyter-cache's pruning listed a record the other
    worker had just created, its notebook file not written yet, as one to delete, and
    failed (seen once in CI). Under the cache's limit nothing is pruned."""
    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import NbCacheRecord

    sphinx_cache._truncate_only_over_the_limit()
    cache = get_cache(str(tmp_path / "cache"))
    other = NbCacheRecord.create_record("other.ipynb", "0" * 32, cache.db, data={})
    # what the race hands the pruning: the new record among those to delete
    monkeypatch.setattr(
        NbCacheRecord, "records_to_delete", staticmethod(lambda keep, db: [other.pk])
    )
    cache.truncate_caches()  # raised KeyError: no notebook file for the record
    assert [r.pk for r in cache.list_cache_records()] == [other.pk]
