import numpy as np
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


# --- the comparison protocol ------------------------------------------------------------


def right_wrong(n_right, n, offset=0):
    """n items, the ``n_right`` from ``offset`` on right."""
    scores = np.zeros(n)
    scores[offset : offset + n_right] = 1
    return scores


def test_an_exact_tie_cannot_tell():
    a = right_wrong(900, 1000)
    result = checks.compare(a, a.copy(), names=("A", "B"))
    assert result.verdict == checks.CANNOT_TELL and result.winner is None
    assert result.p_value == 1.0 and result.interval == (0.0, 0.0)
    assert result.says("A wins", "B wins", "a tie") == "a tie"


def test_equal_accuracy_on_different_items_cannot_tell():
    a, b = right_wrong(900, 1000), right_wrong(900, 1000, offset=50)
    result = checks.compare(a, b)
    assert result.verdict == checks.CANNOT_TELL and result.test == "McNemar"
    assert result.p_value == 1.0


def test_a_clear_difference_names_the_better_either_way_round():
    a, b = right_wrong(950, 1000), right_wrong(850, 1000)
    assert checks.compare(a, b, names=("caps", "conv")).verdict == "caps"
    flipped = checks.compare(b, a, names=("caps", "conv"))
    assert flipped.verdict == "conv" and flipped.says("x", "y", "z") == "y"
    assert flipped.difference == pytest.approx(-0.1)


def test_a_small_gap_on_few_items_cannot_tell():
    # 0.0163 vs 0.0163-like readings: one item apart out of 600
    a, b = right_wrong(500, 600), right_wrong(499, 600)
    assert checks.compare(a, b).verdict == checks.CANNOT_TELL


def test_mcnemar_exact_p_values():
    # 10 discordant items all for A: p = 2 / 2**10
    a = np.r_[np.ones(10), np.ones(90)]
    b = np.r_[np.zeros(10), np.ones(90)]
    assert checks.mcnemar_p(a, b) == pytest.approx(2 / 2**10)
    assert checks.mcnemar_p(b, a) == pytest.approx(2 / 2**10)
    assert checks.mcnemar_p(a, a) == 1.0


def test_lower_is_better_for_errors():
    rng = np.random.default_rng(0)
    small, large = rng.normal(1.0, 0.1, 500), rng.normal(1.3, 0.1, 500)
    result = checks.compare(small, large, names=("s", "l"), higher_is_better=False)
    assert result.verdict == "s" and result.test == "paired bootstrap"
    assert result.difference > 0  # in the direction where larger is better


def test_seeds_widen_the_interval_and_a_seed_dependent_gap_cannot_tell():
    rng = np.random.default_rng(1)
    base = (rng.random(2000) < 0.9).astype(float)
    # method A: one lucky seed far ahead, two level: the spread over seeds decides
    a = np.stack([base, base, np.maximum(base, rng.random(2000) < 0.5)])
    b = np.stack([base, base, base])
    one_seed = checks.compare(a[2], b[2])
    three = checks.compare(a, b)
    assert one_seed.verdict == "A"
    assert three.seeds == (3, 3)
    assert (
        three.interval[1] - three.interval[0]
        > one_seed.interval[1] - one_seed.interval[0]
    )
    # two of three seeds level: Welch's t over the seeds cannot reject
    assert three.verdict == checks.CANNOT_TELL
    assert "Welch" in three.test and three.p_value > 0.05


def test_a_gap_every_seed_shows_is_named_and_one_the_seeds_disagree_on_is_not():
    rng = np.random.default_rng(2)
    base = (rng.random(3000) < 0.8).astype(float)

    def better(share):
        # right where base is right, plus a share of base's errors
        return np.maximum(base, rng.random(3000) < share)

    steady = checks.compare(
        np.stack([better(0.5) for _ in range(3)]),
        np.stack([better(0.05) for _ in range(3)]),
    )
    assert steady.verdict == "A" and "Welch" in steady.test
    # A ahead on every seed, but by 2 points on two seeds and by 18 on the third: the
    # bootstrap (against one seed of B) names A, Welch's t over the seeds cannot
    spread_a = np.stack([better(s) for s in (0.1, 0.2, 0.9)])
    b = np.stack([better(0.05) for _ in range(3)])
    assert checks.compare(spread_a, b[:1]).verdict == "A"
    spread = checks.compare(spread_a, b)
    assert spread.difference > 0.05
    assert spread.verdict == checks.CANNOT_TELL


