"""What the built site tells search engines and link previews: the sitemap, the
canonical address and the social cards (drawn at build time, never fetched)."""

import ast
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dlbook_site.weight import pages

ROOT = Path(__file__).resolve().parents[1]
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _published_url():
    """conf.py's published_url alone (running conf.py would change this process'
    environment)."""
    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    (function,) = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "published_url"
    ]
    namespace = {"os": os}
    exec(compile(ast.Module([function], []), "conf.py", "exec"), namespace)
    return namespace["published_url"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://127.0.0.1:8000/"),
        ({"DLBOOK_SITE_URL": "https://example.org/book"}, "https://example.org/book/"),
        (
            {"READTHEDOCS_CANONICAL_URL": "https://dlbook.readthedocs.io/en/latest/"},
            "https://dlbook.readthedocs.io/en/latest/",
        ),
        (
            {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "Some-Owner/dlbook"},
            "https://some-owner.github.io/dlbook/",
        ),
        ({"GITHUB_REPOSITORY": "owner/dlbook"}, "http://127.0.0.1:8000/"),
    ],
)
def test_the_published_address_follows_the_host(environ, expected):
    assert _published_url()(environ) == expected


def _base(built_html: Path) -> str:
    index = (built_html / "index.html").read_text(encoding="utf-8")
    found = re.search(r'<link rel="canonical" href="([^"]*)index\.html"', index)
    assert found, "index.html names no canonical address"
    return found.group(1)


def test_the_sitemap_lists_every_page_at_its_canonical_address(built_html):
    base = _base(built_html)
    tree = ET.parse(built_html / "sitemap.xml")
    listed = {loc.text for loc in tree.getroot().iter(f"{SITEMAP}loc")}
    for page in pages(built_html):
        relative = page.relative_to(built_html).as_posix()
        if relative in ("search.html", "genindex.html") or "/" in relative:
            continue
        assert base + relative in listed, f"{relative} missing from sitemap.xml"
    assert not [url for url in listed if not url.startswith(base)]


def test_every_chapter_has_a_social_card_drawn_at_build_time(built_html):
    from PIL import Image

    base = _base(built_html)
    for name in ("index", "convnets", "generative", "glossary"):
        html = (built_html / f"{name}.html").read_text(encoding="utf-8")
        assert re.search(r'<meta property="og:title" content="[^"]+"', html), name
        assert re.search(r'<meta name="description" content="[^"]{20,}"', html), name
        image = re.search(r'<meta property="og:image" content="([^"]+)"', html)
        assert image, f"{name}.html has no og:image"
        url = image.group(1)
        assert url.startswith(base + "_images/social_previews/"), url
        card = built_html / url.removeprefix(base)
        with Image.open(card) as picture:
            width, height = picture.size  # about 1.91:1, as link previews crop
            assert width >= 1000 and 1.8 < width / height < 2.0, picture.size
            grey = picture.convert("L")
            low, high = grey.getextrema()
            assert high - low > 100, f"{card.name} is blank"
