"""The validation can fail: nbval, with our sanitizers and glue comparison, catches a
changed claim, and passes an unchanged one whose timing differs."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

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
