"""dlbook.seq2seq and its data: the sums, the models, the leak test, a tiny training."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import seq2seq, training
from dlbook.data import generated


def test_addition_problems_are_seeded_sums_of_the_asked_sizes():
    a = generated.addition_problems(200, 1, 3, seed=4)
    b = generated.addition_problems(200, 1, 3, seed=4)
    assert list(a.x) == list(b.x) and list(a.y) == list(b.y)
    assert list(generated.addition_problems(200, 1, 3, seed=5).x) != list(a.x)
    for text, answer in zip(a.x, a.y, strict=True):
        left, right = text.split("+")
        assert int(left) + int(right) == int(answer)
        assert 1 <= len(left) <= 3 and 1 <= len(right) <= 3
    lengths = {len(t.split("+")[0]) for t in a.x}
    assert lengths == {1, 2, 3}
    four = generated.addition_problems(50, 4, 4, seed=0)
    assert all(len(part) == 4 for t in four.x for part in t.split("+"))
    with pytest.raises(ValueError, match="min_digits .3. must not exceed"):
        generated.addition_problems(5, 3, 2)


def test_encode_writes_teacher_forcing_arrays():
    inputs, out = seq2seq.encode(["12+9"], ["21"], 6, 4, reverse=False)
    ids = seq2seq.ID
    assert inputs["source"].tolist() == [[ids["1"], ids["2"], ids["+"], ids["9"], 0, 0]]
    assert inputs["target_in"].tolist() == [[seq2seq.START, ids["2"], ids["1"], 0]]
    assert out.tolist() == [[ids["2"], ids["1"], seq2seq.END, 0]]
    _, reversed_out = seq2seq.encode(["12+9"], ["21"], 6, 4)
    assert reversed_out.tolist() == [[ids["1"], ids["2"], seq2seq.END, 0]]
    assert seq2seq.decode_text(out[0]) == "21"
    assert seq2seq.decode_text([ids["2"], ids["1"]]) == "21?"
    with pytest.raises(ValueError, match="does not fit"):
        seq2seq.encode(["123+4"], ["127"], 4, 5)
    with pytest.raises(ValueError, match="outside"):
        seq2seq.encode(["1-2"], ["0"], 4, 4)
    with pytest.raises(ValueError, match="heads .3. must divide"):
        seq2seq.transformer(heads=3)


def _inputs(n=8, seed=0):
    data = generated.addition_problems(n, 1, 3, seed=seed)
    return seq2seq.encode(data.x, data.y, 9, 6)


def test_leak_test_passes_with_the_causal_mask_and_fails_without():
    training.reseed(0)
    inputs, _ = _inputs()
    real = seq2seq.leak(seq2seq.transformer(), inputs)
    broken = seq2seq.leak(seq2seq.transformer(causal=False), inputs)
    assert real.shape == broken.shape == (5,)
    assert real.max() <= 1e-6
    assert broken.min() > 1e-4
    assert seq2seq.leak(seq2seq.lstm(), inputs).max() <= 1e-6


def test_greedy_decoding_agrees_with_the_model_step_by_step():
    training.reseed(0)
    model = seq2seq.transformer()
    inputs, _ = _inputs(4)
    written = np.asarray(seq2seq.greedy_decoder(model, 6)(inputs["source"]))
    target_in = np.concatenate([np.full((4, 1), seq2seq.START), written[:, :-1]], 1)
    again = np.asarray(model({**inputs, "target_in": target_in}, training=False))
    np.testing.assert_array_equal(again.argmax(-1), written)


def test_attention_probe_gives_cross_attention_weights():
    training.reseed(0)
    model = seq2seq.transformer()
    inputs, _ = _inputs(3)
    weights = np.asarray(seq2seq.attention_probe(model)(inputs))
    assert weights.shape == (3, 2, 6, 9)
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-5)
    padding = inputs["source"] == 0
    assert np.all(
        weights.transpose(0, 2, 1, 3)[
            np.broadcast_to(padding[:, None, None], (3, 6, 2, 9))
        ]
        == 0
    )
    with pytest.raises(ValueError, match="one of the attention layers"):
        seq2seq.attention_probe(model, "decoder_5_cross")


def test_tiny_training_is_deterministic_and_learns(no_store):
    data = generated.addition_problems(256, 1, 1, seed=0)
    part = seq2seq.encode(data.x, data.y, 9, 6)
    runs = []
    for _ in range(2):
        training.reseed(0)
        model = seq2seq.transformer(d_model=16, heads=2, feed_forward=32)
        fitted = seq2seq.train(model, part, None, epochs=2, batch_size=64, seed=0)
        runs.append((fitted.history["loss"], model.get_weights()[0]))
        assert not fitted.restored
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0][-1] < runs[0][0][0]


def test_decoder_only_sees_no_future_with_the_mask_and_does_without():
    tokens = np.random.default_rng(0).integers(3, len(seq2seq.TOKENS), (8, 6))
    training.reseed(0)
    masked = seq2seq.future_influence(seq2seq.decoder_only(6), tokens)
    training.reseed(0)
    unmasked = seq2seq.future_influence(seq2seq.decoder_only(6, causal=False), tokens)
    above, on_or_below = np.triu_indices(6, k=1), np.tril_indices(6)
    assert masked.shape == (6, 6)
    assert masked[above].max() == 0.0
    assert masked[on_or_below].min() > 0.0
    assert unmasked[above].min() > 0.0


def test_warmup_schedule_rises_linearly_then_decays():
    lr = seq2seq.warmup_schedule(
        np.array([1, 2, 4000, 16000]), d_model=512, warmup=4000
    )
    assert lr[1] == pytest.approx(2 * lr[0])
    assert lr[2] == pytest.approx(512**-0.5 * 4000**-0.5)
    assert lr[3] == pytest.approx(lr[2] / 2)
