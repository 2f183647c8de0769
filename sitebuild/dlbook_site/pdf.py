"""The whole book as one PDF: the ``singlehtml`` build printed by headless Chromium.

``nox -s pdf`` builds the site's pages into one HTML page from the execution cache (no
page executes again) and runs this module in the browser check's environment, which
has Playwright: it serves the page on localhost, waits for every image and formula,
and prints it with a PDF outline made of the headings (one section per page of the
site). Animated GIFs print as their first frame. Standard library and Playwright only,
so the module also runs by path, without the book installed.

    python sitebuild/dlbook_site/pdf.py BUILD/singlehtml BUILD/pdf/dlbook.pdf
"""

from __future__ import annotations

import functools
import runpy
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# every image loaded and decoded (lazy ones too), then MathJax finished typesetting
READY = """async () => {
  for (const img of Array.from(document.images)) {
    img.loading = "eager";
    try { await img.decode(); } catch (e) { /* reported by the PDF test */ }
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  return document.images.length;
}"""
# Chromium's outline joins a heading's wrapped lines without a space: a heading that
# would wrap on the printed page gets a smaller font until it fits on one line
ONE_LINE = """() => {
  let shrunk = 0;
  for (const heading of Array.from(document.querySelectorAll("h1, h2, h3"))) {
    if (heading.scrollWidth === 0) continue;
    heading.style.whiteSpace = "nowrap";
    let size = parseFloat(getComputedStyle(heading).fontSize);
    while (heading.scrollWidth > heading.clientWidth && size > 11) {
      size -= 1;
      heading.style.fontSize = size + "px";
      shrunk += 1;
    }
    if (heading.scrollWidth > heading.clientWidth) heading.style.whiteSpace = "normal";
  }
  return shrunk;
}"""
# singlehtml nests every page under the landing page's last section (h3 titles): each
# page's headings move up so that its title is an h1, a top-level entry of the PDF's
# outline; a title's line breaks become spaces (the outline would glue the words)
OUTLINE = """() => {
  const pages = Array.from(document.querySelectorAll('[id^="document-"]'));
  let moved = 0;
  for (const marker of pages) {
    const section = marker.tagName === "SECTION" ? marker : marker.nextElementSibling;
    if (!section || section.tagName !== "SECTION") continue;
    const title = section.querySelector("h1, h2, h3, h4, h5, h6");
    if (!title) continue;
    const shift = Number(title.tagName[1]) - 1;
    for (const heading of Array.from(section.querySelectorAll("h1, h2, h3, h4, h5, h6"))) {
      const level = Math.max(1, Number(heading.tagName[1]) - shift);
      const replacement = document.createElement("h" + Math.min(level, 6));
      for (const attribute of Array.from(heading.attributes)) {
        replacement.setAttribute(attribute.name, attribute.value);
      }
      replacement.innerHTML = heading.innerHTML;
      heading.replaceWith(replacement);
    }
    moved += 1;
  }
  for (const heading of Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"))) {
    const walker = document.createTreeWalker(heading, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      node.textContent = node.textContent.replace(/\\s+/g, " ");
    }
  }
  return moved;
}"""
# printed, nothing of the screen layout is needed: the sidebars, the theme toggle, the
# copy buttons; code and tables wrap instead of scrolling out of the page
PRINT_CSS = """
.sidebar-drawer, .toc-drawer, .mobile-header, .theme-toggle-container,
.back-to-top, .skip-to-content, .copybtn, .related-pages, .bottom-of-page, .headerlink,
.dlbook-view-page { display: none !important; }
.main, .content { width: 100% !important; max-width: none !important; }
pre { white-space: pre-wrap !important; word-break: break-word; }
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


def _chromium() -> str:
    settings = runpy.run_path(str(Path(__file__).with_name("settings.py")))
    executable = settings["find_chromium"]()
    if executable is None:
        raise SystemExit(settings["chromium_problem"]())
    return executable


def print_book(folder: Path, output: Path) -> int:
    """Print ``folder/index.html`` (a singlehtml build) to ``output``; return the
    number of images the page holds."""
    from playwright.sync_api import sync_playwright

    folder, output = Path(folder), Path(output)
    if not (folder / "index.html").is_file():
        raise SystemExit(f"no singlehtml build in {folder}: run `./noxw -s pdf`")
    output.parent.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=_chromium(), headless=True)
            context = browser.new_context(color_scheme="light")
            context.add_init_script("localStorage.setItem('theme', 'light')")
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_load_state("networkidle")
            page.add_style_tag(content=PRINT_CSS)
            images = page.evaluate(READY)
            page.evaluate(OUTLINE)
            page.emulate_media(media="print")
            # the printed line: A4's 210 mm less the margins, at 96 px per inch
            page.set_viewport_size({"width": 703, "height": 1000})
            page.evaluate(ONE_LINE)
            page.pdf(
                path=str(output),
                format="A4",
                margin={
                    "top": "15mm",
                    "bottom": "15mm",
                    "left": "12mm",
                    "right": "12mm",
                },
                print_background=True,
                outline=True,  # the headings become the PDF's bookmarks
                tagged=True,
            )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return images


# --- in the Sphinx build (docs/conf.py) -----------------------------------------------


class ExecutionRefused(RuntimeError):
    """A page would execute during a build that must only read the execution cache."""


def refuse_execution_when_asked(app, config) -> None:
    """Sphinx ``config-inited`` handler: :func:`refuse_execution` when the build was
    started with ``-D dlbook_cached_only=1`` (``nox -s pdf`` does)."""
    if config.dlbook_cached_only:
        refuse_execution()


def refuse_execution() -> None:
    """Make myst-nb's cache mode fail instead of executing a page it finds no cached
    outputs for."""
    from myst_nb.core.execute import cache

    def refuse(notebook, *args, **kwargs):
        client = sys._getframe(1).f_locals.get("self")  # myst-nb's cache client
        page = getattr(client, "path", None) or "a page"
        raise ExecutionRefused(
            f"{page} is missing from the execution cache, and this build never "
            "executes a page: build the site first (`./noxw -s docs`, or `tests` with "
            "DLBOOK_SITE=docs/_build/tests)"
        )

    cache.single_nb_execution = refuse


def offer_on_landing_page(app, pdf: Path) -> None:
    """When ``pdf`` exists, the HTML landing page links to it (conf.py copies it beside
    the pages); the landing page is rebuilt whenever the file changes."""

    def stamp() -> float | None:
        return pdf.stat().st_mtime if pdf.is_file() else None

    def outdated(app, env, added, changed, removed):
        if getattr(env, "dlbook_pdf_stamp", None) == stamp():
            return []
        env.dlbook_pdf_stamp = stamp()
        return ["index"] if "index" in env.found_docs - added - changed else []

    def link(app, pagename, templatename, context, doctree):
        if pagename != app.config.root_doc or app.builder.name != "html":
            return
        if not pdf.is_file():
            return
        size = pdf.stat().st_size / 1e6
        offer = (
            f'<p class="dlbook-pdf"><a href="{pdf.name}" download>Download the whole '
            f"book as one PDF</a> ({size:.0f} MB): every page as built here, figures "
            "included, animations as their first frame.</p>\n"
        )
        body = context.get("body", "")
        marker = '<section id="map-of-the-notes">'
        context["body"] = (
            body.replace(marker, offer + marker, 1) if marker in body else body + offer
        )

    app.connect("env-get-outdated", outdated)
    app.connect("html-page-context", link)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    count = print_book(Path(sys.argv[1]), Path(sys.argv[2]))
    size = Path(sys.argv[2]).stat().st_size / 1e6
    print(f"{sys.argv[2]}: {size:.1f} MB, {count} images")
