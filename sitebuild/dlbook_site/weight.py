"""Page weight of the built site: what a reader's browser fetches for each page.

A page's weight is its HTML file (figures and animations inlined as ``data:`` URIs
included) plus every file it loads that belongs to it alone (``_images/``, the search
index, ...). Files under ``_static/`` (the theme's CSS and JS, MathJax) are shared by
every page and the browser caches them: they are counted once, apart. Downloads (the
``.ipynb`` and ``.py`` files a page links to) are not loaded with the page: reported
apart. Used by ``benchmarks/page_weight.py`` (the ``benchmark`` session's table) and
``tests/test_weight.py`` (no page over 3 MB, median under 1 MB).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

MB = 1_000_000
KB = 1_000
PAGE_LIMIT = 3 * MB
MEDIAN_LIMIT = 1 * MB
# Pages Sphinx generates, not written by anyone: left out of the median and the limits.
GENERATED = frozenset({"genindex.html", "search.html", "py-modindex.html"})
SHARED = "_static"
DOWNLOAD = re.compile(r"(^|/)_?downloads/")

# (tag, attribute) pairs whose URL the browser loads along with the page
_LOADED = {
    ("img", "src"),
    ("source", "src"),
    ("video", "src"),
    ("video", "poster"),
    ("audio", "src"),
    ("script", "src"),
    ("iframe", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
}
_LOADED_LINKS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload"}


class _References(HTMLParser):
    """Collect the URLs a page loads (``loaded``) and the ones it links to (``links``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value}
        for name, value in values.items():
            if (tag, name) in _LOADED:
                self.loaded.append(value)
        for candidate in values.get("srcset", "").split(","):
            if candidate.strip():
                self.loaded.append(candidate.split()[0])
        if tag == "link" and "href" in values:
            rel = set(values.get("rel", "").lower().split())
            (self.loaded if rel & _LOADED_LINKS else self.links).append(values["href"])
        elif tag == "a" and "href" in values:
            self.links.append(values["href"])


@dataclass
class PageWeight:
    """One page: its HTML and own files in bytes, and the shared and download files
    it references (paths relative to the site)."""

    page: str
    html: int
    own: dict[str, int] = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)
    downloads: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """HTML plus the page's own files: the weight the limits apply to."""
        return self.html + sum(self.own.values())


def _local(url: str, page: PurePosixPath) -> str | None:
    """The site-relative path ``url`` names from ``page``, or None if it is not a file
    of the site (another host, a data: URI, an anchor)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = PurePosixPath(unquote(parts.path))
    joined = path if path.is_absolute() else page.parent / path
    normal: list[str] = []
    for part in joined.parts:
        if part in ("", ".", "/"):
            continue
        if part == "..":
            if normal:
                normal.pop()
            continue
        normal.append(part)
    return "/".join(normal)


def pages(site: Path) -> list[Path]:
    """Every HTML page of the built site (not the theme's files under ``_static``)."""
    site = Path(site)
    return sorted(
        p for p in site.rglob("*.html") if not {"_static", "_sources"} & set(p.parts)
    )


def weigh_page(site: Path, page: Path) -> PageWeight:
    """The weight of one page of the site in ``site``."""
    site = Path(site)
    relative = PurePosixPath(page.relative_to(site).as_posix())
    text = page.read_text(encoding="utf-8")
    found = _References()
    found.feed(text)
    weight = PageWeight(str(relative), html=page.stat().st_size)
    for url in found.loaded:
        target = _local(url, relative)
        if target is None:
            continue
        file = site / target
        if not file.is_file():
            weight.missing.append(target)
        elif target.split("/", 1)[0] == SHARED:
            weight.shared.add(target)
        else:
            weight.own[target] = file.stat().st_size
    for url in found.links:
        target = _local(url, relative)
        if target and DOWNLOAD.search(target) and (site / target).is_file():
            weight.downloads[target] = (site / target).stat().st_size
    return weight


@dataclass
class SiteWeight:
    """Every page's weight, the shared files (counted once) and the median."""

    pages: list[PageWeight]
    shared: dict[str, int]

    @property
    def written(self) -> list[PageWeight]:
        """The pages the limits apply to: all but Sphinx's generated ones."""
        return [p for p in self.pages if PurePosixPath(p.page).name not in GENERATED]

    @property
    def median(self) -> float:
        totals = [p.total for p in self.written]
        return statistics.median(totals) if totals else 0.0

    def over(self, limit: int = PAGE_LIMIT) -> list[PageWeight]:
        return [p for p in self.written if p.total > limit]


def weigh_site(site: Path) -> SiteWeight:
    """Weigh every page of the built site in ``site`` (a folder holding index.html)."""
    site = Path(site)
    if not (site / "index.html").is_file():
        raise ValueError(f"site: expected a built site holding index.html, got {site}")
    weights = [weigh_page(site, page) for page in pages(site)]
    shared = {
        name: (site / name).stat().st_size for w in weights for name in sorted(w.shared)
    }
    return SiteWeight(weights, shared)


def table(weights: SiteWeight) -> str:
    """A plain-text table, one row per page, sizes in KB (1 KB = 1000 bytes)."""
    rows = [("page", "HTML KB", "images etc. KB", "total KB", "downloads KB")]
    for w in weights.pages:
        rows.append(
            (
                w.page + (" (generated)" if w not in weights.written else ""),
                f"{w.html / KB:.0f}",
                f"{(w.total - w.html) / KB:.0f}",
                f"{w.total / KB:.0f}",
                f"{sum(w.downloads.values()) / KB:.0f}" if w.downloads else "-",
            )
        )
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width[i]) if i == 0 else cell.rjust(width[i])
            for i, cell in enumerate(row)
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * n for n in width))
    heaviest = max(weights.written, key=lambda w: w.total, default=None)
    lines += [
        "",
        f"median page (of {len(weights.written)} written pages): "
        f"{weights.median / KB:.0f} KB (limit {MEDIAN_LIMIT / KB:.0f} KB)",
        f"heaviest page: {heaviest.page} {heaviest.total / KB:.0f} KB "
        f"(limit {PAGE_LIMIT / KB:.0f} KB)"
        if heaviest
        else "heaviest page: none",
        f"shared theme files (_static, loaded once and cached): "
        f"{len(weights.shared)} files, {sum(weights.shared.values()) / KB:.0f} KB",
    ]
    missing = sorted({m for w in weights.pages for m in w.missing})
    if missing:
        lines.append(f"referenced but missing: {', '.join(missing[:10])}")
    return "\n".join(lines)
