"""The CPU-sized choices of the text pages: what the page's prose says about them."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_bidirectional_gru_state_is_as_wide_as_the_gru():
    from keras import layers

    from dlbook import text

    both = text.text_classifier("bidirectional GRU", 50, 8, embed_dim=4, units=64)
    one = text.text_classifier("GRU", 50, 8, embed_dim=4, units=64)
    wrapped = next(x for x in both.layers if isinstance(x, layers.Bidirectional))
    gru = next(x for x in one.layers if isinstance(x, layers.GRU))
    assert wrapped.forward_layer.units == wrapped.backward_layer.units == 32
    assert (
        both.layers[-1].input.shape[-1] == one.layers[-1].input.shape[-1] == gru.units
    )


def test_text_generation_prose_agrees_with_its_seeds():
    source = (DOCS / "text_generation.md").read_text()
    match = re.search(r"^seeds = (\{.*\})", source, re.MULTILINE)
    assert match, "text_generation's seeds line"
    seeds = eval(match.group(1), {"page": type("P", (), {"seed": 7})})
    assert set(seeds) == {"LSTM", "GRU"}
    assert all(len(set(s)) == len(s) >= 1 for s in seeds.values()), seeds
    # the numbers the prose gives per network are glued with their seed count, never
    # typed ("two LSTMs", "means over its seeds")
    for cell in ("lstm", "gru"):
        assert f"{{glue:text}}`{cell}_seeds`" in source
    assert "means over its seeds" not in source
    assert not re.search(r"\b(one|two|three) (LSTM|GRU)s?\b seeds?", source)


def test_transfer_batchnorm_seeds_are_named_in_the_prose_by_glue():
    source = (DOCS / "transfer.md").read_text()
    assert re.search(r"bn_seeds = range\(page\.seed, page\.seed \+ \d+\)", source)
    assert "with {glue:text}`bn_seeds` seeds each" in source
    assert not re.search(r"\b(two|three|four|five|six) seeds each", source)
