import pytest

from dlbook.book import checks


def test_verdicts_when_claims_hold():
    assert checks.at_least(0.97, 0.9, "acc") == "0.97 ≥ 0.9"
    assert checks.at_most(0.1, 0.5, "mae") == "0.1 ≤ 0.5"
    assert checks.greater(0.8, 0.5, "a vs b") == "0.8 > 0.5"


@pytest.mark.parametrize(
    "call",
    [
        lambda: checks.at_least(0.5, 0.9, "test accuracy"),
        lambda: checks.at_most(0.9, 0.5, "test accuracy"),
        lambda: checks.greater(0.5, 0.5, "test accuracy"),
        lambda: checks.greater(0.6, 0.5, "test accuracy", margin=0.2),
        lambda: checks.at_least(float("nan"), 0.0, "test accuracy"),
    ],
)
def test_failed_claim_names_what_was_measured(call):
    with pytest.raises(checks.ClaimFailed, match="test accuracy"):
        call()


def test_non_number_is_rejected():
    with pytest.raises(TypeError, match="expected a number"):
        checks.at_least("high", 0.9, "accuracy")
