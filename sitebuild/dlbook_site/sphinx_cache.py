"""Sphinx extension: the myst-nb execution cache never goes stale.

myst-nb re-executes a page only when its own cells change. This extension gives each
page a cache key made of (1) the code (docstrings, comments and formatting left out) of
every module of ``dlbook_cache_package`` that the page imports, followed through that
package's own imports, and (2) the name and version of the installed distributions that
code, the page's cells and the kernel run on (with what they require). The key is
appended to the page as a hidden code cell, so a new key means a new notebook hash and
a fresh execution; and Sphinx is told to re-read exactly the pages whose key changed.
An unchanged rebuild reads and executes nothing, and parses no code: a page's key is
kept with a digest of its inputs (the page, the package's files, the environment's
folders) and computed again only when that digest changes.

Files the pages read as data (``dlbook_cache_data``: paths under the docs folder; the
book's recorded robustness rebuilds, which decide whether a verdict was reproduced) are
part of every page's key too.

Set ``DLBOOK_RERUN=page1,page2`` to force those pages to execute again.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import sys
import time
from pathlib import Path

from dlbook.base.closure import (
    PackageIndex,
    distributions_of,
    environment_fingerprint,
    file_code,
    imported_names,
    third_party_imports,
)

CODE_CELL = re.compile(
    r"^(?P<fence>`{3,}|~{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# The hidden cell's text is part of every page's notebook, hence of its execution-cache
# hash: changing one character of it executes every page again (changed together with
# every key, when the keys began to follow code rather than bytes).
KEY_COMMENT = (
    "# dlbook cache key {key}: this page executes again when the code it imports\n"
    "# or a package it runs on changes version (see dlbook_site.sphinx_cache)."
)

# what executes every page whatever it imports: the kernel and the executor
KERNEL = {"ipykernel", "nbclient"}


def code_cells(source: str, suffix: str = ".md") -> list[str]:
    """The code of each code cell of a MyST markdown or ``.ipynb`` page."""
    if suffix == ".ipynb":
        cells = json.loads(source).get("cells", [])
        return [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c.get("cell_type") == "code"
        ]
    bodies = []
    for match in CODE_CELL.finditer(source):
        lines = match.group("body").splitlines()
        if lines and lines[0].strip() == "---":  # YAML options block
            end = next(
                (i for i, ln in enumerate(lines[1:], 1) if ln.strip() == "---"), 0
            )
            lines = lines[end + 1 :]
        while lines and lines[0].startswith(":"):  # short options, e.g. :tags:
            lines = lines[1:]
        bodies.append("\n".join(lines))
    return bodies


def page_key(source: str, suffix: str, index: PackageIndex | None) -> str | None:
    """The cache key of one page, or ``None`` for a page without code cells."""
    cells = code_cells(source, suffix)
    if not cells:
        return None
    names = set().union(*(imported_names(c) for c in cells))
    distributions = distributions_of(third_party_imports(index, names)) | KERNEL
    digest = hashlib.sha256(environment_fingerprint(distributions).encode())
    if index is not None:
        for name, path in sorted(index.closure(names).items()):
            digest.update(name.encode() + b"\0" + file_code(path).encode() + b"\0")
    return digest.hexdigest()[:16]


def _rerun_requested(docname: str) -> bool:
    wanted = {
        n.strip() for n in os.environ.get("DLBOOK_RERUN", "").split(",") if n.strip()
    }
    return docname in wanted


def inputs_digest(index: PackageIndex | None) -> str:
    """A digest of everything a page key can depend on besides the page: the bytes of
    every module of the package and the modification times of the folders Python
    imports from (installing, upgrading or removing a distribution changes its
    folder's). Reading and hashing the files takes milliseconds where parsing them for
    the keys takes seconds: equal digests let an unchanged rebuild reuse its keys."""
    digest = hashlib.sha256()
    if index is not None:
        for path in sorted(index.root.rglob("*.py")):
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    for folder in sys.path:
        if folder and os.path.isdir(folder):
            digest.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\0".encode())
    return digest.hexdigest()


def data_digest(srcdir: Path, names) -> str:
    """A digest of the bytes (and names) of every file under the ``names`` paths of
    ``srcdir``: empty when there are none, so a book without such data keeps its
    keys."""
    files = []
    for name in names:
        path = Path(srcdir, name)
        files += (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file())
        )
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(srcdir).as_posix()
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _current_key(app, docname: str) -> str | None:
    path = Path(app.env.doc2path(docname))
    source = path.read_text(encoding="utf-8")
    # the page's text and the package's and environment's state: the key's inputs
    stamp = hashlib.sha256(
        (app.dlbook_inputs + "\0" + path.suffix + "\0" + source).encode()
    ).hexdigest()
    remembered = app.env.dlbook_cache_stamps.get(docname)
    if remembered is not None and remembered[0] == stamp:
        key = remembered[1]
    else:
        key = page_key(source, path.suffix, app.dlbook_package_index)
        if key is not None and app.dlbook_data:
            key = hashlib.sha256(f"{key}\0{app.dlbook_data}".encode()).hexdigest()[:16]
        app.env.dlbook_cache_stamps[docname] = (stamp, key)
    if key is not None and _rerun_requested(docname):
        key = f"{key}-rerun-{time.time_ns()}"
    return key


def _on_builder_inited(app) -> None:
    app.dlbook_package_index = PackageIndex.find(app.config.dlbook_cache_package)
    app.dlbook_data = data_digest(app.srcdir, app.config.dlbook_cache_data)
    app.dlbook_inputs = inputs_digest(app.dlbook_package_index) + app.dlbook_data
    if not hasattr(app.env, "dlbook_cache_keys"):
        app.env.dlbook_cache_keys = {}
    if not hasattr(app.env, "dlbook_cache_stamps"):
        app.env.dlbook_cache_stamps = {}


PASTED_FROM = re.compile(r"\{glue(?::\w*)?\}`([^`:]+)\.(?:md|ipynb)::")


def pasted_from(source: str, docname: str) -> set[str]:
    """Pages whose glued values ``source`` pastes (``{glue:text}`other.md::key```), as
    docnames relative to the docs folder."""
    folder = posixpath.dirname(docname)
    return {
        posixpath.normpath(posixpath.join(folder, m))
        for m in PASTED_FROM.findall(source)
    }


def _on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    stale = set()
    for docname in sorted(env.found_docs - added - changed):
        if docname not in env.all_docs:
            continue
        known = env.dlbook_cache_keys.get(docname)
        if _rerun_requested(docname) or known != _current_key(app, docname):
            stale.add(docname)
    # a page that pastes another page's values is rendered again when that page is
    # (its own cells stay cached), so the pasted values are never stale
    renewed = stale | added | changed
    for docname in sorted(env.found_docs - renewed):
        source = Path(env.doc2path(docname)).read_text(encoding="utf-8")
        if pasted_from(source, docname) & renewed:
            stale.add(docname)
    env.dlbook_stale_pages = stale  # read by dlbook_site.claims, whose ledger follows
    return sorted(stale)


def _on_source_read(app, docname: str, source: list[str]) -> None:
    suffix = Path(app.env.doc2path(docname)).suffix
    if suffix not in (".md", ".ipynb"):
        return
    key = _current_key(app, docname)
    app.env.dlbook_cache_keys[docname] = key
    if key is None:
        return
    if suffix == ".md":
        comment = KEY_COMMENT.format(key=key)
        cell = "```{code-cell} ipython3\n:tags: [remove-cell]\n" + comment + "\n```\n"
        source[0] = source[0].rstrip("\n") + "\n\n" + cell
    else:
        notebook = json.loads(source[0])
        notebook["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "outputs": [],
                "metadata": {"tags": ["remove-cell"]},
                "source": KEY_COMMENT.format(key=key),
            }
        )
        source[0] = json.dumps(notebook)


def _on_doctree_read(app, doctree) -> None:
    """Put the cached outputs into ``jupyter_execute/<page>.ipynb``.

    myst-nb writes that notebook without outputs when the page comes from the execution
    cache (it renders the cached copy but saves the unexecuted one), which would leave
    nbval nothing to compare. Fill it from the cache as an executing build would,
    glued values moved out as myst-nb does.
    """
    config = getattr(app.env, "mystnb_config", None)
    if config is None or not getattr(config, "output_folder", None):
        return
    path = Path(config.output_folder, *f"{app.env.docname}.ipynb".split("/"))
    if not path.is_file():
        return
    import nbformat
    from jupyter_cache import get_cache
    from myst_nb.ext.glue import extract_glue_data_cell

    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or any(cell.get("outputs") for cell in code):
        return
    try:
        _, merged = get_cache(config.execution_cache_path).merge_match_into_notebook(
            notebook
        )
    except KeyError:  # not in the cache: nothing to add
        return
    for cell in merged.cells:
        if cell.cell_type == "code":
            extract_glue_data_cell(cell)
    path.write_text(nbformat.writes(merged), encoding="utf-8")


def _on_env_purge_doc(app, env, docname: str) -> None:
    getattr(env, "dlbook_cache_keys", {}).pop(docname, None)
    getattr(env, "dlbook_cache_stamps", {}).pop(docname, None)


def _on_env_merge_info(app, env, docnames, other) -> None:
    env.dlbook_cache_keys.update(getattr(other, "dlbook_cache_keys", {}))
    env.dlbook_cache_stamps.update(getattr(other, "dlbook_cache_stamps", {}))


def _truncate_only_over_the_limit() -> None:
    """Make jupyter-cache's pruning safe for two pages executing at once.

    After caching a notebook, jupyter-cache prunes the oldest records beyond its limit
    (1,000): it lists the records to keep, then deletes every record not in that list.
    A record the other worker created in between, whose notebook file is not written
    yet, is then deleted, and the deletion fails with "Notebook file does not exist for
    cache record" (seen once in CI: the build stopped). The book holds some 20 pages,
    so pruning is only ever needed over the limit: check that first.
    """
    from jupyter_cache.cache.main import JupyterCacheBase

    prune = JupyterCacheBase.truncate_caches
    if getattr(prune, "dlbook_safe", False):
        return

    def truncate_caches(self):
        if len(self.list_cache_records()) > self.get_cache_limit():
            prune(self)

    truncate_caches.dlbook_safe = True
    JupyterCacheBase.truncate_caches = truncate_caches


def setup(app):
    _truncate_only_over_the_limit()
    app.add_config_value("dlbook_cache_package", "dlbook", "env")
    app.add_config_value("dlbook_cache_data", [], "env")
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    app.connect("env-purge-doc", _on_env_purge_doc)
    app.connect("env-merge-info", _on_env_merge_info)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
