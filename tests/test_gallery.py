"""The landing gallery (dlbook_site.gallery): entries, what a card reads from its page,
thumbnails, and on the built site one card per page in the notes' order."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from docutils.core import publish_doctree

from dlbook_site import gallery

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "docs" / "index.md"


def test_entries_are_parsed_in_order_with_sections_not_written():
    entries = gallery.parse_entries(
        ["convnets | Convolutional networks", "", "- | Style transfer"]
    )
    assert entries == [
        gallery.Entry("Convolutional networks", "convnets"),
        gallery.Entry("Style transfer", None),
    ]


@pytest.mark.parametrize("line", ["convnets", "convnets |", "| Style transfer"])
def test_a_bad_entry_names_the_line_and_the_format(line):
    with pytest.raises(ValueError, match=r"line 1 must read 'docname \| section"):
        gallery.parse_entries([line])


def test_the_teaches_line_comes_from_the_at_a_glance_box():
    doctree = publish_doctree(
        ".. admonition:: At a glance\n   :class: dlbook-header\n\n"
        "   **Data**\n      digits\n\n"
        "   You will learn\n      how a convolution\n      sees an image.\n"
    )
    assert gallery.teaches_line(doctree) == "how a convolution sees an image."
    assert gallery.teaches_line(publish_doctree("No box here.")) == ""


def test_glued_text_reads_what_the_page_glued(tmp_path):
    (tmp_path / "memo.glue.json").write_text(
        json.dumps({"runtime": {"data": {"text/plain": "'83 s'"}}})
    )
    assert gallery.glued_text(tmp_path, "memo", "runtime") == "83 s"
    assert gallery.glued_text(tmp_path, "memo", "seed") == ""
    assert gallery.glued_text(tmp_path, "other", "runtime") == ""


def test_a_thumbnail_keeps_the_aspect_ratio_within_the_size(tmp_path):
    from PIL import Image

    rgba = np.zeros((300, 900, 4), dtype=np.uint8)  # transparent: becomes white
    rgba[:, :450] = (0, 114, 178, 255)
    Image.fromarray(rgba).save(tmp_path / "figure.png")
    gallery.make_thumbnail(tmp_path / "figure.png", tmp_path / "out" / "thumb.png")
    with Image.open(tmp_path / "out" / "thumb.png") as thumb:
        assert thumb.size == (360, 120)
        pixels = np.asarray(thumb.convert("RGB"))
    assert tuple(pixels[60, 300]) == (255, 255, 255)
    assert tuple(pixels[60, 20]) == (0, 114, 178)


def _gallery_docnames() -> list[str]:
    text = INDEX.read_text(encoding="utf-8")
    body = re.search(r"```\{dlbook-gallery\}\n(.*?)```", text, re.S).group(1)
    return [e.docname for e in gallery.parse_entries(body.splitlines()) if e.docname]


def test_the_gallery_follows_the_pages_toctree():
    """Every page in the Pages toctree has a card, in the same order (the notes')."""
    text = INDEX.read_text(encoding="utf-8")
    toctree = re.search(r":caption: Pages\n\n(.*?)```", text, re.S).group(1).split()
    assert list(dict.fromkeys(_gallery_docnames())) == toctree


def test_each_card_on_the_built_site_has_its_page_thumbnail_and_run_time(built_html):
    page = (built_html / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<a class="dlbook-card" href="([\w/]+)\.html">(.*?)</a>', page)
    assert [d for d, _ in cards] == _gallery_docnames()
    for docname, card in cards:
        assert 'class="dlbook-card-teaches"' in card, f"{docname}: no teaches line"
        assert re.search(r"Runs in \d+ s", card), f"{docname}: no run time"
        thumb = re.search(r'<img class="dlbook-card-thumb[^"]*" src="([^"]+)"', card)
        shown = (built_html / f"{docname}.html").read_text(encoding="utf-8")
        if re.search(r'class="cell_output[^"]*"(?:(?!</details>).)*?<img', shown, re.S):
            assert thumb, f"{docname} has a figure but its card no thumbnail"
            assert (built_html / thumb.group(1)).is_file()
        else:
            assert not thumb, f"{docname} has no figure, yet a thumbnail"
    planned = re.findall(r"dlbook-card-planned", page)
    lines = (INDEX.read_text(encoding="utf-8")).count("\n- | ")
    assert len(planned) == lines
