"""What a page quotes from the notes is in the notes, word for word.

A page attributes words to the notes in two ways: the house style, an italic quotation
``*"…"*`` (used for the notes only), and a plain quotation right after the attribution
(``The notes: … "…"``, ``the notes' "…"``). Each such phrase must be found in
``seed/notes.md`` once whitespace and markdown emphasis are normalised (the first
letter's case may differ: a quote can start mid-sentence).

The notes lie beside the clone (``../shared/seed/notes.md``), absent in CI's clone, so
the check against them skips there, as ``test_site``'s links check does. The check that
does not need them: every attributed phrase is one of ``fixtures/notes_quotes.txt``,
the phrases checked against the notes where they are present; a new or edited quote
fails in CI until it is added there (and checked where the notes are).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT.parent / "shared" / "seed" / "notes.md"
CHECKED = Path(__file__).parent / "fixtures" / "notes_quotes.txt"

# `The notes: … "…"` (words between, no sentence end) or `the notes' "…"` (directly)
PLAIN = re.compile(
    r"""notes(?::[^".]{0,80}?|'|\ssays?:?[^".]{0,80}?)\s*"([^"]+)\"""", re.I
)
ITALIC = re.compile(r'\*"([^"]+)"\*')


def normalise(text: str) -> str:
    """Whitespace collapsed, markdown emphasis and heading marks removed."""
    text = re.sub(r"^#+\s*", "", text, flags=re.M).replace("**", "")
    return " ".join(text.split())


def prose(page_text: str) -> str:
    """A page's text without its code blocks and directives' bodies in fences."""
    return re.sub(r"^```.*?^```", "", page_text, flags=re.S | re.M)


def attributed_quotes(page_text: str) -> list[str]:
    """The phrases a page's prose attributes to the notes, normalised."""
    text = normalise(prose(page_text))
    found = ITALIC.findall(text) + PLAIN.findall(text)
    return list(dict.fromkeys(normalise(q) for q in found))


def found_in(phrase: str, notes: str) -> bool:
    """Whether ``phrase`` is in ``notes`` (both normalised), the first letter's case aside."""
    return any(
        variant in notes
        for variant in {
            phrase,
            phrase[:1].upper() + phrase[1:],
            phrase[:1].lower() + phrase[1:],
        }
    )


def page_quotes() -> dict[str, list[str]]:
    quotes = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        found = attributed_quotes(page.read_text(encoding="utf-8"))
        if found:
            quotes[page.name] = found
    return quotes


def checked_phrases() -> set[str]:
    lines = CHECKED.read_text(encoding="utf-8").splitlines()
    return {normalise(line) for line in lines if line.strip()}


def test_the_extractor_finds_both_forms_and_nothing_else():
    text = (
        'The notes: a layer *"learns abstract patterns"*. The notes\' "hard to teach"'
        ' is measured. The notes: a GAN is "a forger" here.\n\n'
        'A "smile vector" is a term.\n\n```python\nx = *"code"*\n```\n'
    )
    assert sorted(attributed_quotes(text)) == sorted(
        ["learns abstract patterns", "hard to teach", "a forger"]
    )


def test_a_misquote_is_caught():
    notes = normalise("Has an internal loop to maintain the state over samples series.")
    assert found_in("has an internal loop", notes)
    assert not found_in("a for loop that reuses quantities", notes)


def test_pages_quote_the_notes():
    quotes = page_quotes()
    assert sum(map(len, quotes.values())) >= 10, f"too few quotes found: {quotes}"


def test_every_quote_of_the_notes_is_a_checked_phrase():
    """Needs no notes: each attributed phrase is listed in fixtures/notes_quotes.txt."""
    checked = checked_phrases()
    unchecked = {
        page: [q for q in found if q not in checked]
        for page, found in page_quotes().items()
    }
    unchecked = {page: found for page, found in unchecked.items() if found}
    assert not unchecked, (
        f"quotes of the notes not in {CHECKED.name} (add them once found in the "
        f"notes): {unchecked}"
    )


def test_every_quote_of_the_notes_is_in_the_notes():
    if not NOTES.exists():
        pytest.skip(f"notes not found at {NOTES}")
    notes = normalise(NOTES.read_text(encoding="utf-8"))
    missing = {
        page: [q for q in found if not found_in(q, notes)]
        for page, found in page_quotes().items()
    }
    missing = {page: found for page, found in missing.items() if found}
    assert not missing, f"quoted as the notes' words but not in the notes: {missing}"


def test_the_checked_phrases_are_in_the_notes():
    if not NOTES.exists():
        pytest.skip(f"notes not found at {NOTES}")
    notes = normalise(NOTES.read_text(encoding="utf-8"))
    absent = [phrase for phrase in checked_phrases() if not found_in(phrase, notes)]
    assert not absent, f"{CHECKED.name} lists phrases the notes lack: {absent}"
