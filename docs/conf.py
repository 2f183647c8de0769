"""Sphinx configuration of the dlbook site: executed MyST pages, strict build."""

import os
from pathlib import Path

from dlbook.base import settings
from dlbook_site import settings as site_settings
from dlbook_site.scripts import COPY_BUTTON

# Set before any kernel starts: kernels inherit the build's environment (the variables
# and why: dlbook.base.settings.ENVIRONMENT).
settings.apply_environment(os.environ)

project = "dlbook"
author = "the dlbook authors"
copyright = "2026, the dlbook authors"

extensions = [
    "myst_nb",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinxcontrib.bibtex",  # references.bib, cited with {cite}, listed on references.md
    "sphinx_sitemap",  # sitemap.xml for search engines (needs html_baseurl)
    "sphinxext.opengraph",  # og: tags and social cards, drawn here with matplotlib
    "sphinx_codeautolink",  # names in code cells link to their API entries
    "sphinx-mathjax-offline",  # serves MathJax from _static: no request to a CDN
    "sphinx_togglebutton",  # solutions hidden behind a toggle (sphinx-exercise's dropdown)
    "sphinx_exercise",  # exercises and solutions; their code cells execute with the page
    # the site machinery, the package dlbook_site (sitebuild/), not part of dlbook:
    "dlbook_site.sphinx_cache",  # execution cache keyed on the dlbook code a page imports
    "dlbook_site.downloads",  # notebook + script per page; listings with their imports
    "dlbook_site.api_reference",  # API reference, each object with the pages using it
    "dlbook_site.gallery",  # the landing page's cards, one per section of the notes
    "dlbook_site.photos",  # figures of photographs served as JPEG
    "dlbook_site.claims",  # "Every claim in this book": every page's checks in one table
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = True
suppress_warnings = []

# --- Numbered figures, tables and equations; {numref} and {eq} write the number -------
numfig = True
numfig_format = {
    "figure": "Figure %s",
    "table": "Table %s",
    "code-block": "Listing %s",
    "section": "Section %s",
}
math_eqref_format = "Equation ({number})"

# --- Bibliography ---------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
# {cite:p} reads [Author, year], {cite:t} Author [year]
bibtex_reference_style = "author_year"

# --- Names in code linked to the API reference (dlbook_site.api_reference) --------
# A page's cells are read as one script: a name imported in one cell links in the next.
codeautolink_concat_default = True
codeautolink_autodoc_inject = False  # the reference lists the pages itself

# --- MyST and execution --------------------------------------------------------
myst_enable_extensions = [
    "dollarmath",
    "amsmath",
    "colon_fence",
    "deflist",
    "attrs_inline",
]
myst_heading_anchors = 3
nb_execution_mode = "cache"
# The site's build folder, DLBOOK_SITE or docs/_build: `nox -s tests` builds into its
# own so that pages it executes two at a time never end up in the published site's cache.
BUILD_DIR = site_settings.build_folder(Path(__file__).parent)
nb_execution_cache_path = str(BUILD_DIR / ".jupyter_cache")
# data every page reads: the recorded robustness rebuilds (dlbook.book.replication)
# decide whether a verdict was reproduced, so a new record executes the pages again
dlbook_cache_data = ["robustness"]
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True  # ...and the log shows its traceback
nb_execution_timeout = 900  # seconds per cell: fits the longest training cell
nb_merge_streams = True
nb_execution_allow_errors = False

# --- HTML ---------------------------------------------------------------------
html_theme = "furo"
html_title = "dlbook"
html_static_path = ["_static"]
html_css_files = ["dlbook.css"]
html_favicon = "_static/favicon.svg"
html_show_sourcelink = True
html_last_updated_fmt = None


def published_url(environ=os.environ) -> str:
    """Where this build will be published, for the sitemap, the canonical links and the
    social cards: DLBOOK_SITE_URL if set, else Read the Docs' canonical URL, else the
    GitHub Pages address of the repository the workflow runs in, else the address
    `nox -s serve` serves a local build on."""
    url = environ.get("DLBOOK_SITE_URL") or environ.get("READTHEDOCS_CANONICAL_URL")
    repository = environ.get("GITHUB_REPOSITORY", "")
    if not url and environ.get("GITHUB_ACTIONS") == "true" and "/" in repository:
        owner, name = repository.split("/", 1)
        url = f"https://{owner.lower()}.github.io/{name}/"
    url = url or "http://127.0.0.1:8000/"
    return url if url.endswith("/") else url + "/"


html_baseurl = published_url()
# The whole book as one PDF, when `nox -s pdf` has printed it into the build folder:
# copied beside the pages and offered on the landing page (dlbook_site.pdf).
PDF = BUILD_DIR / "pdf" / "dlbook.pdf"
if PDF.is_file():
    html_extra_path = [str(PDF.parent)]
sitemap_url_scheme = "{link}"  # one language, one version: no /en/latest/ prefix
sitemap_excludes = ["search.html", "genindex.html"]
# Social cards: sphinxext-opengraph draws one PNG per page with matplotlib and the font
# it ships (Roboto Flex); the logos are local files. Nothing is fetched.
ogp_site_url = html_baseurl
ogp_social_cards = {
    "enable": True,
    "image": "_static/dlbook-logo.png",
    "image_mini": "_static/dlbook-logo.png",
    "line_color": "#0072B2",
}
ogp_enable_meta_description = True

# Copy code without prompts or outputs; no copy button on cell outputs. The copybutton_*
# settings are defined once, in dlbook_site.scripts: the page scripts (downloads/*.py)
# and the tests apply the same rule.
globals().update(COPY_BUTTON)


def _codeautolink_allows_untitled_sections() -> None:
    """sphinx-exercise writes an exercise's body as a section without a title, and
    sphinx-codeautolink (0.17 to 0.20 at least) pops one title per section it leaves,
    which fails on the first exercise (IndexError: pop from empty list): leave the
    stack alone when it is empty. Its links do not depend on that stack."""
    from sphinx_codeautolink.extension.block import CodeBlockAnalyser

    pop_title = CodeBlockAnalyser.depart_section
    if getattr(pop_title, "dlbook_guarded", False):
        return

    def depart_section(self, node) -> None:
        if self.title_stack:
            pop_title(self, node)

    depart_section.dlbook_guarded = True
    CodeBlockAnalyser.depart_section = depart_section


def _accessible_html(app, pagename, templatename, context, doctree) -> None:
    """What axe-core (the browser check) finds in the HTML the theme and docutils write,
    mended: the sidebar's captions are headings without a level (`aria-level`); a code
    block that scrolls sideways cannot be scrolled from the keyboard unless it can take
    the focus (`tabindex`); the bibliography's entries carry list roles that their
    back-links break (plain blocks instead)."""
    tree = context.get("furo_navigation_tree")
    if tree:
        context["furo_navigation_tree"] = tree.replace(
            'role="heading">', 'role="heading" aria-level="2">'
        )
    body = context.get("body")
    if body:
        body = body.replace("<pre>", '<pre tabindex="0">')
        body = body.replace(
            '<div role="list" class="citation-list">', '<div class="citation-list">'
        )
        context["body"] = body.replace(' role="doc-biblioentry"', "")


def _sitemap_lists_every_page(app, exception) -> None:
    """sphinx-sitemap lists the pages written in this build only, so a rebuild that
    wrote two pages left the others out of sitemap.xml: hand it every page of the
    site before it writes the file (it runs at build-finished, priority 500)."""
    links = getattr(app, "sitemap_links", None)
    if exception is not None or links is None or app.builder.name != "html":
        return
    import queue

    from sphinx_sitemap import is_excluded

    written = {}
    while True:
        try:
            link, updated = links.get_nowait()
        except queue.Empty:
            break
        written[link] = updated
    suffix = app.config.html_file_suffix or ".html"
    for page in sorted(app.env.found_docs):
        link = page + suffix
        if link not in written and not is_excluded(link, app.config.sitemap_excludes):
            written[link] = None
    for link, updated in sorted(written.items()):
        links.put((link, updated))


def setup(app):
    _codeautolink_allows_untitled_sections()
    app.connect("build-finished", _sitemap_lists_every_page, priority=400)
    app.connect("html-page-context", _accessible_html, priority=900)
    from dlbook_site import pdf

    pdf.offer_on_landing_page(app, PDF)
    # `nox -s pdf` reads the pages from the execution cache and must never execute one
    # (`-D dlbook_cached_only=1`): a page the cache lacks stops it; build the site first
    app.add_config_value("dlbook_cached_only", False, "env", bool)
    app.connect("config-inited", pdf.refuse_execution_when_asked)
    # Allow `sphinx -j N` (every nox build runs two pages at a time): sphinx-mathjax-
    # offline only copies MathJax into _static when the build ends, which is safe in
    # parallel, but it does not say so and Sphinx would fall back to reading (executing)
    # one page at a time.
    mathjax = app.extensions.get("sphinx-mathjax-offline")
    if mathjax is not None and mathjax.parallel_read_safe is None:
        mathjax.parallel_read_safe = True
        mathjax.parallel_write_safe = True
