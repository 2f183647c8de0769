"""Character-level text generation: a recurrent network that predicts the next character.

The pieces of docs/text_generation.md: a vocabulary of characters, a positional
train/validation split, next-character windows, the character LSTM (and its GRU
variant), a training routine that samples text between stages, temperature sampling
with a compiled step, a count-based n-gram baseline, and two measures of generated
text (real words, repeated word n-grams).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Self

import numpy as np

from dlbook import training
from dlbook.base.seeding import resolve_seed, rng
from dlbook.base.validate import positive_int
from dlbook.data.corpora import tokenize

CELLS = ("LSTM", "GRU")


def check_temperature(temperature: object, name: str = "temperature") -> float:
    """``temperature`` as a float if it is a positive finite number, else ``ValueError``."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float | np.integer | np.floating)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(f"{name} must be a positive number, got {temperature!r}")
    return float(temperature)


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{name} must be a non-empty str, got {text!r:.60}")
    return text


@dataclass(frozen=True)
class Vocabulary:
    """The characters a model reads and writes; character ``chars[i]`` has id ``i``."""

    chars: str

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s characters (``ValueError`` for one not in the set)."""
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(_check_text(text)) - set(index))
        if unknown:
            raise ValueError(f"text holds characters outside the vocabulary: {unknown}")
        return np.array([index[c] for c in text], dtype=np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).ravel())


def vocabulary(text: str) -> Vocabulary:
    """The sorted set of characters of ``text``. Built from the whole corpus: the
    alphabet is known in advance, and no model should meet an id it cannot write."""
    return Vocabulary("".join(sorted(set(_check_text(text)))))


def split_by_position(text: str, val_share: float = 0.1) -> tuple[str, str]:
    """The text cut in two at one position: the first ``1 - val_share`` to train on,
    the rest to validate on. Random lines would put the neighbours of a validation
    line (its scene, its speakers, often the same words) into training."""
    text = _check_text(text)
    if (
        isinstance(val_share, bool)
        or not isinstance(val_share, float)
        or not 0 < val_share < 1
    ):
        raise ValueError(
            f"val_share must be a float between 0 and 1, got {val_share!r}"
        )
    cut = int(round(len(text) * (1 - val_share)))
    if cut < 1 or cut >= len(text):
        raise ValueError(f"a text of {len(text)} characters is too short to split")
    return text[:cut], text[cut:]


def next_char_windows(ids, length: int, stride: int | None = None):
    """Training pairs from a stream of character ids, sequence to sequence.

    Window ``i`` starts at ``i * stride`` (default ``length``: no overlap); its input is
    ``length`` ids and its target the same ids shifted by one, so every position is a
    next-character prediction and each character of the stream is a target once. The
    one-target-per-window alternative (predict the character after 40) costs a full
    window of recurrent steps per target. Returns ``(x, y)``, both ``(windows, length)``.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"ids must be a 1-D array of integer ids, got {ids.dtype} {ids.shape}"
        )
    length = positive_int("length", length)
    stride = length if stride is None else positive_int("stride", stride)
    starts = np.arange(0, len(ids) - length, stride)
    if len(starts) == 0:
        raise ValueError(f"{len(ids)} ids are too few for one window of {length} + 1")
    take = starts[:, None] + np.arange(length + 1)[None, :]
    windows = ids[take].astype(np.int32)
    return windows[:, :-1], windows[:, 1:]


def char_model(
    vocab_size: int, cell: str = "LSTM", units: int = 128, embedding: int = 32
):
    """Embedding, one recurrent layer returning every step, and a dense layer giving
    the logits of the next character at each position. ``cell``: ``"LSTM"`` or
    ``"GRU"``. The layers are named so that :class:`Sampler` can step through them."""
    import keras

    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    vocab_size = positive_int("vocab_size", vocab_size)
    recurrent = getattr(keras.layers, cell)(
        positive_int("units", units), return_sequences=True, name="recurrent"
    )
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(
                vocab_size, positive_int("embedding", embedding), name="embedding"
            ),
            recurrent,
            keras.layers.Dense(vocab_size, name="logits"),
        ],
        name=f"char_{cell.lower()}",
    )


