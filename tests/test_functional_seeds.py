"""The functional page's residual verdicts: three seeds of each stack, decided digit by
digit with the paired protocol, not by one seed's final loss (issue #32)."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_each_stack_is_trained_from_three_seeds_derived_from_the_page_seed():
    source = (DOCS / "functional.md").read_text()
    match = re.search(r"^STACK_SEEDS = (\[.*\])", source, re.MULTILINE)
    assert match, "no STACK_SEEDS line on the page"
    seeds = eval(match.group(1), {"page": type("P", (), {"seed": 7})})
    assert len(set(seeds)) >= 3 and seeds[0] == 7
    assert "for seed in STACK_SEEDS]" in source


def test_residual_verdicts_come_from_the_paired_comparison():
    source = (DOCS / "functional.md").read_text()
    section = source[
        source.index("## Residual connections") : source.index("## One network")
    ]
    assert "checks.greater(" not in section
    for pair in (
        'losses["plain_42"], losses["plain_6"]',
        'losses["residual_42"], losses["plain_42"]',
    ):
        assert f"checks.compare({pair}" in section.replace("\n", "").replace("  ", "")
    # the prose glues each verdict's sentence, it types none
    for name in ("degradation_says", "shortcut_says"):
        assert f"{{glue:text}}`{name}`" in section
