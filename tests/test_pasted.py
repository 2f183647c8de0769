"""Copy-paste is a promise: each page's code, as the copy buttons copy it, runs in a
fresh interpreter that has only what ``pip install 'dlbook[data]'`` installs.

The scripts are the ``downloads/<page>.py`` files the build writes
(:mod:`dlbook_site.downloads`) in conftest's built site; the runner blocks every other
installed package (:mod:`dlbook_site.reader`). Unit tests of the copy rule, the
listings' imports and the runner come first.
"""

import ast
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import missing_data

from dlbook.base.closure import PackageIndex
from dlbook_site import reader
from dlbook_site.listings import module_of, needed_imports
from dlbook_site.scripts import (
    COPY_BUTTON,
    SITE_RULE,
    Block,
    CopyRule,
    copied_text,
    page_script,
    rebound_imports,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    p.stem
    for p in (ROOT / "docs").glob("*.md")
    if "{code-cell}" in p.read_text(encoding="utf-8")
)


def test_the_site_copies_by_the_rule_the_scripts_apply():
    """docs/conf.py gives sphinx-copybutton the settings of COPY_BUTTON, and the page
    scripts copy by the rule they set (the browser check compares both with the real
    button)."""
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    settings = {name: v for name, v in conf.items() if name.startswith("copybutton_")}
    assert settings == COPY_BUTTON
    assert CopyRule.of(settings) == SITE_RULE
    with pytest.raises(ValueError, match="copybutton_line_continuation_character"):
        CopyRule.of({**COPY_BUTTON, "copybutton_line_continuation_character": "\\"})


def test_copied_text_strips_prompts_and_drops_outputs():
    block = ">>> x = 1\n>>> print(x)\n1\n\n... y = 2\n"
    assert copied_text(block, SITE_RULE) == "x = 1\nprint(x)\n\ny = 2"
    plain = "a = 1\nprint(a)\n"
    assert copied_text(plain, SITE_RULE) == "a = 1\nprint(a)"
    assert copied_text("$ ./noxw -s docs", SITE_RULE) == "./noxw -s docs"
    assert copied_text("In [3]: f()\n") == "f()"  # the site's rule by default


def test_page_script_keeps_order_and_comments_shell_blocks():
    script = page_script(
        "Title",
        [
            Block("ipython3", "a = 1\n"),
            Block("console", "$ ls\n"),
            Block("python", "def f():\n    return a\n", "listing"),
        ],
        SITE_RULE,
        note="a note",
    )
    assert script.index("a = 1") < script.index("# ls") < script.index("def f")
    assert "# %% source listing" in script and "# a note" in script
    compile(script, "page.py", "exec")


