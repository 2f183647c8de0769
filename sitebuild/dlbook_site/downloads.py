"""Sphinx extension: every executed page can be taken away as a notebook and a script.

- ``downloads/<page>.ipynb``: the notebook the build executed, outputs included (the
  hidden cache-key cell of :mod:`dlbook_site.sphinx_cache` left out).
- ``downloads/<page>.py``: the page's code blocks as the copy button copies them, in
  page order (:func:`dlbook_site.scripts.page_script`); ``nox -s tests`` runs each one in
  a fresh interpreter (:mod:`dlbook_site.reader`).
- Both are linked from the page header (``_templates/components/view-this-page.html``).
- Source listings (``literalinclude`` with ``:pyobject:`` of a ``dlbook`` file) are
  shown with the import lines they need (:func:`dlbook_site.listings.needed_imports`),
  so a listing pasted on its own defines something that runs.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from docutils import nodes
from sphinx.directives.code import LiteralInclude
from sphinx.util import logging

from dlbook.base.closure import PackageIndex
from dlbook_site.listings import module_of, needed_imports
from dlbook_site.scripts import Block, CopyRule, page_script, rebound_imports
from dlbook_site.sphinx_cache import KEY_COMMENT

FOLDER = "downloads"
TEMPLATES = Path(__file__).with_name("templates")
KEY_PREFIX = KEY_COMMENT.split("{key}")[0]
LOGGER = logging.getLogger(__name__)


@functools.cache
def _package_index() -> PackageIndex | None:
    """The package whose files the listings show: ``dlbook``, where it is imported from."""
    return PackageIndex.find("dlbook")


class Listing(LiteralInclude):
    """``literalinclude`` that, for a ``:pyobject:`` of a ``dlbook`` module, shows the
    import lines the object needs above its source."""

    def run(self):
        pyobject = self.options.get("pyobject")
        if pyobject and "prepend" not in self.options:
            _, path = self.env.relfn2path(self.arguments[0])
            index = _package_index()
            module = module_of(index, path) if index else None
            try:
                lines = needed_imports(path, pyobject, module) if module else []
            except (OSError, SyntaxError, ValueError):
                lines = []  # Sphinx's own reader reports a missing file or object
            if lines:
                self.options["prepend"] = "\n".join(lines) + "\n"
            if "." in pyobject:  # a method: shown (and pasted) at the left margin
                self.options.setdefault("dedent", None)
        return super().run()


def _in_output(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.get("nb_element") == "cell_code_output":
            return True
        if "output" in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def page_blocks(doctree: nodes.document) -> list[Block]:
    """The code blocks of a page that carry a copy button, in order."""
    blocks = []
    for node in doctree.findall(nodes.literal_block):
        if _in_output(node) or "output" in node.get("classes", []):
            continue
        listing = str(node.get("source", "")).endswith(".py")
        language = node.get("language", "default")
        if listing or language == "default":
            language = "python"
        blocks.append(Block(language, node.astext(), "listing" if listing else "cell"))
    return blocks


def _rule(config) -> CopyRule:
    return CopyRule(
        config.copybutton_prompt_text,
        config.copybutton_prompt_is_regexp,
        config.copybutton_only_copy_prompt_lines,
    )


def _executed(app, docname: str) -> Path | None:
    config = getattr(app.env, "mystnb_config", None)
    folder = getattr(config, "output_folder", None)
    if not folder:
        return None
    path = Path(folder, *f"{docname}.ipynb".split("/"))
    return path if path.is_file() else None


def _title(doctree, docname: str) -> str:
    section = next(iter(doctree.findall(nodes.title)), None)
    return section.astext() if section is not None else docname


NOTE = (
    "The code of the dlbook page {url}, in the order the page shows it: its\n"
    "cells and its source listings, exactly as the copy buttons copy them. Run it with\n"
    "`python {name}.py` after `pip install 'dlbook[data]'`; a page reading a fetched\n"
    "archive needs `python -m dlbook.data fetch` once. Figures go nowhere outside a\n"
    "notebook: open the notebook ({name}.ipynb) to see them."
)


def _on_doctree_resolved(app, doctree, docname: str) -> None:
    if app.builder.format != "html" or _executed(app, docname) is None:
        return
    blocks = page_blocks(doctree)
    for clash in rebound_imports(blocks, _rule(app.config)):
        LOGGER.warning(
            "pasted in order, the page's code rebinds an imported name: %s",
            clash,
            location=docname,
        )
    name = Path(docname).name
    note = NOTE.format(url=f"{docname}.html", name=name)
    script = page_script(_title(doctree, docname), blocks, _rule(app.config), note)
    target = Path(app.outdir, FOLDER, f"{docname}.py")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(script, encoding="utf-8")
    notebook = json.loads(_executed(app, docname).read_text(encoding="utf-8"))
    notebook["cells"] = [
        cell
        for cell in notebook["cells"]
        if not "".join(cell.get("source", "")).startswith(KEY_PREFIX)
    ]
    with open(target.with_suffix(".ipynb"), "w", encoding="utf-8") as handle:
        json.dump(notebook, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def _on_html_page_context(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or _executed(app, pagename) is None:
        return
    pathto = context["pathto"]
    context["dlbook_downloads"] = [
        (label, pathto(f"{FOLDER}/{pagename}{suffix}", 1), suffix)
        for label, suffix in (
            ("Download notebook", ".ipynb"),
            ("Download script", ".py"),
        )
    ]


def _on_config_inited(app, config) -> None:
    config.templates_path = [str(TEMPLATES), *config.templates_path]


def setup(app):
    app.add_directive("literalinclude", Listing, override=True)
    app.connect("config-inited", _on_config_inited)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("html-page-context", _on_html_page_context)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
