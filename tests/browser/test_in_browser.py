"""Every page of the built site, checked in headless Chromium (``nox -s browser``).

For each page: it loads with no console error, no failed request (an error status or
a request that never completed) and no request to another host than localhost; every
image decodes; the copy button copies the first code block as the site's rule says it
should (``dlbook_site.scripts``: the ``COPY_BUTTON`` settings docs/conf.py sets, applied
by the ``copied_text`` that writes the page scripts; prompts stripped, outputs
excluded) and sits only on the blocks ``copybutton_selector`` names; the page's
download links answer; the search page finds the page from a word of its title; in
the dark theme the plots of cell outputs are inverted by a CSS filter and photos are
not; axe-core (vendored in tests/browser/axe/, hash-pinned) finds no serious or critical
accessibility violation in either theme. A full-page screenshot of each page, light and
dark theme, goes to docs/_build/screenshots/.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import pytest
from conftest import site_module

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1280, "height": 900}
# furo keeps the reader's choice in localStorage under this key ("light"/"dark"/"auto")
THEME_KEY = "theme"
DOWNLOAD = re.compile(r"(^|/)downloads/[^/]+\.(ipynb|py)$")
# common words a title may hold that Sphinx's search drops (its English stop words)
STOP = {"with", "from", "that", "this", "what", "when", "into", "your", "their"}

# axe-core, vendored unchanged from npm (tests/browser/axe/README.md says how to update)
AXE = Path(__file__).parent / "axe" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
# the impacts that fail the check; "minor" and "moderate" are reported by axe only
AXE_FAILS = {"serious", "critical"}


@functools.cache
def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, (
        f"{AXE} is not the pinned axe-core"
    )
    return data.decode("utf-8")


def accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the loaded page, one line each."""
    page.evaluate(axe_source())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']}; "
        f"{len(v['nodes'])} element(s), e.g. {v['nodes'][0]['target']}"
        for v in results["violations"]
        if v["impact"] in AXE_FAILS
    ]


class Watch:
    """Everything a page did wrong while it loaded, as readable lines."""

    def __init__(self, page, base_url: str) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.route("**/*", self._route)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.problems.append(f"console error: {message.text} ({where})")

    def _failed(self, request) -> None:
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _route(self, route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.problems.append(f"request to another host: {route.request.url}")
            route.abort()


# each <img>: decode it (loading it if it is lazy) and report the ones that did not
IMAGES = """async () => {
  const bad = [];
  for (const img of Array.from(document.images)) {
    img.loading = "eager";
    try { await img.decode(); } catch (e) { bad.push(img.currentSrc || img.src); continue; }
    if (!(img.naturalWidth > 0)) bad.push(img.currentSrc || img.src);
  }
  return {count: document.images.length, bad: bad.map(s => s.slice(0, 120))};
}"""

# the copy buttons: their targets, whether the selector names each target, and the
# first target's text with the excluded nodes removed, as sphinx-copybutton reads it
COPY_BUTTONS = """([selector, exclude]) => {
  const buttons = Array.from(document.querySelectorAll("button.copybtn"));
  const targets = buttons.map(b => document.querySelector(b.dataset.clipboardTarget));
  const stray = targets.filter(t => !t || !t.matches(selector)).length;
  const blocks = document.querySelectorAll(selector).length;
  let text = null;
  if (targets.length && targets[0]) {
    const clone = targets[0].cloneNode(true);
    if (exclude) clone.querySelectorAll(exclude).forEach(n => n.remove());
    text = clone.innerText;
  }
  return {buttons: buttons.length, blocks, stray, text};
}"""


# each figure of a cell's output: whether it is a photo (class dlbook-photo) or an
# inline GIF, and the computed CSS filter that docs/_static/dlbook.css gives it
FILTERS = """() => Array.from(document.querySelectorAll(".cell_output img")).map(img => ({
  src: img.getAttribute("src").slice(0, 80),
  photo: img.classList.contains("dlbook-photo"),
  inline: img.getAttribute("src").startsWith("data:"),
  filter: getComputedStyle(img).filter,
}))"""


def _open(context, base_url: str, page_name: str):
    page = context.new_page()
    watch = Watch(page, base_url)
    page.goto(base_url + quote(page_name, safe="/?=&"), wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, watch


def _shot(page, folder: Path, page_name: str, theme: str) -> None:
    stem = PurePosixPath(page_name).with_suffix("").as_posix().replace("/", "__")
    suffix = "" if theme == "light" else f"-{theme}"
    page.screenshot(path=str(folder / f"{stem}{suffix}.png"), full_page=True)


@pytest.fixture(scope="module")
def light(browser, base_url):
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    context.add_init_script(f"localStorage.setItem({THEME_KEY!r}, 'light')")
    yield context
    context.close()


@pytest.fixture(scope="module")
def dark(browser, base_url):
    context = browser.new_context(viewport=VIEWPORT, color_scheme="dark")
    context.add_init_script(f"localStorage.setItem({THEME_KEY!r}, 'dark')")
    yield context
    context.close()


def test_page_in_light_theme(light, base_url, page_name, screenshots):
    """Loads clean, images decode, copy button copies, downloads answer; screenshot."""
    page, watch = _open(light, base_url, page_name)
    try:
        assert page.evaluate("document.body.dataset.theme") == "light"
        filtered = [f["src"] for f in page.evaluate(FILTERS) if f["filter"] != "none"]
        assert not filtered, f"figures filtered in the light theme: {filtered}"
        images = page.evaluate(IMAGES)
        assert not images["bad"], f"images that do not decode: {images['bad']}"
        scripts = site_module("scripts")
        settings = scripts["COPY_BUTTON"]
        buttons = page.evaluate(
            COPY_BUTTONS,
            [settings["copybutton_selector"], settings.get("copybutton_exclude", "")],
        )
        assert buttons["stray"] == 0, "a copy button on a block the selector excludes"
        assert buttons["buttons"] == buttons["blocks"], (
            f"{buttons['blocks']} code blocks but {buttons['buttons']} copy buttons"
        )
        if buttons["buttons"]:
            page.evaluate("navigator.clipboard.writeText('')")
            button = page.locator("button.copybtn").first
            button.scroll_into_view_if_needed()
            button.hover()
            button.click()
            page.wait_for_function("document.querySelector('button.copybtn.success')")
            clipboard = page.evaluate("navigator.clipboard.readText()")
            expected = scripts["copied_text"](buttons["text"], scripts["SITE_RULE"])
            assert clipboard == expected, "the copy button copied something else"
            assert clipboard.strip(), "the copy button copied nothing"
        for href in page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.getAttribute('href'))"
        ):
            path = urlsplit(href).path
            if not urlsplit(href).netloc and DOWNLOAD.search(path):
                answer = light.request.get(page.url.rsplit("/", 1)[0] + "/" + path)
                assert answer.status == 200, f"download {href}: HTTP {answer.status}"
                assert answer.body(), f"download {href} is empty"
        _shot(page, screenshots, page_name, "light")
        assert not watch.problems, "\n".join(watch.problems)
        problems = accessibility_problems(page)
        assert not problems, "\n".join(problems)
    finally:
        page.close()