def test_page_script_title_is_not_read_as_an_encoding(tmp_path):
    script = tmp_path / "page.py"
    title = "Text encoding: one-hot, hashing"
    script.write_bytes(
        page_script(title, [Block("python", "print(1)\n")], SITE_RULE).encode()
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_listing_imports_are_what_the_object_uses(tmp_path):
    module = tmp_path / "dlbook" / "demo.py"
    module.parent.mkdir()
    module.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            import numpy as np
            import os
            from keras import ops, layers
            SCALE = 2

            def helper(x):
                return x

            class Layer(layers.Layer):
                def call(self, x: np.ndarray) -> np.ndarray:
                    y = ops.relu(x) * SCALE
                    return helper(y)
            """
        )
    )
    lines = needed_imports(module, "Layer", "dlbook.demo")
    assert lines == [
        "import numpy as np",
        "from dlbook.demo import SCALE, helper",
        "from keras import layers, ops",
    ]
    assert needed_imports(module, "helper", "dlbook.demo") == []
    with pytest.raises(ValueError, match="pyobject 'missing'"):
        needed_imports(module, "missing", "dlbook.demo")


def test_reader_lacks_the_build_tools_and_the_site_machinery_but_has_dlbook(tmp_path):
    """The reader's interpreter blocks what `pip install 'dlbook[data]'` would not
    install: the build's tools and dlbook_site itself, which runs it from outside
    dlbook (test_page runs the page template in it)."""
    blocked = reader.blocked_modules()
    assert {"sphinx", "myst_nb", "IPython", "pytest", "nbval", "dlbook_site"} <= blocked
    assert not {"numpy", "keras", "matplotlib", "dlbook"} & blocked
    for number, module in enumerate(("sphinx", "dlbook_site")):
        script = tmp_path / f"uses_{number}.py"
        script.write_text(f"import numpy\nimport {module}\n")
        result = reader.run_script(script, tmp_path, timeout=120)
        assert result.returncode != 0
        assert f"No module named {module!r}" in result.stderr
        assert "does not install it" in result.stderr
    fine = tmp_path / "fine.py"
    fine.write_text("import dlbook.training\nprint('ok')\n")
    result = reader.run_script(fine, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    with pytest.raises(ValueError, match="script must be an existing file"):
        reader.run_script(tmp_path / "none.py", tmp_path)


def test_module_of_names_the_files_of_the_package_only(tmp_path):
    package = tmp_path / "src" / "fake"
    (package / "sub").mkdir(parents=True)
    index = PackageIndex("fake", package)
    assert module_of(index, package / "sub" / "core.py") == "fake.sub.core"
    assert module_of(index, package / "sub" / "__init__.py") == "fake.sub"
    assert module_of(index, tmp_path / "src" / "fake" / ".." / "fake" / "a.py") == (
        "fake.a"
    )
    assert module_of(index, tmp_path / "src" / "other.py") is None
    assert module_of(index, package / "notes.txt") is None


@pytest.mark.pasted
@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs_as_pasted(page, tmp_path, built_html):
    script = built_html / "downloads" / f"{page}.py"
    if not script.is_file():
        missing_data(f"the build wrote no script for {page}: {script} is missing")
    result = reader.run_script(script, tmp_path, timeout=1800)
    tail = "\n".join(result.stderr.splitlines()[-25:])
    assert result.returncode == 0, f"{page}.py failed when pasted:\n{tail}"
    notebook = script.with_suffix(".ipynb")
    assert notebook.is_file() and re.search(r'"outputs": \[\s*\{', notebook.read_text())


def test_rebound_imports_are_found():
    blocks = [
        Block("python", "import cv2\nimport numpy as np\n"),
        Block(
            "python", "from dlbook.vision import cv2\nimport numpy as np\n", "listing"
        ),
    ]
    assert rebound_imports(blocks, SITE_RULE) == [
        "'cv2': 'import cv2', then 'from dlbook.vision import cv2'"
    ]
    assert rebound_imports(blocks[1:], SITE_RULE) == []


LISTING = re.compile(
    r"```\{literalinclude\} \.\./(src/dlbook/\S+\.py)\n:pyobject: (\S+)\n"
)


def _listings():
    for page in sorted((ROOT / "docs").glob("*.md")):
        for path, pyobject in LISTING.findall(page.read_text(encoding="utf-8")):
            yield pytest.param(path, pyobject, id=f"{page.stem}:{pyobject}")


@pytest.mark.parametrize(("path", "pyobject"), list(_listings()))
def test_every_listing_runs_pasted_alone(path, pyobject):
    """A listing as shown (its needed imports, then its source, methods dedented)
    executes in an empty namespace: annotations and base classes resolve."""
    source = ROOT / path
    module = module_of(PackageIndex("dlbook", ROOT / "src" / "dlbook"), source)
    tree = ast.parse(source.read_text(encoding="utf-8"))
    node = tree
    for part in pyobject.split("."):
        node = next(n for n in node.body if getattr(n, "name", None) == part)
    lines = source.read_text(encoding="utf-8").splitlines()
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    body = textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno]))
    code = "\n".join([*needed_imports(source, pyobject, module), body])
    exec(compile(code, f"{pyobject} as pasted", "exec"), {"__name__": "pasted"})
