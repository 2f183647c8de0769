"""Names in the pages' code cells link to their API entries (sphinx-codeautolink, over
the entries dlbook_site.api_reference generates), and every such link lands."""

import re
from collections import Counter

from dlbook_site.weight import pages

LINK = re.compile(r'<a class="sphinx-codeautolink-a" href="([^"#]*)#([^"]+)"')


def test_code_cells_link_names_to_existing_api_entries(built_html):
    api = (built_html / "api.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', api))
    linked = Counter()
    for page in pages(built_html):
        for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
            if target != "api.html":
                continue
            assert anchor in anchors, f"{page.name} links {anchor}, not in api.html"
            linked[page.name] += 1
    chapters = [name for name in linked if name not in ("api.html", "training.html")]
    assert len(chapters) >= 10, f"few pages link their code to the API: {dict(linked)}"
    # a name the training core exports, used on most pages, resolved to its definition
    convnets = (built_html / "convnets.html").read_text(encoding="utf-8")
    assert 'href="api.html#dlbook.training.core.' in convnets
