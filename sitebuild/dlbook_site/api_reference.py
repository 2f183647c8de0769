"""Sphinx extension: the API reference of ``dlbook``, with the pages that use each object.

The reference page says ``.. dlbook-api::`` (inside an ``{eval-rst}`` block) and gets
one autodoc section per module of the package, listed from the package's files when
the site builds, so a new module appears with no edit. Which pages use what is
computed from the pages' own code, with the code that decides when a page executes
again (:func:`dlbook_site.sphinx_cache.code_cells`, :mod:`dlbook.base.closure`):

- a module lists the pages whose import closure includes it: those pages execute
  again when the module changes;
- an object lists the pages whose code cells name it (``training.fit(...)``,
  ``from dlbook.book.page import glue``) or show its source with ``literalinclude``
  and ``:pyobject:``.

Names are resolved statically, through each module's own imports (``training.fit`` is
``dlbook.training.core.fit``), so computing the maps imports nothing. In the other
direction, ``literalinclude`` with ``:pyobject:`` of a file of the package is followed
by a link to the reference entry of the object it shows.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from dlbook.base.closure import PackageIndex, from_module, imported_names
from dlbook_site.downloads import Listing
from dlbook_site.listings import module_of
from dlbook_site.sphinx_cache import code_cells

# ``{literalinclude} path`` then its ``:option: value`` lines, in a MyST page
LITERALINCLUDE = re.compile(
    r"^(?:`{3,}|:{3,})\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n"
    r"(?P<options>(?:[ \t]*:[\w-]+:[^\n]*\n)*)",
    re.MULTILINE,
)
PYOBJECT = re.compile(r"^[ \t]*:pyobject:[ \t]*(?P<name>\S+)", re.MULTILINE)


# --- the package's modules and what they define -----------------------------------


def modules(index: PackageIndex) -> list[str]:
    """Every public module of the package, by dotted name, packages before their
    modules (``dlbook``, ``dlbook.architectures``, ..., ``dlbook.base``,
    ``dlbook.base.ledger``...)."""
    names = []
    for path in sorted(index.root.rglob("*.py")):
        parts = path.relative_to(index.root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        if not (index.root.joinpath(*parts[:-1], "__init__.py")).is_file():
            continue  # not importable: a folder without __init__.py
        names.append(".".join([index.package, *parts]))
    top = [n for n in names if n.count(".") <= 1 and not _is_package(index, n)]
    packages = [n for n in names if n not in top]
    return sorted(top) + sorted(packages)


def _is_package(index: PackageIndex, name: str) -> bool:
    path = index.module_file(name)
    return path is not None and path.name == "__init__.py"


@dataclass
class ModuleNames:
    """What the top level of one module binds: the functions and classes it defines
    (with each class's methods) and the names it imports."""

    defined: dict[str, set[str]] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)


