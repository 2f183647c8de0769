"""The bibliography, the references page and the glossary, read from their sources."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTES = ROOT.parent / "shared" / "seed" / "notes.md"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
TERM = re.compile(r"\{term\}`(?:[^`<]*<([^`>]+)>|([^`]+))`")
# Links of the notes known to be dead or moved: plain HTTP, Keras 2's documentation
# paths, Medium's and Quora's old image hosts, and pages that are gone.
MOVED = re.compile(
    r"^http://|keras\.io/(layers|applications|getting-started)/|cdn-images-1\.medium"
    r"|qph\.ec\.quoracdn|researchgate\.net/profile|gym\.openai\.com|habr\.com/post/"
    r"|opencv-python-tutroals|cambridgespark\.com|yeephycho|8\.3-neural-style-transfer"
)


def _bibliography():
    pybtex = pytest.importorskip("pybtex.database")
    return pybtex.parse_file(str(DOCS / "references.bib")).entries


def _pages():
    return sorted(DOCS.glob("*.md"))


def test_every_citation_names_an_entry_of_the_bibliography():
    entries = {key.lower() for key in _bibliography()}
    cited = {
        (page.name, key.strip())
        for page in _pages()
        for keys in CITE.findall(page.read_text(encoding="utf-8"))
        for key in keys.split(",")
    }
    assert cited, "no page cites anything"
    unknown = sorted(pair for pair in cited if pair[1].lower() not in entries)
    assert not unknown, f"citations of keys missing from references.bib: {unknown}"


def test_every_entry_says_when_and_where_it_was_published():
    for key, entry in _bibliography().items():
        fields = {name.lower() for name in entry.fields}
        assert "year" in fields, f"{key} has no year"
        venue = {"journal", "booktitle", "publisher", "howpublished"} & fields
        assert venue, f"{key} says neither journal, proceedings nor publisher"
        assert {"doi", "url"} & fields, f"{key} gives no DOI or URL"


def test_the_references_page_lists_the_bibliography():
    text = (DOCS / "references.md").read_text(encoding="utf-8")
    assert "```{bibliography}" in text


def test_a_dead_or_moved_link_of_the_notes_has_its_current_equivalent_beside_it():
    if not NOTES.exists():
        pytest.skip(f"notes not found at {NOTES}")
    links = re.findall(r"https?://[^\s)]+", NOTES.read_text())
    moved = [link for link in links if MOVED.search(link)]
    assert len(moved) >= 10, "the pattern of known dead or moved links matches"
    lines = (DOCS / "references.md").read_text(encoding="utf-8").splitlines()
    bare = [
        link
        for link in moved
        if not any(
            f"<{link}>" in line and "current equivalent" in line for line in lines
        )
    ]
    assert not bare, f"dead or moved links without a current equivalent: {bare}"


def _glossary():
    """{term: the page its entry points to (or None)} from docs/glossary.md."""
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, current = {}, None
    for line in body.splitlines():
        if line and not line.startswith((" ", ":")):
            current = line.strip()
            entries[current] = ""
        elif current:
            entries[current] += " " + line.strip()
    return {
        term: (
            seen.group(1)
            if (seen := re.search(r"See \{doc\}`([^`]+)`", text))
            else None
        )
        for term, text in entries.items()
    }


def test_every_glossary_link_names_a_term_once_per_page():
    terms = {term.lower() for term in _glossary()}
    for page in _pages():
        links = [
            (target or text).strip().lower()
            for target, text in TERM.findall(page.read_text(encoding="utf-8"))
        ]
        unknown = sorted(set(links) - terms)
        assert not unknown, f"{page.name} links terms the glossary lacks: {unknown}"
        twice = sorted({term for term in links if links.count(term) > 1})
        assert not twice, f"{page.name} links {twice} more than once (first use only)"


def test_each_glossary_entry_points_to_a_page_that_uses_the_term():
    terms = _glossary()
    assert len(terms) >= 20
    for term, page in terms.items():
        if page is None:
            continue
        text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
        stem = re.escape(term.split()[0][:6])
        assert re.search(stem, text, re.I), (
            f"{term!r} points to {page}, which never uses it"
        )
