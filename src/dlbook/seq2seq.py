"""Sequence to sequence on written sums ("357+86" -> "443"): an encoder-decoder
Transformer built from :mod:`dlbook.layers` and :mod:`dlbook.attention`, an LSTM
encoder-decoder to compare, teacher-forced training through :func:`dlbook.training.fit`,
compiled greedy decoding, exact-match accuracy and the leak test of a decoder's mask.

Used by ``docs/transformers.md``; the sums come from
:func:`dlbook.data.generated.addition_problems`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from dlbook import training
from dlbook.attention import TokenAndPosition, head_size, padding_mask
from dlbook.base import validate
from dlbook.base.seeding import resolve_seed
from dlbook.base.validate import positive_int
from dlbook.layers import MultiHeadAttention, causal_mask

PAD, START, END = 0, 1, 2
TOKENS = ("<pad>", "<s>", "</s>", *"0123456789", "+")
ID = {token: i for i, token in enumerate(TOKENS)}


def _ids(text: str, what: str) -> list[int]:
    unknown = sorted(set(text) - set(ID))
    if unknown:
        raise ValueError(
            f"{what} {text!r} holds characters outside {TOKENS[3:]}: {unknown}"
        )
    return [ID[c] for c in text]


def encode(sources, targets, source_length: int, target_length: int, reverse=True):
    """Teacher-forcing arrays: ``({"source", "target_in"}, target_out)``, int32.
    ``source``: the characters, padded with 0 to ``source_length``; ``target_in``:
    ``<s>`` and the answer (what the decoder has read); ``target_out``: the answer and
    ``</s>`` (what it must write next), both padded to ``target_length``. ``reverse``:
    the answer is written units first ("443" as 3, 4, 4), the order in which a carry
    is known, as a person adds."""
    source_length = positive_int("source_length", source_length)
    target_length = positive_int("target_length", target_length)
    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
    n = len(sources)
    source = np.zeros((n, source_length), np.int32)
    target_in = np.zeros((n, target_length), np.int32)
    target_out = np.zeros((n, target_length), np.int32)
    for row, (text, answer) in enumerate(zip(sources, targets, strict=True)):
        ids, out = (
            _ids(text, "source"),
            _ids(answer[::-1] if reverse else answer, "target"),
        )
        if len(ids) > source_length or len(out) + 1 > target_length:
            raise ValueError(
                f"{text!r} -> {answer!r} does not fit source_length={source_length}, "
                f"target_length={target_length} (the answer needs one more for </s>)"
            )
        source[row, : len(ids)] = ids
        target_in[row, : len(out) + 1] = [START, *out]
        target_out[row, : len(out) + 1] = [*out, END]
    return {"source": source, "target_in": target_in}, target_out


def decode_text(tokens) -> str:
    """The answer a row of output tokens spells, up to ``</s>`` (``"?"`` appended when
    the row never ends, so that it cannot match)."""
    ids = np.asarray(tokens)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"tokens must be one row of token ids, got {tokens!r:.60}")
    if len(ids) and (ids.min() < 0 or ids.max() >= len(TOKENS)):
        raise ValueError(
            f"tokens must be ids in 0..{len(TOKENS) - 1}, got {tokens!r:.60}"
        )
    chars = []
    for token in np.asarray(tokens).tolist():
        if token == END:
            return "".join(chars)
        chars.append(TOKENS[token] if token > END else "?")
    return "".join(chars) + "?"


def _feed_forward(x, width: int, name: str):
    hidden = layers.Dense(width, activation="relu", name=name + "_hidden")(x)
    return layers.Dense(x.shape[-1], name=name + "_out")(hidden)


def _residual(x, y, dropout: float, name: str):
    y = layers.Dropout(dropout, name=name + "_dropout")(y)
    return layers.LayerNormalization(name=name + "_norm")(layers.Add()([x, y]))


def transformer(
    source_length: int = 9,
    target_length: int = 6,
    d_model: int = 64,
    heads: int = 2,
    blocks: int = 1,
    feed_forward: int = 128,
    dropout: float = 0.0,
    causal: bool = True,
    vocab_size: int = len(TOKENS),
) -> keras.Model:
    """Vaswani et al.'s encoder-decoder, small: ``blocks`` encoder blocks
    (self-attention, feed-forward; residuals and post-LayerNorm) and ``blocks`` decoder
    blocks (masked self-attention, cross-attention to the encoder, feed-forward), then a
    softmax over the tokens at each target position. Inputs ``source`` and
    ``target_in``, named. ``causal=False`` leaves the decoder's causal mask out: a
    broken model that reads the future, for the leak test. Decoder block ``i``'s
    cross-attention layer is ``decoder_{i}_cross`` (its weights: :func:`attention_probe`).
    """
    size = head_size(d_model, heads)
    blocks = positive_int("blocks", blocks)
    source = keras.Input((source_length,), dtype="int32", name="source")
    target_in = keras.Input((target_length,), dtype="int32", name="target_in")
    source_keys = padding_mask(source)  # (batch, 1, source_length)
    target_keys = padding_mask(target_in)
    if causal:
        target_keys = ops.logical_and(target_keys, causal_mask(target_length))
    x = TokenAndPosition(vocab_size, d_model, source_length, name="source_embedding")(
        source
    )
    for i in range(blocks):
        name = f"encoder_{i}"
        attended, _ = MultiHeadAttention(
            heads, size, dropout=dropout, name=name + "_self"
        )(x, x, attention_mask=source_keys, return_attention_scores=True)
        x = _residual(x, attended, dropout, name + "_self")
        x = _residual(x, _feed_forward(x, feed_forward, name), dropout, name + "_ff")
    memory = x
    y = TokenAndPosition(vocab_size, d_model, target_length, name="target_embedding")(
        target_in
    )
    for i in range(blocks):
        name = f"decoder_{i}"
        attended, _ = MultiHeadAttention(
            heads, size, dropout=dropout, name=name + "_self"
        )(y, y, attention_mask=target_keys, return_attention_scores=True)
        y = _residual(y, attended, dropout, name + "_self")
        attended, _ = MultiHeadAttention(
            heads, size, dropout=dropout, name=name + "_cross"
        )(y, memory, attention_mask=source_keys, return_attention_scores=True)
        y = _residual(y, attended, dropout, name + "_cross")
        y = _residual(y, _feed_forward(y, feed_forward, name), dropout, name + "_ff")
    probabilities = layers.Dense(vocab_size, activation="softmax", name="next_token")(y)
    name = "transformer" if causal else "transformer_without_causal_mask"
    return keras.Model(
        {"source": source, "target_in": target_in}, probabilities, name=name
    )


def lstm(
    source_length: int = 9,
    target_length: int = 6,
    units: int = 128,
    embedding: int = 64,
    vocab_size: int = len(TOKENS),
) -> keras.Model:
    """The recurrent encoder-decoder of Sutskever et al. (2014): an LSTM reads the
    source (padding skipped), its final state starts a decoder LSTM that reads
    ``target_in``; a softmax at each step. Same inputs and outputs as
    :func:`transformer`."""
    units, embedding = (
        positive_int("units", units),
        positive_int("embedding", embedding),
    )
    source = keras.Input((source_length,), dtype="int32", name="source")
    target_in = keras.Input((target_length,), dtype="int32", name="target_in")
    x = layers.Embedding(
        vocab_size, embedding, mask_zero=True, name="source_embedding"
    )(source)
    _, h, c = layers.LSTM(units, return_state=True, name="encoder")(x)
    y = layers.Embedding(vocab_size, embedding, name="target_embedding")(target_in)
    y = layers.LSTM(units, return_sequences=True, name="decoder")(
        y, initial_state=[h, c]
    )
    probabilities = layers.Dense(vocab_size, activation="softmax", name="next_token")(y)
    return keras.Model(
        {"source": source, "target_in": target_in}, probabilities, name="lstm"
    )


def train(
    model,
    train_part,
    val_part,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int | None = None,
):
    """Teacher forcing through the book's training core: ``(inputs, target_out)``
    pairs from :func:`encode`; Adam, cross-entropy at every target position (padding
    included: after ``</s>`` the answer is ``<pad>``), token accuracy."""
    validate.pair("train_part", train_part)
    if val_part is not None:
        validate.pair("val_part", val_part)
    return training.fit(
        model,
        train_part,
        val=val_part,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
    )


def greedy_decoder(model, target_length: int):
    """A compiled (``tf.function``) greedy decoder for ``model``: source ids ``(batch,
    source_length)`` -> output tokens ``(batch, target_length)``. Step ``t`` runs the
    model on what has been written so far and appends the likeliest token at ``t``;
    the whole loop is one graph, traced once per batch shape (quietly: see below)."""
    import tensorflow as tf

    target_length = positive_int("target_length", target_length)

    @tf.function(reduce_retracing=True)
    def decode(source):
        batch = tf.shape(source)[0]
        written = [tf.fill([batch], START)]
        blank = tf.zeros([batch], tf.int32)
        for t in range(target_length):
            target_in = tf.stack(written + [blank] * (target_length - len(written)), 1)
            probabilities = model(
                {"source": source, "target_in": target_in}, training=False
            )
            written.append(
                tf.argmax(probabilities[:, t], axis=-1, output_type=tf.int32)
            )
        return tf.stack(written[1:], axis=1)

    def quietly(source):
        # one graph per model is the design; TensorFlow's "frequent retracing" warning
        # counts the decoders of every model built so far and would print a count that
        # depends on what ran before (a page with its trainings restored prints another)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")
        try:
            return decode(source)
        finally:
            logger.setLevel(level)

    return quietly


def exact_match(
    decoder, sources, answers, source_length: int, batch_size: int = 500, reverse=True
):
    """The share of ``sources`` whose greedy decoding spells exactly the answer, and the
    decoded answers (read back in the usual order when the model writes them reversed,
    ``reverse=True``)."""
    batch_size = positive_int("batch_size", batch_size)
    if isinstance(answers, str) or isinstance(sources, str):
        raise TypeError("sources and answers must be lists of str, not one str")
    if not len(answers) or len(sources) != len(answers):
        raise ValueError(
            f"answers must hold one answer per source, got {len(sources)} sources and "
            f"{len(answers)} answers"
        )
    inputs, _ = encode(sources, answers, source_length, 1 + max(map(len, answers)))
    rows = [
        np.asarray(decoder(inputs["source"][i : i + batch_size]))
        for i in range(0, len(sources), batch_size)
    ]
    decoded = [decode_text(row) for row in np.concatenate(rows)]
    if reverse:
        decoded = [text[::-1] for text in decoded]
    hits = np.array([got == want for got, want in zip(decoded, answers, strict=True)])
    return float(hits.mean()), decoded


def leak(model, inputs: dict, seed: int | None = None) -> np.ndarray:
    """The leak test. For each target position ``p``: replace every ``target_in`` token
    after ``p`` by random tokens and measure how much the model's outputs at positions
    ``0..p`` move (max absolute change). A decoder that cannot see the future gives 0
    everywhere; one that can, gives more. Returns one value per position but the last."""
    seed = resolve_seed(seed)
    if not isinstance(inputs, dict) or {"source", "target_in"} - set(inputs):
        raise ValueError(
            "inputs must be a dict with 'source' and 'target_in', got "
            f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}"
        )
    target = validate.array("inputs['target_in']", inputs["target_in"], ndim=2)
    length = target.shape[1]
    generator = np.random.default_rng(seed)
    before = np.asarray(model(inputs, training=False))
    changes = []
    for p in range(length - 1):
        changed = target.copy()
        changed[:, p + 1 :] = generator.integers(
            1, len(TOKENS), changed[:, p + 1 :].shape
        )
        after = np.asarray(model({**inputs, "target_in": changed}, training=False))
        changes.append(float(np.abs(after[:, : p + 1] - before[:, : p + 1]).max()))
    return np.array(changes)


def attention_probe(model, layer: str = "decoder_0_cross") -> keras.Model:
    """A model with ``model``'s inputs that returns the attention weights ``(batch,
    heads, target_length, source_length)`` of its attention layer ``layer``."""
    names = [
        found.name for found in model.layers if isinstance(found, MultiHeadAttention)
    ]
    if layer not in names:
        raise ValueError(
            f"layer must be one of the attention layers {names}, got {layer!r}"
        )
    return keras.Model(model.input, model.get_layer(layer).output[1])


def decoder_only(
    length: int = 12,
    d_model: int = 64,
    heads: int = 2,
    blocks: int = 1,
    feed_forward: int = 128,
    causal: bool = True,
    vocab_size: int = len(TOKENS),
) -> keras.Model:
    """A GPT-style decoder-only Transformer, small: one sequence ``tokens`` in,
    ``blocks`` blocks of masked self-attention and feed-forward (residuals, post-
    LayerNorm, as :func:`transformer`), no encoder and no cross-attention, and a softmax
    over the next token at every position. ``causal=False`` drops the causal mask."""
    size = head_size(d_model, heads)
    blocks = positive_int("blocks", blocks)
    length = positive_int("length", length)
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    keys = padding_mask(tokens)
    if causal:
        keys = ops.logical_and(keys, causal_mask(length))
    x = TokenAndPosition(vocab_size, d_model, length, name="embedding")(tokens)
    for i in range(blocks):
        name = f"block_{i}"
        attended, _ = MultiHeadAttention(heads, size, name=name + "_self")(
            x, x, attention_mask=keys, return_attention_scores=True
        )
        x = _residual(x, attended, 0.0, name + "_self")
        x = _residual(x, _feed_forward(x, feed_forward, name), 0.0, name + "_ff")
    probabilities = layers.Dense(vocab_size, activation="softmax", name="next_token")(x)
    return keras.Model(tokens, probabilities, name="decoder_only" + "_causal" * causal)


def future_influence(model, tokens, seed: int | None = None) -> np.ndarray:
    """How far each output position moves when one input token changes: entry ``[i,
    j]`` is the largest absolute change of the outputs at position ``i`` when token
    ``j`` of every sequence in ``tokens`` is replaced by another (non-padding) token.
    A model that cannot see the future gives 0 above the diagonal (``j > i``)."""
    seed = resolve_seed(seed)
    tokens = validate.array("tokens", tokens, ndim=2).astype("int32")
    if tokens.size == 0 or tokens.min() < 0 or tokens.max() >= len(TOKENS):
        raise ValueError(f"tokens must be ids from 0 to {len(TOKENS) - 1}")
    generator = np.random.default_rng(seed)
    before = np.asarray(model(tokens, training=False))
    length = tokens.shape[1]
    influence = np.zeros((length, length))
    for j in range(length):
        changed = tokens.copy()
        shift = generator.integers(1, len(TOKENS) - START, len(tokens))
        changed[:, j] = START + (changed[:, j] - START + shift) % (len(TOKENS) - START)
        after = np.asarray(model(changed, training=False))
        influence[:, j] = np.abs(after - before).max(axis=(0, 2))
    return influence


def warmup_schedule(steps, d_model: int = 512, warmup: int = 4000) -> np.ndarray:
    """Vaswani et al.'s learning rate at each step (counted from 1): a linear rise for
    ``warmup`` steps, then a decay as ``1 / sqrt(step)``:
    ``d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)``."""
    steps = validate.array("steps", steps, ndim=(0, 1), finite=True).astype(float)
    if np.any(steps < 1):
        raise ValueError("steps must be counted from 1")
    d_model = positive_int("d_model", d_model)
    warmup = positive_int("warmup", warmup)
    return d_model**-0.5 * np.minimum(steps**-0.5, steps * warmup**-1.5)