def test_page_in_dark_theme(dark, base_url, page_name, screenshots):
    """The dark theme (furo's localStorage choice) loads clean too; screenshot."""
    page, watch = _open(dark, base_url, page_name)
    try:
        assert page.evaluate("document.body.dataset.theme") == "dark"
        for figure in page.evaluate(FILTERS):  # plots inverted, photos kept as they are
            inverted = not figure["photo"] and not figure["inline"]
            assert (figure["filter"] != "none") == inverted, (
                f"{figure['src']}: filter {figure['filter']!r} in the dark theme"
            )
        _shot(page, screenshots, page_name, "dark")
        assert not watch.problems, "\n".join(watch.problems)
        problems = accessibility_problems(page)
        assert not problems, "\n".join(problems)
    finally:
        page.close()


def _search_term(page) -> str | None:
    """The longest word of the page's title that the search index can hold."""
    title = page.evaluate("(document.querySelector('h1') || {}).innerText || ''")
    words = [
        w
        for w in re.findall(r"[A-Za-z][A-Za-z0-9-]{3,}", title)
        if w.lower() not in STOP
    ]
    return max(words, key=len) if words else None


def test_search_finds_the_page(light, base_url, indexed_page):
    """search.html?q=<a word of the page's title> lists the page."""
    page_name = indexed_page
    page, _ = _open(light, base_url, page_name)
    term = _search_term(page)
    page.close()
    assert term, f"{page_name}: no title word to search for"
    search, watch = _open(light, base_url, f"search.html?q={quote(term)}")
    try:
        search.wait_for_function(
            "/Search finished|did not match/.test("
            "(document.querySelector('#search-results') || {}).innerText || '')",
            timeout=20_000,
        )
        found = search.eval_on_selector_all(
            "#search-results ul.search li a",
            "links => links.map(a => new URL(a.href).pathname)",
        )
        wanted = "/" + page_name
        hits = [p for p in found if p == wanted or p == wanted.removesuffix(".html")]
        assert hits, f"searching {term!r} did not list {page_name}: {found[:10]}"
        assert not watch.problems, "\n".join(watch.problems)
    finally:
        search.close()
