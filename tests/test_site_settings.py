"""What the noxfile, docs/conf.py and the tests share (dlbook_site.settings): the build
folder, the variable that turns skips into failures, the Chromium finder; and the
promises built on them (the ``tests`` session looks for Chromium first, the README
names every variable a user sets)."""

import ast
import re
import stat
from pathlib import Path

from dlbook_site import settings

ROOT = Path(__file__).resolve().parents[1]


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_build_folder_is_dlbook_site_else_docs_build(tmp_path):
    docs = tmp_path / "docs"
    assert settings.build_folder(docs, {}) == docs / "_build"
    chosen = {"DLBOOK_SITE": str(tmp_path / "elsewhere")}
    assert settings.build_folder(docs, chosen) == tmp_path / "elsewhere"


def test_checks_read_dlbook_site_else_the_tests_build_else_the_docs_build(tmp_path):
    docs = tmp_path / "docs"
    assert settings.checked_build(docs, {}) == docs / "_build"
    tests = docs / "_build" / "tests"
    (tests / "html").mkdir(parents=True)
    assert settings.checked_build(docs, {}) == docs / "_build", "no site there yet"
    (tests / "html" / "index.html").write_text("<html></html>")
    assert settings.checked_build(docs, {}) == tests
    chosen = {"DLBOOK_SITE": str(docs / "_build")}
    assert settings.checked_build(docs, chosen) == docs / "_build"


def test_required_only_when_set_to_1():
    assert settings.required({"DLBOOK_REQUIRE_DATA": "1"})
    assert not settings.required({"DLBOOK_REQUIRE_DATA": ""})
    assert not settings.required({})


def test_chromium_is_found_on_path_or_where_dlbook_chromium_says(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert settings.find_chromium({"PATH": str(empty)}) is None
    folder = tmp_path / "bin"
    folder.mkdir()
    browser = _executable(folder / "chromium-browser")
    assert settings.find_chromium({"PATH": str(folder)}) == str(browser)
    assert settings.chromium_problem({"PATH": str(folder)}) is None
    mine = _executable(tmp_path / "my-chrome")
    chosen = {"PATH": str(empty), "DLBOOK_CHROMIUM": str(mine)}
    assert settings.find_chromium(chosen) == str(mine)


def test_a_missing_chromium_gets_one_message_saying_how_to_get_it(tmp_path):
    problem = settings.chromium_problem({"PATH": str(tmp_path)})
    assert "no Chromium found on PATH" in problem
    assert "apt-get install chromium" in problem and "DLBOOK_CHROMIUM=" in problem
    wrong = {"PATH": str(tmp_path), "DLBOOK_CHROMIUM": str(tmp_path / "none")}
    assert settings.find_chromium(wrong) is None
    assert f"DLBOOK_CHROMIUM={tmp_path / 'none'} is not a file" in (
        settings.chromium_problem(wrong)
    )


def _session_calls(name: str) -> list[str]:
    """The names the noxfile's session ``name`` calls, in order of appearance."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    calls = [
        n
        for statement in function.body
        for n in ast.walk(statement)
        if isinstance(n, ast.Call)
    ]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    return [ast.unparse(c.func) for c in calls]


def test_the_sessions_that_drive_chromium_look_for_it_before_anything_else():
    """`./noxw -s tests` ran 23 minutes before failing for want of Chromium: now it
    stops in seconds, before it installs or builds anything."""
    tests = _session_calls("tests")
    assert tests[0] == "require_chromium"
    assert tests.index("require_chromium") < tests.index("book_python")
    browser = _session_calls("browser")
    assert browser.index("require_chromium") < browser.index("session.install")


def test_the_readme_names_every_variable_a_user_sets():
    """Every DLBOOK_* variable the code reads has its line in the README's list."""
    used = set()
    for folder in ("src", "sitebuild", "tests", "docs", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if "_build" not in path.parts:
                used |= set(re.findall(r"DLBOOK_[A-Z_]+", path.read_text("utf-8")))
    used |= set(re.findall(r"DLBOOK_[A-Z_]+", (ROOT / "noxfile.py").read_text()))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(DLBOOK_[A-Z_]+)", readme, re.MULTILINE))
    assert used <= listed, f"not in the README: {used - listed}"
    assert listed <= used, f"the README lists what nothing reads: {listed - used}"
