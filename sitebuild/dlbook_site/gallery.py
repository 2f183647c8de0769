"""Sphinx extension: the landing gallery, one card per section of the notes.

The landing page lists the notes' sections in their order, each with the page that
covers it (or ``-`` while none does)::

    ```{dlbook-gallery}
    convnets | Convolutional neural network (convolution, max-pooling)
    - | Generative models: style transfer
    ```

Each card is filled when the site is written, from the page itself, so nothing on it
is written twice: the page's title, the "You will learn" line of its "At a glance"
box, its run time (the ``runtime`` it glued when it executed) and a thumbnail of its
first executed figure, made at build time. A section without a page gets a card
saying so.
"""

from __future__ import annotations

import ast
import html
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from dlbook_site.photos import on_white

#: Largest thumbnail, in pixels (width, height); the aspect ratio is kept.
THUMBNAIL_SIZE = (360, 220)
#: Where the thumbnails go, inside the HTML output.
THUMBNAIL_FOLDER = "_images/gallery"


@dataclass(frozen=True)
class Entry:
    """One section of the notes and the page covering it (``None``: not written)."""

    section: str
    docname: str | None


def parse_entries(lines) -> list[Entry]:
    """The gallery's entries from lines ``docname | section`` (``-`` as the docname of
    a section without a page yet); blank lines are skipped."""
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        docname, bar, section = (part.strip() for part in line.partition("|"))
        if not bar or not docname or not section:
            raise ValueError(
                f"gallery line {number} must read 'docname | section of the notes' "
                f"(docname '-' for a section without a page), got {line!r}"
            )
        entries.append(Entry(section, None if docname == "-" else docname))
    return entries


class gallery(nodes.General, nodes.Element):
    """Placeholder for the gallery until every page has been read."""


class Gallery(SphinxDirective):
    """``{dlbook-gallery}``: the cards, one per line of content (see the module)."""

    has_content = True

    def run(self):
        try:
            entries = parse_entries(self.content)
        except ValueError as error:
            raise self.error(str(error)) from None
        unknown = [
            e.docname
            for e in entries
            if e.docname and e.docname not in self.env.found_docs
        ]
        if unknown:
            raise self.error(f"gallery names pages that do not exist: {unknown}")
        if not entries:
            raise self.error("the gallery needs at least one 'docname | section' line")
        node = gallery()
        node["entries"] = [(e.section, e.docname) for e in entries]
        return [node]


# --- what a card shows, read from its page ----------------------------------------


@dataclass
class Card:
    """What one card shows; ``thumbnail`` is a path inside the HTML output."""

    section: str
    docname: str | None
    title: str = ""
    teaches: str = ""
    runtime: str = ""
    thumbnail: str = ""
    alt: str = ""
    classes: tuple[str, ...] = ()


def teaches_line(doctree) -> str:
    """The "You will learn" definition of a page's "At a glance" box, as one line."""
    for box in doctree.findall(nodes.admonition):
        if "dlbook-header" not in box["classes"]:
            continue
        for item in box.findall(nodes.definition_list_item):
            terms = list(item.findall(nodes.term))
            if terms and terms[0].astext().strip().lower() == "you will learn":
                definition = next(iter(item.findall(nodes.definition)), None)
                if definition is not None:
                    return " ".join(definition.astext().split())
    return ""


def first_figure(doctree) -> nodes.image | None:
    """The first image a code cell's output holds (myst-nb's ``cell_output``)."""
    for container in doctree.findall(nodes.container):
        if "cell_output" not in container["classes"]:
            continue
        for image in container.findall(nodes.image):
            return image
    return None


def glued_text(output_folder: Path, docname: str, key: str) -> str:
    """The text a page glued under ``key`` when it executed (myst-nb writes the glued
    values beside the executed notebook), or ``""``."""
    path = output_folder / f"{docname}.glue.json"
    if not path.is_file():
        return ""
    entry = json.loads(path.read_text(encoding="utf-8")).get(key)
    if not entry:
        return ""
    text = entry.get("data", {}).get("text/plain", "")
    try:  # a glued str is stored as its repr, as {glue:text} shows it
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def make_thumbnail(source: Path, target: Path, size=THUMBNAIL_SIZE) -> None:
    """Shrink ``source`` into ``target`` (PNG) within ``size``, on white."""
    from PIL import Image

    with Image.open(source) as image:
        image = on_white(image)
        image.thumbnail(size, Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, format="PNG", optimize=True)


