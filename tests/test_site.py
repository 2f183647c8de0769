"""Checks of the built site and of the repository's promises (README, CI, references).

The built-site checks read conftest's ``built_html`` and ``executed_notebooks`` (the
build folder DLBOOK_SITE, else what ``nox -s tests`` built, else ``docs/_build``);
without a built site they skip, except under ``nox -s tests`` (DLBOOK_REQUIRE_DATA=1),
where they fail.
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dlbook_site.scripts import COPY_BUTTON
from dlbook_site.weight import pages

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT.parent / "shared" / "seed" / "notes.md"


def test_no_page_requests_another_host(built_html):
    remote = re.compile(
        r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.I
    )
    # the canonical address (html_baseurl) names the page, the browser fetches nothing
    canonical = re.compile(r"""<link rel="canonical" href="[^"]*">""")
    for page in pages(built_html):
        hits = remote.findall(canonical.sub("", page.read_text(encoding="utf-8")))
        assert not hits, f"{page.name} loads something from another host: {hits[:3]}"


def test_math_is_served_locally(built_html):
    memo = (built_html / "memo.html").read_text(encoding="utf-8")
    assert re.search(r'src="_static/mathjax/tex-chtml\.js', memo)
    assert (built_html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert any((built_html / "_static" / "mathjax").rglob("*.woff")), (
        "MathJax fonts are local too"
    )
    assert r"\frac" in memo, (
        "the memo page's formulas reach the HTML as TeX for MathJax"
    )


def test_favicon_is_shipped(built_html):
    index = (built_html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'rel="(shortcut )?icon" href="_static/favicon.svg"', index)
    assert (built_html / "_static" / "favicon.svg").exists()


def test_copy_button_skips_prompts_and_outputs(built_html):
    """The built copy button has the settings of dlbook_site.scripts.COPY_BUTTON."""
    config = (built_html / "_static" / "copybutton.js").read_text(encoding="utf-8")
    assert COPY_BUTTON["copybutton_selector"] in config
    assert COPY_BUTTON["copybutton_exclude"] in config


def test_every_page_was_executed_with_outputs(executed_notebooks):
    """nbval compares against these notebooks: each must hold real outputs."""
    for path in executed_notebooks:
        cells = [
            c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
        ]
        assert any(c["outputs"] for c in cells), (
            f"{path.name} has no outputs to compare"
        )
        assert path.with_suffix(".glue.json").exists(), f"{path.name} glues nothing"


def test_tables_have_ids_that_do_not_change_between_builds(executed_notebooks):
    """A pandas Styler draws a random id into its HTML (``T_3f2a1``): nbval then fails
    and two builds differ. Pages give each styled table a fixed one with ``set_uuid``."""
    for path in executed_notebooks:
        for number, cell in enumerate(json.loads(path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                html = "".join(output.get("data", {}).get("text/html", ""))
                assert not re.search(r'id="T_[0-9a-f]{5}_', html), (
                    f"{path.name} cell {number}: a styled table with a random id; "
                    "call .style.set_uuid('name') on it"
                )


def test_every_page_has_the_template_header():
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        if "{code-cell}" not in text:
            continue
        for needle in (
            "You will learn",
            "**Data**",
            "{glue:text}`runtime`",
            "{glue:text}`trainings`",
            "{glue:text}`seed`",
            "start_page()",
            "page.finish()",
        ):
            assert needle in text, f"{page.name} lacks the template's {needle!r}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "./noxw -s tests"
    assert f"```sh\n{command}\n```" in readme
    assert command in ci.splitlines()


def test_references_keep_every_link_of_the_notes():
    if not NOTES.exists():
        pytest.skip(f"notes not found at {NOTES}")
    links = re.findall(r"https?://[^\s)]+|\./img/[^\s)]+", NOTES.read_text())
    references = (ROOT / "docs" / "references.md").read_text()
    missing = [
        link.removeprefix("./")
        for link in links
        if link.removeprefix("./") not in references
    ]
    assert not missing, f"links of the notes missing from references.md: {missing}"


def test_pages_neither_assert_nor_raise_claims_by_hand():
    """Claims are checked with dlbook.book.checks, whose verdicts pages glue."""
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for needle in (
            "\nassert ",
            "    assert ",
            "raise checks.ClaimFailed",
            "ClaimFailed(",
        ):
            assert needle not in text, f"{page.name} checks a claim by hand: {needle!r}"


def test_pages_train_only_through_the_training_core():
    for path in [
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "src" / "dlbook").rglob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        if path.name in ("core.py", "word2vec.py"):  # the core, and a routine it runs
            continue
        for line in text.splitlines():
            keras_fit = ".fit(" in line and "training.fit" not in line
            scikit_learn = any(name in line for name in ("LogisticRegression", "SVC("))
            if keras_fit and not scikit_learn:  # scikit-learn's estimators are fine
                raise AssertionError(
                    f"{path.name} trains outside dlbook.training: {line}"
                )
        assert "set_random_seed" not in text or path.name == "seeding.py", (
            f"{path.name} seeds by hand instead of dlbook.training.reseed"
        )


class _Outline(HTMLParser):
    """A page's ``<img>`` attributes and its heading levels, in document order."""

    def __init__(self):
        super().__init__()
        self.images, self.headings = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def _outline(page):
    outline = _Outline()
    outline.feed(page.read_text(encoding="utf-8"))
    return outline


IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)


def test_every_image_has_alt_text_that_is_not_a_file_name(built_html):
    """Without an alt in the cell's mystnb metadata, an output image's alt is its
    path (``_images/<hash>.png``): useless to a reader who cannot see it."""
    bad = []
    for page in pages(built_html):
        for image in _outline(page).images:
            alt = (image.get("alt") or "").strip()
            src = (image.get("src") or "")[:60]
            if not alt or "/" in alt or "\\" in alt or IMAGE_FILE.search(alt):
                bad.append(f"{page.relative_to(built_html)}: alt={alt!r} src={src}")
    assert not bad, "images without real alt text:\n" + "\n".join(bad)


def test_photographs_are_served_as_jpeg(built_html):
    """Cells marked ``dlbook-photo`` load JPEGs (dlbook_site.photos); the OpenCV page
    has such figures, so the check cannot pass by finding none."""
    photos = {}
    for page in pages(built_html):
        for image in _outline(page).images:
            classes = (image.get("class") or "").split()
            # the gallery's small PNG thumbnails keep the class for the dark theme
            if "dlbook-photo" in classes and "dlbook-card-thumb" not in classes:
                photos.setdefault(page.name, []).append(image.get("src", ""))
    assert "opencv.html" in photos, "no photo figure found on the OpenCV page"
    not_jpeg = {
        p: s for p, srcs in photos.items() for s in srcs if not s.endswith(".jpg")
    }
    assert not not_jpeg, f"photo figures not served as JPEG: {not_jpeg}"


def test_headings_nest(built_html):
    """One h1 per page, and no level skipped going down (h2 then h4)."""
    bad = []
    for page in pages(built_html):
        if page.name == "search.html":  # Sphinx's search page has no heading at all
            continue
        levels = _outline(page).headings
        if levels.count(1) != 1 or levels[:1] != [1]:
            bad.append(f"{page.relative_to(built_html)}: h1 count {levels.count(1)}")
        for before, after in zip(levels, levels[1:], strict=False):
            if after > before + 1:
                bad.append(f"{page.relative_to(built_html)}: h{before} then h{after}")
    assert not bad, "headings that do not nest:\n" + "\n".join(bad)
