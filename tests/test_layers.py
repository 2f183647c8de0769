"""dlbook.layers: scaled dot-product attention, the causal mask, and a multi-head
attention layer equal to Keras' (also inside the MiniLM port)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlbook import attention, layers


def test_causal_mask_lets_each_position_see_only_itself_and_the_past():
    mask = np.asarray(layers.causal_mask(4))
    assert mask.shape == (1, 4, 4) and mask.dtype == bool
    np.testing.assert_array_equal(mask[0], np.tril(np.ones((4, 4), bool)))
    with pytest.raises(ValueError, match="length"):
        layers.causal_mask(0)


def test_scaled_dot_product_attention_rows_sum_to_one_and_respect_the_mask():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, n, 3, 4)).astype("float32") for n in (5, 6, 6))
    mask = rng.random((2, 5, 6)) > 0.4
    mask[:, :, 0] = True
    out, weights = layers.scaled_dot_product_attention(q, k, v, mask)
    weights = np.asarray(weights)
    assert out.shape == (2, 5, 3, 4) and weights.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)
    assert np.all(weights[np.broadcast_to(~mask[:, None], weights.shape)] == 0)
    # the same as the formula written with NumPy
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / 2.0
    scores = np.where(mask[:, None], scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(
        out, np.einsum("bhqk,bkhd->bqhd", expected, v), atol=1e-5
    )


def _pair(heads=2, key_dim=4, value_dim=None, features=(8, 6, 6)):
    rng = np.random.default_rng(1)
    q = rng.normal(size=(3, 5, features[0])).astype("float32")
    v = rng.normal(size=(3, 7, features[1])).astype("float32")
    k = rng.normal(size=(3, 7, features[2])).astype("float32")
    theirs = keras.layers.MultiHeadAttention(heads, key_dim, value_dim, name="keras")
    ours = layers.MultiHeadAttention(heads, key_dim, value_dim, name="ours")
    theirs(q, v, k)
    ours(q, v, k)
    ours.set_weights(theirs.get_weights())
    return theirs, ours, (q, v, k)


@pytest.mark.parametrize("value_dim", [None, 3])
def test_same_weights_same_outputs_and_scores_as_keras(value_dim):
    theirs, ours, (q, v, k) = _pair(value_dim=value_dim)
    assert [w.path.replace("ours", "keras") for w in ours.weights] == [
        w.path for w in theirs.weights
    ]
    assert ours.weights[0].path == "ours/query/kernel"
    assert [tuple(w.shape) for w in ours.weights] == [
        tuple(w.shape) for w in theirs.weights
    ]
    mask = np.random.default_rng(2).random((3, 5, 7)) > 0.3
    for kwargs in ({}, {"attention_mask": mask}):
        a, sa = theirs(q, v, k, return_attention_scores=True, **kwargs)
        b, sb = ours(q, v, k, return_attention_scores=True, **kwargs)
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-5)
        np.testing.assert_allclose(np.asarray(sb), np.asarray(sa), atol=1e-6)
        np.testing.assert_allclose(
            np.asarray(ours(q, v, k, **kwargs)), np.asarray(a), atol=1e-5
        )


def test_causal_self_attention_matches_keras():
    theirs, ours, (q, _, _) = _pair(features=(8, 8, 8))
    a = theirs(q, q, use_causal_mask=True, return_attention_scores=True)
    b = ours(q, q, use_causal_mask=True, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(b[0]), np.asarray(a[0]), atol=1e-5)
    weights = np.asarray(b[1])
    assert np.all(np.triu(weights[0, 0], 1) == 0)


def test_a_functional_model_returns_outputs_and_scores():
    x = keras.Input((5, 8))
    out, scores = layers.MultiHeadAttention(2, 4, name="probe")(
        x, x, return_attention_scores=True
    )
    model = keras.Model(x, [out, scores])
    assert model.output_shape == [(None, 5, 8), (None, 2, 5, 5)]


def test_bad_arguments_are_rejected_clearly():
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="dropout"):
        layers.MultiHeadAttention(2, 4, dropout=1.0)
    layer = layers.MultiHeadAttention(2, 4)
    q, v = np.zeros((2, 5, 8), "float32"), np.zeros((2, 6, 8), "float32")
    with pytest.raises(ValueError, match="key and value must have the same length"):
        layer(q, v, np.zeros((2, 7, 8), "float32"))
    _, ours, (q, v, k) = _pair()
    with pytest.raises(
        ValueError, match=r"attention_mask must have shape \(batch, 5, 7\)"
    ):
        ours(q, v, k, attention_mask=np.ones((3, 7, 5), bool))
    with pytest.raises(ValueError, match="attention_mask must have 3 axes"):
        ours(q, v, k, attention_mask=np.ones((5, 7), bool))
    with pytest.raises(ValueError, match="value must have 6 features"):
        ours(q, np.zeros((3, 7, 9), "float32"), k)
    with pytest.raises(ValueError, match="use_causal_mask needs"):
        ours(q, v, k, use_causal_mask=True)


def test_broadcast_padding_mask_equals_the_full_mask():
    _, ours, (q, v, k) = _pair()
    ids = np.array([[1, 2, 3, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0], [4] * 7])
    short = attention.padding_mask(ids)
    full = np.broadcast_to(np.asarray(short), (3, 5, 7))
    np.testing.assert_allclose(
        np.asarray(ours(q, v, k, attention_mask=short)),
        np.asarray(ours(q, v, k, attention_mask=full)),
        atol=1e-6,
    )


def test_minilm_built_from_this_layer_loads_keras_shaped_weights():
    from dlbook.pretrained import minilm

    config = minilm.BertConfig(
        vocab_size=12,
        hidden=8,
        layers=1,
        heads=2,
        intermediate=16,
        max_positions=10,
        layer_norm_epsilon=1e-12,
    )
    ours = minilm.build_encoder(6, config)
    theirs = minilm.build_encoder(
        6, config, attention_layer=keras.layers.MultiHeadAttention
    )
    layer = ours.get_layer("minilm_layer_0_attention")
    assert isinstance(layer, layers.MultiHeadAttention)
    assert [w.path for w in layer.weights] == [
        w.path for w in theirs.get_layer("minilm_layer_0_attention").weights
    ]
    theirs.set_weights(ours.get_weights())
    ids = np.array([[2, 5, 6, 3, 0, 0], [2, 7, 8, 9, 10, 3]], np.int32)
    np.testing.assert_allclose(
        np.asarray(ours(ids, training=False)),
        np.asarray(theirs(ids, training=False)),
        atol=1e-5,
    )