def char_loss():
    """Cross-entropy of the next character from logits, in nats per character."""
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def temperature_probabilities(logits, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` along the last axis. Below 1 it sharpens the
    distribution towards the most likely character (the argmax as it tends to 0), above
    1 it flattens it towards uniform."""
    temperature = check_temperature(temperature)
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


class Sampler:
    """Generate text from a :func:`char_model`, one character per compiled step.

    The recurrent layer's cell is called directly with an explicit state, inside a
    ``tf.function``: each step costs one small graph call instead of a
    ``model.predict`` over the whole text so far. Each row of a batch has its own
    temperature; the random draws are uniforms from ``dlbook.base.seeding.rng(seed)``,
    turned into a character by the inverse of the cumulative distribution.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.embedding = model.get_layer("embedding")
        self.cell = model.get_layer("recurrent").cell
        self.logits = model.get_layer("logits")
        sizes = self.cell.state_size
        self.state_sizes = list(sizes) if isinstance(sizes, list | tuple) else [sizes]
        self.step = tf.function(self._step)

    def _step(self, ids, states, inverse_temperature, uniform):
        import tensorflow as tf

        out, states = self.cell(self.embedding(ids), states, training=False)
        scaled = self.logits(out) * inverse_temperature[:, None]
        cumulative = tf.cumsum(tf.nn.softmax(scaled, axis=-1), axis=-1)
        below = cumulative < uniform[:, None] * cumulative[:, -1:]
        chosen = tf.reduce_sum(tf.cast(below, tf.int32), axis=-1)
        return tf.minimum(chosen, tf.shape(scaled)[-1] - 1), list(states)

    def generate(
        self, prompt_ids, temperatures, length: int, seed: int | None = None
    ) -> np.ndarray:
        """``length`` ids after ``prompt_ids`` for each of ``temperatures`` (one row
        each), as a ``(len(temperatures), length)`` array."""
        seed = resolve_seed(seed)
        import tensorflow as tf

        prompt = np.asarray(prompt_ids, dtype=np.int32)
        if prompt.ndim != 1 or len(prompt) == 0:
            raise ValueError(
                f"prompt_ids must be a non-empty 1-D array, got {prompt.shape}"
            )
        if (
            isinstance(temperatures, str)
            or not hasattr(temperatures, "__len__")
            or not len(temperatures)
        ):
            raise ValueError(
                f"temperatures must be a non-empty sequence, got {temperatures!r}"
            )
        inverse = tf.constant(
            [1 / check_temperature(t, "temperatures") for t in temperatures], tf.float32
        )
        length, rows = positive_int("length", length), len(temperatures)
        uniforms = rng(seed).random((len(prompt) + length, rows)).astype(np.float32)
        states = [tf.zeros((rows, size)) for size in self.state_sizes]
        ids = tf.fill((rows,), prompt[0])
        written = []
        for t in range(len(prompt) - 1 + length):
            chosen, states = self.step(ids, states, inverse, tf.constant(uniforms[t]))
            if t + 1 < len(prompt):  # still reading the prompt: its next character
                ids = tf.fill((rows,), prompt[t + 1])
            else:
                ids = chosen
                written.append(chosen.numpy())
        return np.stack(written, axis=1)


def generate(
    model,
    vocab: Vocabulary,
    prompt: str,
    temperatures,
    length: int,
    seed: int | None = None,
) -> dict:
    """Text written by ``model`` after ``prompt``, one sample per temperature:
    ``{temperature: text}``."""
    seed = resolve_seed(seed)
    prompt = vocab.encode(_check_text(prompt, "prompt"))
    ids = Sampler(model).generate(prompt, temperatures, length, seed)
    return {
        float(t): vocab.decode(row) for t, row in zip(temperatures, ids, strict=True)
    }


def samples_by_temperature(
    model,
    vocab: Vocabulary,
    prompt: str,
    temperatures,
    length: int,
    per_temperature: int,
    seed: int | None = None,
) -> dict:
    """``per_temperature`` texts of ``length`` characters after ``prompt`` at each
    temperature, written in one batch: ``{temperature: [text, ...]}``."""
    seed = resolve_seed(seed)
    count = positive_int("per_temperature", per_temperature)
    _check_text(prompt, "prompt")
    rows = [float(t) for t in temperatures for _ in range(count)]
    ids = Sampler(model).generate(vocab.encode(prompt), rows, length, seed)
    texts = [vocab.decode(row) for row in ids]
    return {
        float(t): texts[i * count : (i + 1) * count] for i, t in enumerate(temperatures)
    }


def stage_rates(learning_rate, stages: int) -> list[float]:
    """One learning rate per stage: ``learning_rate`` repeated if it is one number,
    else its values (one per stage, each positive)."""
    many = isinstance(learning_rate, list | tuple)
    rates = list(learning_rate) if many else [learning_rate] * stages
    if len(rates) != stages or not all(
        isinstance(r, int | float)
        and not isinstance(r, bool)
        and math.isfinite(r)
        and r > 0
        for r in rates
    ):
        raise ValueError(
            f"learning_rate must be a positive number or {stages} of them (one per "
            f"stage), got {learning_rate!r}"
        )
    return [float(r) for r in rates]


def staged_training(
    model,
    seed,
    train,
    val,
    stages,
    batch_size,
    learning_rate,
    clipnorm,
    chars,
    prompt,
    temperatures,
    length,
):
    """A :func:`dlbook.training.run` routine: Adam with gradient clipping, trained
    with the core's Keras ``fit`` up to each epoch count of ``stages`` in turn, and
    after each stage text sampled at each temperature. ``learning_rate``: one rate, or
    one per stage (e.g. lowered for the last). Records the loss curves (nats per
    character) and the samples ``{stage epochs: {temperature: text}}``."""
    if not stages or list(stages) != sorted(set(stages)) or stages[0] < 1:
        raise ValueError(f"stages must be increasing epoch counts, got {stages!r}")
    rates = stage_rates(learning_rate, len(stages))
    # the first stage compiles; the later ones keep that optimizer and its state
    compiling = {"loss": char_loss(), "learning_rate": rates[0], "clipnorm": clipnorm}
    history, samples, done = {}, {}, 0
    for stage, rate in zip(stages, rates, strict=True):
        if compiling is None:
            model.optimizer.learning_rate.assign(rate)
        fitted = training.core.keras_fit(
            model,
            seed,
            train,
            val,
            compiling,
            epochs=stage - done,
            batch_size=batch_size,
            shuffle=True,
            patience=None,
            monitor="val_loss",
            evaluate=None,
        )
        compiling = None
        for name, values in fitted["history"].items():
            history.setdefault(name, []).extend(values)
        texts = generate(
            model, Vocabulary(chars), prompt, temperatures, length, seed=seed + stage
        )
        samples[str(stage)] = {str(t): text for t, text in texts.items()}
        done = stage
    return {"history": history, "samples": samples}


def train_char_model(
    model,
    train,
    val,
    vocab: Vocabulary,
    prompt: str,
    stages=(1, 2, 4),
    temperatures=(0.2, 0.5, 1.0),
    length: int = 250,
    batch_size: int = 32,
    learning_rate: float = 1e-2,
    clipnorm: float = 1.0,
    seed: int | None = None,
):
    """Train a :func:`char_model` on ``train = (x, y)`` windows through the book's
    store (:func:`staged_training`), validating each epoch on ``val``;
    ``learning_rate`` is one rate or one per stage. Returns the
    routine's record, ``history`` and ``samples`` by stage and temperature, with the
    training's ``seconds`` (its original time when restored from the store)."""
    stages = [positive_int("stages", s) for s in stages]
    if not stages or stages != sorted(set(stages)):
        raise ValueError(f"stages must be increasing epoch counts, got {stages!r}")
    for t in temperatures:
        check_temperature(t, "temperatures")
    result = training.run(
        staged_training,
        model,
        seed=seed,
        train=tuple(train),
        val=tuple(val),
        stages=stages,
        batch_size=positive_int("batch_size", batch_size),
        learning_rate=stage_rates(learning_rate, len(stages)),
        clipnorm=clipnorm,
        chars=vocab.chars,
        prompt=_check_text(prompt, "prompt"),
        temperatures=[float(t) for t in temperatures],
        length=positive_int("length", length),
    )
    return {**result.record, "seconds": result.seconds}


def nats_with_context(model, ids, length: int, per_char: bool = False):
    """Mean cross-entropy (nats per character) of ``model`` on the id stream ``ids``,
    each character scored with at least ``length // 2`` characters of context
    (``per_char``: each scored character's own loss instead, in text order, for a
    paired comparison of two models on the same characters).

    Keras' validation loss over :func:`next_char_windows` starts each window from a
    zero state, so a window's first characters are guessed almost blind. Here windows
    of ``length`` overlap by half and only their second halves are scored: every
    character from position ``length // 2`` on is scored once, after at least half a
    window of reading."""
    import keras

    length = positive_int("length", length)
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    half = length // 2
    x, y = next_char_windows(ids, length, stride=length - half)
    logits = training.predict(model, x, batch_size=256)[:, half:]
    losses = keras.losses.sparse_categorical_crossentropy(
        y[:, half:], logits, from_logits=True
    )
    if per_char:
        return np.asarray(losses).ravel()
    return float(np.mean(np.asarray(losses)))


def context_positions(size: int, length: int) -> np.ndarray:
    """The positions in a stream of ``size`` ids that :func:`nats_with_context` scores,
    in its order: to pair its per-character losses with another model's losses on the
    same characters."""
    size, length = positive_int("size", size), positive_int("length", length)
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")
    half = length // 2
    starts = np.arange(0, size - length, length - half)
    return (starts[:, None] + 1 + np.arange(half, length)[None, :]).ravel()


class CharNGram:
    """A count-based character model of ``order`` n: the next character given the
    ``n - 1`` before it, with Witten-Bell interpolation.

    Each context length ``k = 0 .. n - 1`` mixes its counts with the estimate of the
    context one shorter, down to the uniform ``1 / vocab_size``:
    ``p_k(c | h) = (count(h c) + types(h) p_(k-1)(c | h')) / (count(h) + types(h))``,
    where ``types(h)`` is the number of distinct characters seen after ``h`` and ``h'``
    drops the oldest character of ``h``. A context never seen keeps ``p_(k-1)``. Unseen
    characters and contexts so never get probability 0.
    """

    def __init__(self, order: int, vocab_size: int):
        self.order = positive_int("order", order)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.grams: list[Counter] = []
        self.totals: list[Counter] = []
        self.types: list[Counter] = []

    def count(self, text: str) -> Self:
        """Count every (context, next character) of ``text`` for each context length."""
        text = _check_text(text)
        self.grams, self.totals, self.types = [], [], []
        for k in range(self.order):
            grams = Counter(text[i - k : i + 1] for i in range(k, len(text)))
            totals, types = Counter(), Counter()
            for gram, count in grams.items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.grams.append(grams)
            self.totals.append(totals)
            self.types.append(types)
        return self

    def probability(self, history: str, char: str) -> float:
        """``p(char | the last order - 1 characters of history)``."""
        if not self.grams:
            raise ValueError("count a text before asking for probabilities")
        p = 1.0 / self.vocab_size
        for k in range(self.order):
            if k > len(history):
                break
            context = history[len(history) - k :] if k else ""
            total = self.totals[k].get(context, 0)
            if total:
                types = self.types[k][context]
                p = (self.grams[k].get(context + char, 0) + types * p) / (total + types)
        return p

    def char_losses(self, text: str, context: str = "") -> np.ndarray:
        """``-ln p`` of each character of ``text`` given the ones before it
        (``context``, e.g. the end of the training text, precedes the first)."""
        whole, start = context + _check_text(text), len(context)
        keep = self.order - 1
        return np.array(
            [
                -math.log(self.probability(whole[max(0, i - keep) : i], whole[i]))
                for i in range(start, len(whole))
            ]
        )

    def nats_per_char(self, text: str, context: str = "") -> float:
        """Mean of :meth:`char_losses`: nats per character of ``text``."""
        return float(np.mean(self.char_losses(text, context)))


def ngram_baselines(
    train: str,
    val: str,
    orders=(1, 2, 3, 4, 5),
    vocab_size: int | None = None,
    per_char: bool = False,
):
    """Validation nats per character of a :class:`CharNGram` of each order counted on
    ``train``, as ``{order: nats}``; the validation text follows the training text.
    ``per_char``: each validation character's own loss instead, ``{order: array}``."""
    train, val = _check_text(train, "train"), _check_text(val, "val")
    orders = [positive_int("orders", n) for n in orders]
    if vocab_size is not None:
        positive_int("vocab_size", vocab_size)
    size = vocab_size or len(vocabulary(train + val))
    losses = {
        n: CharNGram(n, size)
        .count(train)
        .char_losses(val, context=train[-(n - 1) :] if n > 1 else "")
        for n in orders
    }
    if per_char:
        return losses
    return {n: float(np.mean(values)) for n, values in losses.items()}


def real_word_share(text: str, known_words) -> float:
    """Share of the words of ``text`` (lower-cased, as ``dlbook.data.corpora.tokenize``
    cuts them) that are in ``known_words``, e.g. the words of the training text; NaN if
    ``text`` holds no word."""
    words = tokenize(text if isinstance(text, str) else _check_text(text))
    known = set(known_words)
    return float(np.mean([w in known for w in words])) if words else float("nan")


def sample_measures(samples: dict, known_words, n: int = 3):
    """Per label of ``samples`` (a label -> list of texts), the mean
    :func:`real_word_share` and :func:`repetition` of its texts, as a table."""
    import pandas as pd

    if not isinstance(samples, dict):
        raise TypeError(
            f"samples must be a dict of lists of texts, got {samples!r:.60}"
        )
    n = positive_int("n", n)
    rows = {
        label: {
            "real-word share": float(
                np.nanmean([real_word_share(t, known_words) for t in texts])
            ),
            f"repeated word {n}-grams": float(
                np.nanmean([repetition(t, n) for t in texts])
            ),
        }
        for label, texts in samples.items()
    }
    return pd.DataFrame(rows).T


def repetition(text: str, n: int = 3) -> float:
    """Share of the word ``n``-grams of ``text`` that repeat an earlier one: 0 when every
    n-gram is new, near 1 for a loop ("the state of the state of..."); NaN when there
    are fewer than ``n`` words."""
    n = positive_int("n", n)
    words = tokenize(text if isinstance(text, str) else _check_text(text))
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else float("nan")
