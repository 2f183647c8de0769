"""Print the weight of every page of a built site: HTML plus its own images, in KB.

``python benchmarks/page_weight.py [SITE]`` weighs SITE (a folder holding
index.html; default ``docs/_build/html``) with :mod:`dlbook_site.weight`: one row per
page, the median and the heaviest page against the limits (3 MB a page, 1 MB the
median) and the shared theme files, counted once. ``build_times.py`` prints the same
table for the site its cold build made.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlbook_site import weight

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else ROOT / "docs" / "_build" / "html"
    if not (site / "index.html").is_file():
        print(f"page weight: no built site in {site} (run `./noxw -s docs`)")
        return 1
    weights = weight.weigh_site(site)
    print(f"page weight of {site}")
    print(weight.table(weights))
    over = weights.over()
    heavy_median = weights.median > weight.MEDIAN_LIMIT
    for page in over:
        print(f"OVER THE LIMIT: {page.page} {page.total / weight.KB:.0f} KB")
    if heavy_median:
        print("OVER THE LIMIT: the median page")
    return 1 if over or heavy_median else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