def test_welch_over_seeds_on_constructed_means():
    # identical seeds on each side: no seed doubt; a tie is a tie
    assert checks.welch_over_seeds([0.9, 0.9], [0.8, 0.8])[0] == 0.0
    assert checks.welch_over_seeds([0.9, 0.9], [0.9, 0.9]) == (1.0, 0.0, 0.0)
    p, low, high = checks.welch_over_seeds([0.90, 0.92, 0.94], [0.80, 0.82, 0.84])
    assert p < 0.01 and 0 < low < 0.1 < high
    p, low, high = checks.welch_over_seeds([0.70, 0.90, 0.95], [0.80, 0.82, 0.84])
    assert p > 0.05 and low < 0 < high
    with pytest.raises(ValueError, match="two or more seeds"):
        checks.welch_over_seeds([0.9], [0.8, 0.7])


def test_the_same_scores_always_give_the_same_comparison():
    a, b = right_wrong(880, 1000), right_wrong(850, 1000, offset=10)
    assert checks.compare(a, b) == checks.compare(a, b)


def test_comparisons_refuse_different_items_and_nan():
    with pytest.raises(ValueError, match="same items"):
        checks.compare(np.ones(10), np.ones(11))
    with pytest.raises(checks.ClaimFailed, match="NaN"):
        checks.compare(np.r_[np.nan, 1.0], np.ones(2))
    with pytest.raises(ValueError, match="two different names"):
        checks.compare(np.ones(3), np.ones(3), names=("a", "a"))


def test_selection_reads_validation_only_and_breaks_ties_in_order():
    assert checks.select({"gru": 0.2, "conv": 0.1}, higher_is_better=False) == "conv"
    assert checks.select({"a": 0.5, "b": 0.5}) == "a"
    with pytest.raises(ValueError, match="at least one"):
        checks.select({})


def test_every_check_lands_in_the_claims_ledger():
    start = len(checks.CLAIMS)
    checks.at_least(0.97, 0.9, "acc")
    with pytest.raises(checks.ClaimFailed):
        checks.at_most(0.9, 0.5, "mae")
    checks.compare(right_wrong(950, 1000), right_wrong(850, 1000), names=("p", "q"))
    claims = checks.CLAIMS[start:]
    assert [c["verdict"] for c in claims] == ["holds", "fails", "p"]
    assert claims[0]["margin"] == pytest.approx(0.07)
    assert claims[2]["claim"] == "p vs q" and claims[2]["margin"] > 0
    # a comparison's p-value lands beside it (how near the verdict sat to the
    # other side); a bound check has none
    assert claims[2]["p"] == pytest.approx(
        checks.mcnemar_p(right_wrong(950, 1000) == 1, right_wrong(850, 1000) == 1)
    )
    assert "p" not in claims[0]


def test_a_block_bootstrap_widens_the_interval_of_autocorrelated_errors():
    rng = np.random.default_rng(2)
    drift = np.repeat(rng.normal(0, 1, 20), 25)  # errors that run together in time
    a, b = drift + rng.normal(0, 0.1, 500), rng.normal(0, 0.1, 500)
    single = checks.compare(a, b, higher_is_better=False)
    blocks = checks.compare(a, b, higher_is_better=False, block=25)
    assert blocks.test == "paired block bootstrap (25)"
    width = lambda c: c.interval[1] - c.interval[0]  # noqa: E731
    assert width(blocks) > 1.5 * width(single)
    with pytest.raises(ValueError, match="block"):
        checks.compare(a, b, block=0)


def test_a_comparison_can_name_its_claim(monkeypatch):
    monkeypatch.setattr(checks, "CLAIMS", [])
    a, b = np.ones(50), np.zeros(50)
    checks.compare(a, b, names=("A", "B"))
    checks.compare(a, b, names=("A", "B"), claim="A vs B, shifted items")
    assert [row["claim"] for row in checks.CLAIMS] == [
        "A vs B",
        "A vs B, shifted items",
    ]