def module_names(source: str, module: str, is_package: bool) -> ModuleNames:
    """The top-level definitions and imports of one module's ``source``."""
    found = ModuleNames()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.defined[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            found.defined[node.name] = {
                n.name
                for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.imported.update(_bindings(node, module, is_package))
    return found


def _bindings(node, module: str = "", is_package: bool = False) -> dict[str, str]:
    """Local name -> dotted name that an import statement binds."""
    if isinstance(node, ast.Import):
        return {
            (a.asname or a.name.split(".")[0]): (
                a.name if a.asname else a.name.split(".")[0]
            )
            for a in node.names
        }
    base = from_module(node, module, is_package)
    return {
        (a.asname or a.name): f"{base}.{a.name}" for a in node.names if a.name != "*"
    }


class Resolver:
    """Finds where a dotted name used on a page is defined in the package:
    ``dlbook.training.fit`` -> ``dlbook.training.core.fit``."""

    def __init__(self, index: PackageIndex):
        self.index = index
        self._names: dict[str, ModuleNames] = {}

    def names(self, module: str) -> ModuleNames:
        if module not in self._names:
            path = self.index.module_file(module)
            self._names[module] = module_names(
                path.read_text(encoding="utf-8"), module, path.name == "__init__.py"
            )
        return self._names[module]

    def resolve(self, dotted: str, depth: int = 0) -> str | None:
        """The defining module's name for ``dotted`` (a module, function, class or
        method of the package), or ``None`` when it is not one."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest prefix that is a module
            module = ".".join(parts[:cut])
            if self.index.module_file(module):
                break
        else:
            return None
        rest = parts[cut:]
        if not rest:
            return module
        names = self.names(module)
        if rest[0] in names.defined:
            if len(rest) > 1 and rest[1] in names.defined[rest[0]]:
                return ".".join([module, *rest[:2]])
            return f"{module}.{rest[0]}"
        target = names.imported.get(rest[0])
        if target is None or depth > 8:
            return None
        return self.resolve(".".join([target, *rest[1:]]), depth + 1)


# --- what a page uses ---------------------------------------------------------------


def _parse(code: str):
    code = "\n".join(
        "" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines()
    )
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def names_used(cells: list[str], package: str) -> set[str]:
    """Dotted names of the package that ``cells`` import or name: ``from dlbook import
    training`` then ``training.fit(...)`` gives ``dlbook.training`` and
    ``dlbook.training.fit``."""
    trees = [t for t in map(_parse, cells) if t is not None]
    bound: dict[str, str] = {}
    used: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for local, dotted in _bindings(node).items():
                    if dotted == package or dotted.startswith(package + "."):
                        bound[local] = dotted
                        used.add(dotted)
                if isinstance(node, ast.Import):  # import dlbook.x.y names dlbook.x.y
                    used.update(a.name for a in node.names)
    for tree in trees:
        for node in ast.walk(tree):
            dotted = (
                _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            )
            if dotted is None:
                continue
            head, _, tail = dotted.partition(".")
            if head in bound:
                used.add(f"{bound[head]}.{tail}" if tail else bound[head])
    return {n for n in used if n == package or n.startswith(package + ".")}


def shown_objects(source: str, page: Path, index: PackageIndex) -> set[str]:
    """Objects of the package whose source ``page`` shows with ``literalinclude`` and
    ``:pyobject:``, by dotted name."""
    shown = set()
    for match in LITERALINCLUDE.finditer(source):
        pyobject = PYOBJECT.search(match.group("options"))
        module = module_of(index, page.parent / match.group("path"))
        if pyobject and module:
            shown.add(f"{module}.{pyobject.group('name')}")
    return shown


@dataclass
class PageUse:
    """What one page's code runs (``modules``, its import closure), names (``names``)
    and shows (``shown``)."""

    modules: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    shown: set[str] = field(default_factory=set)


def page_use(
    source: str, page: Path, index: PackageIndex, resolver: Resolver
) -> PageUse:
    """The use of the package by one page (MyST ``.md`` or ``.ipynb``)."""
    cells = code_cells(source, page.suffix)
    imported = set().union(*(imported_names(c) for c in cells)) if cells else set()
    used = PageUse(modules=set(index.closure(imported)))
    for name in names_used(cells, index.package):
        resolved = resolver.resolve(name)
        if resolved is not None:
            used.names.add(resolved)
    used.shown = shown_objects(source, page, index) if page.suffix == ".md" else set()
    return used


@dataclass
class Uses:
    """Page -> use, and the maps the reference prints: module -> pages whose closure
    holds it, object -> pages that name or show it."""

    pages: dict[str, PageUse]

    def pages_running(self, module: str) -> list[str]:
        return sorted(d for d, u in self.pages.items() if module in u.modules)

    def pages_using(self, obj: str) -> list[tuple[str, bool]]:
        """``(page, shown)`` for each page that names ``obj`` or shows its source."""
        return [
            (d, obj in u.shown)
            for d, u in sorted(self.pages.items())
            if obj in u.names or obj in u.shown
        ]

    def digest(self) -> str:
        data = {
            d: [sorted(u.modules), sorted(u.names), sorted(u.shown)]
            for d, u in sorted(self.pages.items())
        }
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def compute_uses(pages: dict[str, Path], index: PackageIndex) -> Uses:
    """The use of the package by each page, ``pages`` mapping docnames to files."""
    resolver = Resolver(index)
    return Uses(
        {
            docname: page_use(path.read_text(encoding="utf-8"), path, index, resolver)
            for docname, path in sorted(pages.items())
            if path.suffix in (".md", ".ipynb")
        }
    )


# --- Sphinx -------------------------------------------------------------------------


def _doc_links(pages) -> str:
    return ", ".join(
        f":doc:`/{d}`" + (" (source shown)" if shown else "") for d, shown in pages
    )


def _on_process_docstring(app, what, name, obj, options, lines) -> None:
    uses: Uses | None = getattr(app, "dlbook_api_uses", None)
    if uses is None:
        return
    if what == "module":
        pages = uses.pages_running(name)
        text = (
            f"**Pages that run it** (they execute again when it changes): "
            f"{_doc_links((d, False) for d in pages)}."
            if pages
            else "**Pages that run it**: none."
        )
    else:
        pages = uses.pages_using(name)
        if not pages:
            return
        text = f"**Pages that use it**: {_doc_links(pages)}."
    lines.extend(["", text, ""])


class ApiModules(SphinxDirective):
    """``.. dlbook-api::``: one section per module of the package, each an
    ``automodule``; the list comes from the package's files at build time."""

    has_content = False

    def run(self):
        index: PackageIndex | None = getattr(self.env.app, "dlbook_api_index", None)
        if index is None:
            raise self.error(f"package {self.config.dlbook_api_package!r} not found")
        rst = []
        for module in modules(index):
            self.env.note_dependency(str(index.module_file(module)))
            title = f"``{module}``"
            rst += [title, "-" * len(title), "", f".. automodule:: {module}", ""]
        content = StringList(rst, source="dlbook-api")
        holder = nodes.section()
        holder.document = self.state.document
        nested_parse_with_titles(self.state, content, holder)
        return holder.children


class ApiLiteralInclude(Listing):
    """Sphinx's ``literalinclude``, followed by a link to the API entry of the object
    shown when ``:pyobject:`` names a public object of a file of the package."""

    option_spec = dict(
        LiteralInclude.option_spec, pyobject=directives.unchanged_required
    )

    def run(self):
        result = super().run()
        index: PackageIndex | None = getattr(self.env.app, "dlbook_api_index", None)
        name = self.options.get("pyobject")
        if index is None or not name or any(p.startswith("_") for p in name.split(".")):
            return result
        _, path = self.env.relfn2path(self.arguments[0])
        module = module_of(index, Path(path))
        if module is None or any(p.startswith("_") for p in module.split(".")):
            return result
        target = f"{module}.{name}"
        link = addnodes.pending_xref(
            "",
            nodes.literal(target, target, classes=["xref", "py", "py-obj"]),
            refdomain="py",
            reftype="obj",
            reftarget=target,
            refexplicit=False,
            refwarn=True,
            refdoc=self.env.docname,
        )
        para = nodes.paragraph(
            "", "", nodes.Text("API: "), link, classes=["dlbook-api-link"]
        )
        return [*result, para]


def _on_missing_reference(app, env, node, contnode):
    """Resolve a reference to a name of the package where the reference documents it:
    ``:func:`dlbook.training.fit``` links to ``dlbook.training.core.fit``, and a
    module constant without an entry (``dlbook.data.archives.MINILM``) to its module."""
    index = getattr(app, "dlbook_api_index", None)
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or index is None:
        return None
    module = node.get("py:module") or ""
    package = index.package
    if not (target == package or target.startswith(package + ".")) and module:
        target = f"{module}.{target}"  # a name relative to the current module
    resolver = getattr(app, "dlbook_api_resolver", None) or Resolver(index)
    app.dlbook_api_resolver = resolver
    domain = env.get_domain("py")
    candidates = [resolver.resolve(target)]
    if node.get("reftype") != "mod":  # an attribute without an entry: its module's
        candidates.append(resolver.resolve(target.rpartition(".")[0]))
    for candidate in candidates:
        if candidate in domain.modules:
            kind = "mod"
        elif candidate in domain.objects:
            kind = "obj"
        else:
            continue
        return domain.resolve_xref(
            env, node["refdoc"], app.builder, kind, candidate, node, contnode
        )
    return None


def _found_pages(app) -> dict[str, Path]:
    env = app.env
    return {d: Path(env.doc2path(d)) for d in env.found_docs}


def _on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    """Compute the maps (every page's source is on disk; nothing has been read yet)
    and re-read the pages holding the reference when they changed."""
    index = app.dlbook_api_index
    if index is None:
        return []
    app.dlbook_api_uses = uses = compute_uses(_found_pages(app), index)
    digest = uses.digest() + "|" + ",".join(modules(index))
    if getattr(env, "dlbook_api_digest", None) == digest:
        return []
    env.dlbook_api_digest = digest
    return sorted(
        d
        for d in env.found_docs - added - changed
        if "dlbook-api::" in Path(env.doc2path(d)).read_text(encoding="utf-8")
    )


def _on_builder_inited(app) -> None:
    app.dlbook_api_index = PackageIndex.find(app.config.dlbook_api_package)


def _on_config_inited(app, config) -> None:
    """The reference's autodoc settings, kept here rather than in ``conf.py``."""
    config.autodoc_default_options = {
        "members": True,
        "undoc-members": True,
        "ignore-module-all": True,  # a name is documented where it is defined, once
        "show-inheritance": True,
        "member-order": "bysource",
        **config.autodoc_default_options,
    }
    config.autodoc_typehints = "signature"
    config.autodoc_typehints_format = "short"
    config.autodoc_preserve_defaults = True  # defaults as written, not reprs
    # No intersphinx (the build is offline): references to anything that is not
    # dlbook's (int, numpy.ndarray, keras.Model...) stay plain text, not warnings.
    config.nitpick_ignore_regex = [
        *config.nitpick_ignore_regex,
        ("py:.*", rf"(?!{re.escape(config.dlbook_api_package)}\.).*"),
        ("py:.*", r".*\._.*"),  # private names (a base class, an annotation)
    ]


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_config_value("dlbook_api_package", "dlbook", "env")
    app.connect("config-inited", _on_config_inited)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("autodoc-process-docstring", _on_process_docstring)
    app.connect("missing-reference", _on_missing_reference)
    app.add_directive("dlbook-api", ApiModules)
    app.add_directive("literalinclude", ApiLiteralInclude, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
