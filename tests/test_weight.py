"""Page weight of the built site: no page over 3 MB, the median page under 1 MB.

A page's weight is its HTML (inlined figures and animations included) plus the images
it alone loads (:mod:`dlbook_site.weight`). The site is conftest's ``built_html``: a
missing build skips, except under ``nox -s tests`` and ``nox -s paste``, where it
fails.
"""

import pytest

from dlbook_site import weight

# run with the pages' scripts after nbval (noxfile.paste_and_weigh), by `tests` and `paste`
pytestmark = pytest.mark.weight


@pytest.fixture(scope="module")
def site_weight(built_html):
    return weight.weigh_site(built_html)


def test_no_page_is_over_3_mb(site_weight):
    over = {p.page: f"{p.total / weight.KB:.0f} KB" for p in site_weight.over()}
    assert not over, f"pages over {weight.PAGE_LIMIT / weight.MB:.0f} MB: {over}"


def test_median_page_is_under_1_mb(site_weight):
    assert site_weight.written, "the built site has no pages"
    assert site_weight.median <= weight.MEDIAN_LIMIT, (
        f"median page {site_weight.median / weight.KB:.0f} KB "
        f"> {weight.MEDIAN_LIMIT / weight.KB:.0f} KB\n{weight.table(site_weight)}"
    )


def test_every_loaded_file_is_there(site_weight):
    missing = {p.page: p.missing for p in site_weight.pages if p.missing}
    assert not missing, f"pages load files the site does not have: {missing}"


def test_weight_counts_images_once_and_shared_files_apart(tmp_path):
    """The weighing itself, on a two-page site made here."""
    (tmp_path / "_images").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "downloads").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"x" * 1000)
    (tmp_path / "_static" / "theme.css").write_bytes(b"x" * 500)
    (tmp_path / "downloads" / "page.ipynb").write_bytes(b"x" * 300)
    page = (
        '<link rel="stylesheet" href="_static/theme.css">'
        '<img src="_images/a.png"><img src="./_images/a.png">'
        '<img src="data:image/gif;base64,R0lG"><img src="https://example.org/x.png">'
        '<a href="downloads/page.ipynb">notebook</a>'
    )
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "search.html").write_text("<script src='searchindex.js'></script>")
    site = weight.weigh_site(tmp_path)
    index = next(p for p in site.pages if p.page == "index.html")
    assert index.own == {"_images/a.png": 1000}
    assert index.total == len(page) + 1000
    assert index.shared == {"_static/theme.css"}
    assert index.downloads == {"downloads/page.ipynb": 300}
    assert site.shared == {"_static/theme.css": 500}
    assert [p.page for p in site.written] == ["index.html"]
    search = next(p for p in site.pages if p.page == "search.html")
    assert search.missing == ["searchindex.js"]
    assert "index.html" in weight.table(site)
    with pytest.raises(ValueError, match="site"):
        weight.weigh_site(tmp_path / "nowhere")
