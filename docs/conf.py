"""Sphinx configuration of the dlbook site: executed MyST pages, strict build."""

import os
from pathlib import Path

from dlbook.base import settings

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
    "sphinx-mathjax-offline",  # serves MathJax from _static: no request to a CDN
    "dlbook.book.sphinx_cache",  # execution cache keyed on the dlbook code a page imports
    "dlbook.book.downloads",  # notebook + script per page; listings with their imports
    "dlbook.book.api_reference",  # API reference, each object with the pages using it
    "dlbook.book.gallery",  # the landing page's cards, one per section of the notes
    "dlbook.book.photos",  # figures of photographs served as JPEG
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = True
suppress_warnings = []

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
# The site's build folder; `nox -s tests` builds into its own (DLBOOK_BUILD_DIR) so that
# pages it executes two at a time never end up in the published site's cache.
BUILD_DIR = Path(os.environ.get("DLBOOK_BUILD_DIR") or Path(__file__).parent / "_build")
nb_execution_cache_path = str(BUILD_DIR / ".jupyter_cache")
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

# Copy code without prompts or outputs; no copy button on cell outputs.
copybutton_selector = ":not(.output) > div.highlight pre"
copybutton_prompt_text = r">>> |\.\.\. |\$ |In \[\d*\]: | {2,5}\.\.\.: "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_exclude = ".linenos, .gp, .go"


def setup(app):
    """Allow `sphinx -j N` (used by `nox -s tests`): sphinx-mathjax-offline only copies
    MathJax into _static when the build ends, which is safe in parallel, but it does not
    say so and Sphinx would fall back to reading (executing) one page at a time."""
    mathjax = app.extensions.get("sphinx-mathjax-offline")
    if mathjax is not None and mathjax.parallel_read_safe is None:
        mathjax.parallel_read_safe = True
        mathjax.parallel_write_safe = True
