"""Sphinx extension: figures of photographs are served as JPEG, not PNG.

matplotlib's inline backend writes every figure as PNG, which suits line plots and
bloats photographs (the OpenCV page's grids of photos were 150-450 KB each, the page
2.9 MB). A cell whose image class is ``dlbook-photo`` (its ``mystnb: image: classes``)
has each PNG output converted once, on white, to a JPEG beside it; the page then
loads the JPEG. The notebook and the cell's code are unchanged: only the site's
copy is smaller. Conversion is deterministic (fixed quality, no timestamps), so two
builds give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes

PHOTO_CLASS = "dlbook-photo"
QUALITY = 90


def on_white(image):
    """An RGB copy of a Pillow ``image`` with any transparency laid on white."""
    from PIL import Image

    image = image.convert("RGBA")
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image).convert("RGB")


def to_jpeg(source: Path, target: Path, quality: int = QUALITY) -> Path:
    """Write ``source`` (any image Pillow reads) as a JPEG ``target`` on white."""
    from PIL import Image

    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be between 1 and 95, got {quality!r}")
    with Image.open(source) as image:
        rgb = on_white(image)
    target.parent.mkdir(parents=True, exist_ok=True)
    rgb.save(target, format="JPEG", quality=quality, optimize=True)
    return target


def _on_doctree_read(app, doctree: nodes.document) -> None:
    for image in doctree.findall(nodes.image):
        uri = image.get("uri", "")
        if PHOTO_CLASS not in image.get("classes", []) or not uri.endswith(".png"):
            continue
        # "/x" is relative to the source folder, "x" to the page's (Sphinx's rule)
        source = Path(app.env.relfn2path(uri, app.env.docname)[1])
        if not source.is_file():
            continue  # Sphinx's image collector reports the missing file
        target = source.with_suffix(".jpg")
        if not target.is_file():  # outputs are named by their content's hash
            to_jpeg(source, target)
        image["uri"] = uri[: -len(".png")] + ".jpg"
        image["candidates"] = {"*": image["uri"]}


def setup(app):
    # before Sphinx's image collector (priority 500) reads the nodes' uris
    app.connect("doctree-read", _on_doctree_read, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
