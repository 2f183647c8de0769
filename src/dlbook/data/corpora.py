"""Offline English text for learning word embeddings, and the analogy test set.

Both come from the test data inside gensim's wheel (fetched by hash, never installed;
see :mod:`dlbook.data.archives`): a shortened dump of 206 English Wikipedia pages (the
first articles alphabetically: Anarchism, Afghanistan, Algeria, Alabama, ...), the
Lee news corpus (300 Australian news articles) and ``questions-words.txt``, the
19,544 analogy questions of Mikolov et al. (2013). Used on the text-encoding page.
"""

from __future__ import annotations

import bz2
import html
import re
from dataclasses import dataclass

from dlbook.data import archives

TEST_DATA = "gensim/test/test_data/"
WIKIPEDIA = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _read(name: str) -> bytes:
    return archives.read_member(
        archives.archive_path(archives.GENSIM), TEST_DATA + name
    )


def tokenize(text: str) -> list[str]:
    """Lower-cased words (letters, with an inner apostrophe kept: ``don't``)."""
    return WORD.findall(text.lower())


def strip_wiki_markup(wikitext: str) -> str:
    """Readable prose from MediaWiki source: templates, tables, references, tags and
    link targets removed (``[[target|shown]]`` keeps ``shown``). Rough but enough to
    count words in context."""
    text = html.unescape(wikitext)
    text = re.sub(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", " ", text, flags=re.S)
    for _ in range(3):  # nested templates, innermost first
        text = re.sub(r"\{\{[^{}]*\}\}", " ", text)
    text = re.sub(r"\{\|.*?\|\}", " ", text, flags=re.S)  # tables
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[\[(?:File|Image|Category):[^\]]*\]\]", " ", text)
    text = re.sub(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]", r"\1", text)
    return re.sub(r"\[https?://\S+\s*([^\]]*)\]", r"\1", text)


def wikipedia_articles() -> list[str]:
    """The prose of each non-redirect page of gensim's Wikipedia excerpt."""
    dump = bz2.decompress(_read(WIKIPEDIA)).decode("utf-8")
    pages = re.findall(r"<text[^>]*>(.*?)</text>", dump, flags=re.S)
    return [
        strip_wiki_markup(p)
        for p in pages
        if not p.lstrip().upper().startswith("#REDIRECT")
    ]


def lee_articles() -> list[str]:
    """The 300 news articles of the Lee background corpus, one per line."""
    return [
        line
        for line in _read("lee_background.cor").decode("utf-8").splitlines()
        if line
    ]


def sentences(min_words: int = 3) -> list[list[str]]:
    """The embedding corpus: Wikipedia and Lee articles split into sentences of words."""
    texts = wikipedia_articles() + lee_articles()
    pieces = (re.split(r"(?<=[.!?])\s+|\n+", text) for text in texts)
    tokenized = (tokenize(piece) for group in pieces for piece in group)
    return [words for words in tokenized if len(words) >= min_words]


@dataclass(frozen=True)
class Analogy:
    """``a`` is to ``b`` as ``c`` is to ``d`` (``section``: e.g. capital-common-countries)."""

    section: str
    a: str
    b: str
    c: str
    d: str


def analogy_questions() -> list[Analogy]:
    """Mikolov et al.'s analogy questions, lower-cased, with their section names."""
    questions, section = [], None
    for number, line in enumerate(
        _read("questions-words.txt").decode().splitlines(), 1
    ):
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split()
        if len(words) != 4 or section is None:
            raise ValueError(
                f"questions-words.txt line {number}: expected 4 words, got {line!r}"
            )
        questions.append(Analogy(section, *words))
    return questions
