"""The OpenCV page's classical-against-learned verdict: the convnet is chosen on
validation digits and trained from several seeds before it is compared (issue #32)."""

import ast
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def page_seeds(source: str, name: str, seed: int = 7) -> list:
    match = re.search(rf"^{name} = (\[.*\])", source, re.MULTILINE)
    assert match, f"no {name} line on the page"
    return eval(match.group(1), {"page": type("P", (), {"seed": seed})})


def test_the_convnet_is_trained_from_three_seeds_derived_from_the_page_seed():
    seeds = page_seeds((DOCS / "opencv.md").read_text(), "CONVNET_SEEDS")
    assert len(set(seeds)) >= 3 and seeds[0] == 7
    assert page_seeds((DOCS / "opencv.md").read_text(), "CONVNET_SEEDS", 8) != seeds


def test_the_variant_is_chosen_on_validation_before_any_test_comparison():
    source = (DOCS / "opencv.md").read_text()
    select = source.index("checks.select(")
    chooses = source[select : source.index("\n", select)]
    assert "validation" in chooses and "test" not in chooses
    compare = source.index("checks.compare(svm_right, cnn_right")
    assert select < compare
    # the comparison reads every seed's test digits, one row per seed
    assert "for fit in learned.values()])" in source[select:compare]


def test_every_verdict_variant_is_written():
    source = (DOCS / "opencv.md").read_text()
    for name in ("digits_sentence", "digits_context"):
        call = source[source.index(f'glue("{name}", digits.says(') :]
        call = ast.parse(call[: call.index("))\n") + 2]).body[0].value
        variants = call.args[1].args
        assert len(variants) == 3, name
        assert all(isinstance(v, ast.Constant) and v.value for v in variants), name
        assert len({v.value for v in variants}) == 3, name
