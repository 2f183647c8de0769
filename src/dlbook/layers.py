"""Layers that chapters and the weight ports both build on: attention written out.

:class:`MultiHeadAttention` (with :func:`scaled_dot_product_attention`, its masks'
checks and :func:`causal_mask`) is what the Transformers page shows
(``docs/transformers.md``), what its encoder-decoder (:mod:`dlbook.seq2seq`) is made of,
and what the BERT blocks of :mod:`dlbook.pretrained.minilm` are built from: one layer
for a chapter and a weight port alike, so it lives here rather than in a chapter.
Masks follow the Keras convention: ``True`` means *may attend*.
:class:`MultiHeadAttention` keeps the weight layout of
``keras.layers.MultiHeadAttention`` (sublayers ``query``, ``key``, ``value`` and
``attention_output``, each with a ``kernel`` and a ``bias``), so weights move between
the two with ``set_weights``.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from dlbook.base.validate import positive_int, static_shape


def _static(shape) -> tuple:
    return tuple(None if d is None else int(d) for d in shape)


def check_mask(mask, query_length, key_length, name: str = "attention_mask") -> None:
    """A ``ValueError`` unless ``mask`` (an attention mask, the argument ``name``) has
    shape ``(batch, query_length, key_length)``, or ``1`` where it broadcasts."""
    shape = static_shape(mask)
    if shape is None:  # a tensor of unknown rank: nothing to check before it runs
        return
    wanted = f"(batch, {query_length}, {key_length}) or 1 where it broadcasts"
    if len(shape) != 3:
        raise ValueError(f"{name} must have 3 axes, {wanted}; got {shape}")
    for got, size in zip(shape[1:], (query_length, key_length), strict=True):
        if got is not None and size is not None and got not in (1, size):
            raise ValueError(f"{name} must have shape {wanted}; got {shape}")


def _check_heads(query, key, value) -> None:
    """Static shape checks of :func:`scaled_dot_product_attention`'s arguments: four
    axes each, one batch and one number of heads, the depth of ``query`` and ``key``
    alike, as many values as keys. Unknown (symbolic) sizes pass."""
    shapes = {}
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        shape = static_shape(tensor)
        shapes[name] = (None,) * 4 if shape is None else shape  # None: unknown rank
        if len(shapes[name]) != 4:
            raise ValueError(
                f"{name} must have shape (batch, length, heads, depth), got "
                f"{shapes[name]}"
            )
    q, k, v = shapes["query"], shapes["key"], shapes["value"]

    def differ(a, b):
        return a is not None and b is not None and a != b

    if q[-1] is None:
        raise ValueError(f"query must have a known depth (last axis), got {q}")
    if differ(q[-1], k[-1]):
        raise ValueError(f"query and key must have the same depth, got {q} and {k}")
    if differ(k[1], v[1]):
        raise ValueError(f"key and value must have the same length, got {k} and {v}")
    for axis, what in ((0, "batch"), (2, "number of heads")):
        if differ(q[axis], k[axis]) or differ(k[axis], v[axis]):
            raise ValueError(
                f"query, key and value must have the same {what}, got {q}, {k}, {v}"
            )


def scaled_dot_product_attention(query, key, value, mask=None):
    """``softmax(q kᵀ / √d) v`` for every head at once.

    ``query`` ``(batch, Tq, heads, d)``, ``key`` ``(batch, Tk, heads, d)``, ``value``
    ``(batch, Tk, heads, dv)``; ``mask`` ``(batch, Tq, Tk)`` booleans, ``True`` where a
    query may attend to a key. Returns the outputs ``(batch, Tq, heads, dv)`` and the
    attention weights ``(batch, heads, Tq, Tk)`` (each row sums to 1).
    """
    _check_heads(query, key, value)
    if mask is not None:
        check_mask(mask, query.shape[1], key.shape[1], name="mask")
    query = ops.multiply(query, 1.0 / math.sqrt(int(query.shape[-1])))
    scores = ops.einsum("bkhd,bqhd->bhqk", key, query)
    if mask is not None:
        blocked = 1.0 - ops.cast(ops.expand_dims(mask, 1), scores.dtype)
        scores = scores + blocked * -1e9  # exp(-1e9) is exactly 0 in float32
    weights = ops.softmax(scores, axis=-1)
    return ops.einsum("bhqk,bkhd->bqhd", weights, value), weights


def causal_mask(length: int):
    """``(1, length, length)`` booleans: position ``i`` may attend to ``0..i`` only."""
    length = positive_int("length", length)
    return ops.expand_dims(ops.tril(ops.ones((length, length), "bool")), 0)


@keras.saving.register_keras_serializable(package="dlbook")
class Projection(layers.Layer):
    """One einsum with a kernel and a bias: the per-head projections of
    :class:`MultiHeadAttention` (``"btd,dhk->bthk"``) and its output projection
    (``"bthk,hkd->btd"``)."""

    def __init__(self, equation: str, kernel_shape, bias_shape, **kwargs):
        super().__init__(**kwargs)
        self.equation = equation
        self.kernel_shape, self.bias_shape = tuple(kernel_shape), tuple(bias_shape)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_shape, initializer="glorot_uniform"
        )
        self.bias = self.add_weight(
            name="bias", shape=self.bias_shape, initializer="zeros"
        )

    def call(self, x):
        return ops.einsum(self.equation, x, self.kernel) + self.bias

    def get_config(self):
        return {
            **super().get_config(),
            "equation": self.equation,
            "kernel_shape": self.kernel_shape,
            "bias_shape": self.bias_shape,
        }


@keras.saving.register_keras_serializable(package="dlbook")
class MultiHeadAttention(layers.Layer):
    """Multi-head attention: project query, key and value into ``num_heads`` heads,
    run :func:`scaled_dot_product_attention` in each, project the joined heads back.

    Called like ``keras.layers.MultiHeadAttention``: ``layer(query, value, key=None,
    attention_mask=None, return_attention_scores=False, use_causal_mask=False)``;
    ``key`` defaults to ``value``, ``attention_mask`` is ``(batch, Tq, Tk)`` booleans
    (``True`` = may attend) or broadcasts to it. Same weights, same variable paths
    (``<layer>/query/kernel`` ...), same outputs; Keras' implicit masks (from
    ``mask_zero`` embeddings) are not read: pass masks explicitly.
    ``dropout`` drops attention weights while training.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        output_dim: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = positive_int("num_heads", num_heads)
        self.key_dim = positive_int("key_dim", key_dim)
        self.value_dim = positive_int("value_dim", value_dim or key_dim)
        self.output_dim = (
            None if output_dim is None else positive_int("output_dim", output_dim)
        )
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.dropout_layer = layers.Dropout(self.dropout)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        shapes = {"query": query_shape, "value": value_shape, "key": key_shape}
        for name, shape in shapes.items():
            if len(shape) != 3:
                raise ValueError(
                    f"{name} must have shape (batch, length, features), got "
                    f"{_static(shape)}"
                )
        if (
            None not in (key_shape[1], value_shape[1])
            and key_shape[1] != value_shape[1]
        ):
            raise ValueError(
                f"key and value must have the same length: key {_static(key_shape)}, "
                f"value {_static(value_shape)}"
            )
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self.output_dim or int(query_shape[-1])
        self.query = Projection(
            "btd,dhk->bthk", (query_shape[-1], heads, kd), (heads, kd), name="query"
        )
        self.key = Projection(
            "btd,dhk->bthk", (key_shape[-1], heads, kd), (heads, kd), name="key"
        )
        self.value = Projection(
            "btd,dhk->bthk", (value_shape[-1], heads, vd), (heads, vd), name="value"
        )
        self.attention_output = Projection(
            "bthk,hkd->btd", (heads, vd, out), (out,), name="attention_output"
        )
        self.query.build(query_shape)
        self.key.build(key_shape)
        self.value.build(value_shape)
        self.attention_output.build((None, None, heads, vd))
        self.built_features = {n: int(s[-1]) for n, s in shapes.items()}

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        key = value if key is None else key
        for name, tensor in (("query", query), ("value", value), ("key", key)):
            features = tensor.shape[-1]
            if features is not None and features != self.built_features[name]:
                raise ValueError(
                    f"{name} must have {self.built_features[name]} features (the "
                    f"layer was built for that), got {features}"
                )
        if (
            None not in (key.shape[1], value.shape[1])
            and key.shape[1] != value.shape[1]
        ):
            raise ValueError(
                f"key and value must have the same length, got {key.shape[1]} "
                f"and {value.shape[1]}"
            )
        mask = attention_mask
        if mask is not None:
            check_mask(mask, query.shape[1], key.shape[1])
            mask = ops.cast(mask, "bool")
        if use_causal_mask:
            if query.shape[1] is None or query.shape[1] != key.shape[1]:
                raise ValueError(
                    "use_causal_mask needs query and key of one known length, got "
                    f"{query.shape[1]} and {key.shape[1]}"
                )
            causal = causal_mask(int(query.shape[1]))
            mask = causal if mask is None else ops.logical_and(mask, causal)
        q, k, v = self.query(query), self.key(key), self.value(value)
        heads, weights = _attend(q, k, v, mask, self.dropout_layer, training)
        output = self.attention_output(heads)
        return (output, weights) if return_attention_scores else output

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "output_dim": self.output_dim,
        }


def _attend(q, k, v, mask, dropout_layer, training):
    """:func:`scaled_dot_product_attention`, with dropout on the weights that are
    applied (the weights returned are the ones before dropout, as in Keras)."""
    if dropout_layer.rate == 0:
        return scaled_dot_product_attention(q, k, v, mask)
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    dropped = dropout_layer(weights, training=training)
    return ops.einsum("bhqk,bkhd->bqhd", dropped, v), weights
