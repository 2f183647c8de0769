"""The Transformers page's own pieces around attention: padding masks, sinusoidal
positional encodings, the token-and-position embedding, a drawing of attention weights.

Used by ``docs/transformers.md`` and its encoder-decoder (:mod:`dlbook.seq2seq`) only.
The attention itself (:class:`dlbook.layers.MultiHeadAttention`, scaled dot-product
attention, causal masks) is in :mod:`dlbook.layers`, which the MiniLM port builds on
too. Masks follow the Keras convention: ``True`` means *may attend*.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from dlbook.base.validate import positive_int, static_shape


def head_size(d_model: int, heads: int) -> int:
    """The size of one head when ``heads`` heads share ``d_model`` features."""
    d_model, heads = positive_int("d_model", d_model), positive_int("heads", heads)
    if d_model % heads:
        raise ValueError(
            f"heads ({heads}) must divide d_model ({d_model}): each head gets "
            "d_model / heads features"
        )
    return d_model // heads


def padding_mask(ids, pad_id: int = 0):
    """``(batch, 1, length)`` booleans from token ids: ``True`` for every key that is
    not padding (broadcasts over the queries)."""
    shape = static_shape(ids)
    if ids is None or (shape is not None and len(shape) != 2):
        raise ValueError(f"ids must be token ids (batch, length), got shape {shape}")
    return ops.expand_dims(ops.not_equal(ids, pad_id), 1)


def positional_encoding(length: int, depth: int) -> np.ndarray:
    """Vaswani et al.'s sinusoids, float32 ``(length, depth)``: position ``p``, feature
    ``2i`` is ``sin(p / 10000^(2i/depth))``, feature ``2i+1`` the cosine of the same."""
    length, depth = positive_int("length", length), positive_int("depth", depth)
    if depth % 2:
        raise ValueError(f"depth must be even (sine and cosine pairs), got {depth}")
    positions = np.arange(length)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, depth, 2) / depth)
    encoding = np.zeros((length, depth))
    encoding[:, 0::2] = np.sin(positions * rates)
    encoding[:, 1::2] = np.cos(positions * rates)
    return encoding.astype(np.float32)


@keras.saving.register_keras_serializable(package="dlbook")
class TokenAndPosition(layers.Layer):
    """Token ids -> ``embedding * √d_model + positional_encoding``: what a Transformer
    reads. Id 0 is padding (it still gets an embedding; masks keep it out)."""

    def __init__(self, vocab_size: int, d_model: int, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.d_model = positive_int("d_model", d_model)
        self.max_length = positive_int("max_length", max_length)
        self.embedding = layers.Embedding(vocab_size, d_model, name="embedding")
        self.encoding = positional_encoding(max_length, d_model)

    def build(self, ids_shape):
        self.embedding.build(ids_shape)

    def call(self, ids):
        length = ids.shape[1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"sequences must be at most max_length={self.max_length} long, "
                f"got {length}"
            )
        places = ops.convert_to_tensor(self.encoding)[: ops.shape(ids)[1]]
        return self.embedding(ids) * math.sqrt(self.d_model) + places

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "max_length": self.max_length,
        }


def draw_attention(ax, weights, queries, keys, title: str = "") -> None:
    """Draw one head's attention weights ``(len(queries), len(keys))`` on ``ax``: a row
    per query token, a column per key token, darker where it attends more."""
    weights = np.asarray(weights)
    if weights.shape != (len(queries), len(keys)):
        raise ValueError(
            f"weights must have shape ({len(queries)}, {len(keys)}) for these "
            f"tokens, got {weights.shape}"
        )
    ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=90)
    ax.set_yticks(range(len(queries)), queries)
    ax.grid(False)
    if title:
        ax.set_title(title)
