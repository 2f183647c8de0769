"""The whole book as one PDF (``nox -s pdf``), checked as a reader would: it opens, its
outline has a section for every page of the site, its pages hold the figures and they
render with something on them.

Marked ``pdf``: ``nox -s tests`` (which runs before ``nox -s pdf``) leaves it out; the
``pdf`` session runs it after printing, with DLBOOK_REQUIRE_DATA=1, where a missing PDF
fails. Run by hand, it skips when no PDF was built.
"""

import re
from pathlib import Path

import pytest

from dlbook_site import settings as site_settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
pytestmark = pytest.mark.pdf
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@pytest.fixture(scope="module")
def book():
    path = site_settings.checked_build(DOCS) / "pdf" / "dlbook.pdf"
    if not path.is_file():
        if site_settings.required():
            pytest.fail(f"no PDF at {path}: `./noxw -s pdf` prints it")
        pytest.skip(f"no PDF at {path} (`./noxw -s pdf` prints it)")
    pypdf = pytest.importorskip("pypdf")
    return path, pypdf.PdfReader(str(path))


def _titles(outline) -> list[str]:
    titles = []
    for item in outline:
        if isinstance(item, list):
            titles += _titles(item)
        else:
            titles.append(" ".join(item.title.split()))
    return titles


def _page_titles() -> dict[str, str]:
    """Every page of the toctrees of docs/index.md with the title of its first heading."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    names = [
        line.strip()
        for block in re.findall(r"```\{toctree\}\n(.*?)```", index, re.S)
        for line in block.splitlines()
        if line.strip() and not line.startswith(":")
    ]
    titles = {}
    for name in names:
        text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", text, re.M)
        if heading is None:  # a page that includes another file (contributing)
            continue
        titles[name] = " ".join(re.sub(r"[`*]", "", heading.group(1)).split())
    return titles


def _letters(title: str) -> str:
    """A title without its spaces (Chromium may join a wrapped heading's lines) and
    with plain quotes (the HTML's are typographic)."""
    return "".join(title.split()).translate(QUOTES)


def test_the_outline_has_a_section_for_every_page(book):
    _, reader = book
    outline = {_letters(title) for title in _titles(reader.outline)}
    wanted = _page_titles()
    assert len(wanted) >= 20
    missing = [name for name, title in wanted.items() if _letters(title) not in outline]
    assert not missing, f"pages without a section in the PDF's outline: {missing}"


def test_every_page_is_in_the_text_of_the_book(book):
    _, reader = book
    assert len(reader.pages) > 50, "a book of a few pages lost its chapters"
    text = " ".join(page.extract_text() or "" for page in reader.pages[:3])
    assert "dlbook" in text


def _image_pages(reader) -> list[int]:
    """Indices of the pages that draw at least one raster image."""
    found = []
    for number, page in enumerate(reader.pages):
        resources = page.get("/Resources") or {}
        objects = resources.get("/XObject") or {}
        if any(
            obj.get_object().get("/Subtype") == "/Image" for obj in objects.values()
        ):
            found.append(number)
    return found


def test_the_figures_are_in_it_and_render(book):
    path, reader = book
    pages = _image_pages(reader)
    # the site's figures: the PNG and JPEG files of its cells and pages
    built = site_settings.checked_build(DOCS) / "html" / "_images"
    figures = [p for p in built.glob("*") if p.suffix in (".png", ".jpg", ".gif")]
    assert len(pages) >= min(len(figures), 200) // 4, (
        f"{len(pages)} pages with an image for {len(figures)} figures of the site"
    )
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(str(path))
    # three pages spread over the book: each must show a picture, not a blank area
    for number in (pages[0], pages[len(pages) // 2], pages[-1]):
        picture = document[number].render(scale=0.5).to_pil().convert("L")
        low, high = picture.getextrema()
        histogram = picture.histogram()
        inked = sum(histogram[:200]) / sum(histogram)
        assert high - low > 100 and inked > 0.02, f"page {number + 1} renders blank"
        spreads = []
        for image in reader.pages[number].images:
            low, high = image.image.convert("L").getextrema()
            spreads.append(high - low)
        assert max(spreads, default=0) > 50, f"page {number + 1}: its images are flat"
    document.close()


def test_the_landing_page_offers_it(book):
    path, _ = book
    html = site_settings.checked_build(DOCS) / "html"
    index = (html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<a href="dlbook\.pdf" download>', index), "no download link"
    copied = html / "dlbook.pdf"
    assert copied.is_file() and copied.stat().st_size == path.stat().st_size


def test_the_pdf_build_refuses_to_execute_a_page_naming_it(monkeypatch):
    from myst_nb.core.execute import cache

    from dlbook_site import pdf

    # restored after the test: other tests build sites that do execute
    monkeypatch.setattr(cache, "single_nb_execution", cache.single_nb_execution)
    pdf.refuse_execution()

    class Client:  # what myst-nb's cache client calls it from
        path = "docs/memo.md"

        def start(self):
            return cache.single_nb_execution(None, cwd=".")

    with pytest.raises(pdf.ExecutionRefused, match="docs/memo.md is missing"):
        Client().start()
