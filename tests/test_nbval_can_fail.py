"""The validation can fail: nbval, with our sanitizers and glue comparison, catches a
changed claim, and passes an unchanged one whose timing differs."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from conftest import compare_with_glue

ROOT = Path(__file__).resolve().parents[1]
SANITIZERS = ROOT / "tests" / "nbval_sanitize.cfg"


def _notebook(path: Path, code: str, printed: str, glued: str | None = None) -> None:
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    if glued is not None:
        path.with_suffix(".glue.json").write_text(
            '{"acc": {"output_type": "display_data", "metadata": {}, '
            f'"data": {{"text/plain": "{glued}"}}}}}}'
        )


def _nbval(path: Path) -> subprocess.CompletedProcess:
    """nbval in a subprocess, with the same conftest (glue comparison) as the suite."""
    shutil.copy(ROOT / "tests" / "conftest.py", path.parent / "conftest.py")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(SANITIZERS),
            "--rootdir",
            str(path.parent),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,
    )


@pytest.mark.parametrize(
    ("code", "reference", "passes"),
    [
        ("print('accuracy 0.97')", "accuracy 0.97\n", True),
        ("print('accuracy 0.91')", "accuracy 0.97\n", False),  # a changed claim fails
        ("print('took 3.2 s')", "took 41.0 s\n", True),  # a timing is sanitized
    ],
)
def test_nbval_compares_printed_claims(tmp_path, code, reference, passes):
    _notebook(tmp_path / "page.ipynb", code, reference)
    result = _nbval(tmp_path / "page.ipynb")
    assert (result.returncode == 0) is passes, result.stdout[-2000:]


@pytest.mark.parametrize(("glued_now", "passes"), [("0.97", True), ("0.91", False)])
def test_nbval_compares_glued_values(tmp_path, glued_now, passes):
    code = f"from myst_nb import glue\nglue('acc', {glued_now}, display=False)\nprint('done')"
    _notebook(tmp_path / "page.ipynb", code, "done\n", glued="0.97")
    result = _nbval(tmp_path / "page.ipynb")
    assert (result.returncode == 0) is passes, result.stdout[-2000:]


def _glue_output(name: str, value: str) -> dict:
    """A hidden glue output as myst-nb's ``glue(name, value, display=False)`` makes it."""
    prefix = "application/papermill.record/"
    return {
        "output_type": "display_data",
        "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
        "data": {prefix + "text/plain": value},
    }


@pytest.mark.parametrize(
    ("glued_now", "passes", "report"),
    [
        ("'took 3.1 s'", True, None),  # sanitized as nbval sanitizes outputs
        ("'took 3.1 s' ", False, "glued value 'runtime' changed"),
        (None, False, "glue key 'missing' is not in page.glue.json"),
    ],
)
def test_compare_with_glue_compares_glued_values_with_the_build(
    tmp_path, glued_now, passes, report
):
    """conftest.compare_with_glue on its own: nbval's comparison gets the outputs
    without the glue, each glued value is compared with the build's glue.json."""
    build = {"runtime": {"data": {"text/plain": "'took 41.0 s'"}}}
    (tmp_path / "page.glue.json").write_text(json.dumps(build))
    printed = {"output_type": "stream", "name": "stdout", "text": "done\n"}
    glued = _glue_output("runtime", glued_now) if glued_now else None
    test = [printed, glued or _glue_output("missing", "1")]
    seen = []

    def nbval_compare(test, ref, skip_compare=None):
        seen.append((test, ref))
        cell.comparison_traceback = []  # as nbval's own comparison starts
        return test == ref

    cell = SimpleNamespace(
        parent=SimpleNamespace(fspath=tmp_path / "page.ipynb"),
        sanitize=lambda s: re.sub(r"\d+(\.\d+)? s", "DURATION", s),
        comparison_traceback=None,
    )
    assert compare_with_glue(cell, nbval_compare, test, [printed]) is passes
    assert seen == [([printed], [printed])]  # nbval never saw the glue output
    if report:
        assert any(report in line for line in cell.comparison_traceback)