def _image_file(app, image: nodes.image) -> Path | None:
    """The file on disk of an image node (its uri is relative to the source folder)."""
    uri = image.get("candidates", {}).get("*") or image.get("uri", "")
    path = Path(app.srcdir, uri)
    return path if path.is_file() else None


def build_card(app, section: str, docname: str | None) -> Card:
    """The card of one entry, its thumbnail written into the HTML output."""
    card = Card(section, docname)
    if docname is None:
        return card
    env = app.env
    card.title = env.titles[docname].astext() if docname in env.titles else docname
    doctree = env.get_doctree(docname)
    card.teaches = teaches_line(doctree)
    output_folder = Path(app.outdir).parent / "jupyter_execute"
    card.runtime = glued_text(output_folder, docname, "runtime")
    image = first_figure(doctree)
    source = _image_file(app, image) if image is not None else None
    if source is not None:
        card.thumbnail = f"{THUMBNAIL_FOLDER}/{docname}.png"
        make_thumbnail(source, Path(app.outdir, card.thumbnail))
        card.alt = image.get("alt", "") or f"First figure of the page {card.title}"
        card.classes = tuple(c for c in image["classes"] if c.startswith("dlbook-"))
    return card


def card_html(card: Card, page_uri: str, root: str) -> str:
    """One card: a link to the page (or a plain box for a section not written)."""
    esc = html.escape
    parts = [f'<span class="dlbook-card-section">{esc(card.section)}</span>']
    if card.docname is None:
        parts.append('<span class="dlbook-card-status">Page not written yet</span>')
        return f'<div class="dlbook-card dlbook-card-planned">{"".join(parts)}</div>'
    if card.thumbnail:
        classes = " ".join(("dlbook-card-thumb", *card.classes))
        parts.insert(
            0,
            f'<img class="{classes}" src="{esc(root + card.thumbnail)}" '
            f'alt="{esc(card.alt)}" loading="lazy">',
        )
    parts.append(f'<span class="dlbook-card-title">{esc(card.title)}</span>')
    if card.teaches:
        parts.append(f'<span class="dlbook-card-teaches">{esc(card.teaches)}</span>')
    if card.runtime:
        parts.append(
            f'<span class="dlbook-card-runtime">Runs in {esc(card.runtime)}</span>'
        )
    return f'<a class="dlbook-card" href="{esc(page_uri)}">{"".join(parts)}</a>'


def _on_doctree_resolved(app, doctree, docname) -> None:
    for node in list(doctree.findall(gallery)):
        cards = [build_card(app, s, d) for s, d in node["entries"]]
        if app.builder.format == "html":
            root = posixpath.relpath(".", posixpath.dirname(docname) or ".") + "/"
            root = "" if root == "./" else root
            body = "".join(
                card_html(
                    c,
                    app.builder.get_relative_uri(docname, c.docname)
                    if c.docname
                    else "",
                    root,
                )
                for c in cards
            )
            node.replace_self(
                nodes.raw(
                    "", f'<div class="dlbook-gallery">{body}</div>', format="html"
                )
            )
        else:  # other builders: a plain list of the sections and their pages
            items = nodes.bullet_list()
            for c in cards:
                text = (
                    f"{c.section}: {c.title}" if c.docname else f"{c.section}: planned"
                )
                items += nodes.list_item("", nodes.paragraph(text=text))
            node.replace_self(items)


def _on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    """Re-read the gallery's page whenever another page changed: its cards show them."""
    others = (added | changed | removed) - {app.config.dlbook_gallery_page}
    page = app.config.dlbook_gallery_page
    return [page] if others and page in env.found_docs else []


def setup(app):
    app.add_config_value("dlbook_gallery_page", "index", "env")
    app.add_node(gallery)
    app.add_directive("dlbook-gallery", Gallery)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("env-get-outdated", _on_env_get_outdated)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
