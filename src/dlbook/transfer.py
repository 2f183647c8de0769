"""Transfer learning: reuse a network trained on a large dataset for a task with few labels.

The notes' five steps: (1) add your network on top of a trained base, (2) freeze the
base, (3) train the part you added, (4) unfreeze some base layers, (5) train them
jointly. On a CPU the frozen part runs once: its outputs are cached and only the part
that learns runs again (exact, because a frozen part in inference mode is a fixed
function of its input). Learning curves compare a pretrained model with one trained
from scratch at several numbers of labelled examples, over several random splits.

Used by ``docs/transfer.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbook import training
from dlbook.base import validate
from dlbook.base.seeding import check_seed, reseed, resolve_seed, rng
from dlbook.base.validate import positive_int

# A method of a learning curve: (training indices, test indices, seed) -> right or
# wrong on each test example, in the order of the test indices.
Method = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


# --- data ---------------------------------------------------------------------------


def grey_to_rgb(images) -> np.ndarray:
    """Grey images in [0, 1], ``(n, h, w)``, as ``(n, h, w, 3)`` floats in 0..255: the
    input an ImageNet network expects (see
    :func:`dlbook.pretrained.efficientnet_lite.preprocess`)."""
    images = np.asarray(images, np.float32)
    if images.ndim != 3:
        raise ValueError(
            f"images must be (n, height, width) grey images, got {images.shape}"
        )
    if images.size and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"images must hold values in [0, 1], got {images.min()}..{images.max()}"
        )
    return np.repeat(images[..., None] * 255.0, 3, axis=-1)


def few_label_split(labels, per_class: int, test_per_class: int, seed: int):
    """Indices of ``per_class`` training examples of every class and of a disjoint
    test set of ``test_per_class`` per class, drawn at random with ``seed``.

    For one seed the test set does not depend on ``per_class`` and the training sets
    are nested (10 per class contains the 5), so the points of a learning curve differ
    only in how many labels they use. Returns ``(train, test)`` index arrays.
    """
    labels = np.asarray(labels)
    per_class = positive_int("per_class", per_class)
    test_per_class = positive_int("test_per_class", test_per_class)
    generator = rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        if per_class + test_per_class > len(members):
            raise ValueError(
                f"per_class + test_per_class must be at most {len(members)} (the examples "
                f"of class {label}), got {per_class} + {test_per_class}"
            )
        train.append(members[:per_class])
        test.append(members[len(members) - test_per_class :])
    return np.concatenate(train), np.concatenate(test)


# --- a frozen base, run once ----------------------------------------------------------


def split_at_block(model, block: str):
    """Cut a functional model in two where ``block`` begins: ``bottom`` maps the input
    to the activations entering the block, ``top`` maps those to the output. Both
    share ``model``'s layers (training ``top`` trains ``model``).

    With everything below ``block`` frozen, ``bottom`` runs once over the images and
    only ``top`` runs while fine-tuning: the same computation, at the cost of the top
    blocks alone. Used on docs/transfer.md.
    """
    import keras

    if not isinstance(block, str) or not block:
        raise ValueError(f"block must be a non-empty str, got {block!r}")
    first = next(
        (layer for layer in model.layers if layer.name.startswith(block + "_")), None
    )
    if first is None:
        raise ValueError(f"block {block!r} starts no layer of model {model.name!r}")
    entering = first.input
    return keras.Model(model.input, entering, name="bottom"), keras.Model(
        entering, model.output, name="top"
    )


# --- training a fixed number of steps ---------------------------------------------------


def repeated_batches(n: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """Indices of ``steps`` batches of ``batch_size`` drawn from ``n`` examples: whole
    shuffled passes, one after the other, so every example is used equally often.

    With few labels an epoch is a handful of steps; a fixed number of gradient steps
    lets 4 examples and 100 examples train for the same number of updates
    (docs/transfer.md)."""
    n, steps = positive_int("n", n), positive_int("steps", steps)
    batch_size = positive_int("batch_size", batch_size)
    generator = rng(seed)
    passes = -(-steps * batch_size // n)
    order = np.concatenate([generator.permutation(n) for _ in range(passes)])
    return order[: steps * batch_size]


def fit_steps(
    model,
    x,
    y,
    steps: int,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    seed: int | None = None,
    recompile: bool = True,
):
    """Train ``model`` (softmax outputs, integer labels ``y``) with Adam for exactly
    ``steps`` gradient steps of ``batch_size`` examples (:func:`repeated_batches`),
    through :func:`dlbook.training.fit`, and return it.
    Used for every training run on docs/transfer.md.

    ``recompile=False`` (as in :func:`dlbook.training.fit`) skips compiling, keeping
    the optimizer (and the training step Keras traced) of an earlier call: for a model
    re-initialised by :func:`reinitialise`. Compile again (the default) after changing
    what is trainable.
    """
    seed = resolve_seed(seed)
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x and y must be non-empty and of one length, got {len(x)}, {len(y)}"
        )
    order = repeated_batches(len(x), steps, batch_size, seed)
    if not recompile and getattr(model, "optimizer", None) is None:
        raise ValueError("recompile=False needs a model that fit_steps compiled before")
    # ten steps per call into TensorFlow: on a CPU the per-step overhead of small
    # models costs more than their arithmetic (same weights as one step per call)
    training.fit(
        model,
        (x[order], y[order]),
        loss="sparse_categorical_crossentropy",
        learning_rate=learning_rate,
        epochs=1,
        batch_size=batch_size,
        shuffle=False,
        seed=seed,
        steps_per_execution=10,
        recompile=recompile,
    )
    return model


def reinitialise(model, fresh) -> None:
    """Give ``model`` the state of ``fresh``, a new build of the same architecture:
    weights, random-seed state and a zeroed optimizer (a fresh Adam's state).

    Keras traces a model's training step once, at its first ``fit`` (about half a
    second on a CPU). A learning curve trains the same architecture dozens of times;
    copying a fresh initialisation into one compiled model gives the same training as
    a new model without tracing it again (the learning curves of docs/transfer.md)."""
    if len(model.variables) != len(fresh.variables):
        raise ValueError(
            f"fresh ({fresh.name}) is not the architecture of model ({model.name})"
        )
    for target, source in zip(model.variables, fresh.variables, strict=True):
        if tuple(target.shape) != tuple(source.shape):
            raise ValueError(
                f"fresh ({fresh.name}) is not the architecture of model ({model.name}): "
                f"{target.path} {target.shape} vs {source.shape}"
            )
        target.assign(source.value)
    if getattr(model, "optimizer", None) is not None:
        training.reset_optimizer(model)


# --- heads and learning curves ---------------------------------------------------------


def softmax_head(width: int, classes: int, seed: int | None = None, name: str = "head"):
    """Step 1: the network added on top of a base: one ``Dense`` softmax layer over
    ``width`` features (a logistic regression). ``seed`` re-seeds Keras first, so one
    seed always gives the same initial weights. Used on docs/transfer.md."""
    seed = resolve_seed(seed)
    import keras

    width, classes = positive_int("width", width), positive_int("classes", classes)
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    if seed is not None:
        reseed(seed)
    return keras.Sequential(
        [keras.Input((width,)), keras.layers.Dense(classes, activation="softmax")],
        name=name,
    )


def with_head(model, head, name: str = "with_head"):
    """``head`` on top of ``model``: a new model from ``model``'s input to ``head``'s
    output, sharing both models' layers. Steps 1 and 5 of docs/transfer.md."""
    import keras

    inputs = keras.Input(tuple(model.input.shape[1:]), name="inputs")
    return keras.Model(inputs, head(model(inputs)), name=name)


def scores(model, x, y) -> dict[str, float]:
    """Test accuracy and mean cross-entropy (the loss: finer than accuracy when both
    models get almost every example right) of a softmax ``model`` on ``x``, ``y``
    (docs/transfer.md)."""
    y = np.asarray(y)
    probabilities = training.predict(model, x, batch_size=200)
    if y.shape != (len(probabilities),):
        raise ValueError(
            f"y must have one label per example of x ({len(probabilities)}), got "
            f"shape {y.shape}"
        )
    validate.labels("y", y, probabilities.shape[1])
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == y)),
        "loss": float(np.mean(-np.log(picked))),
    }


def logistic_method(features, labels, c: float = 1.0) -> Method:
    """A learning-curve method: a logistic regression (the softmax head, fitted by
    scikit-learn's L-BFGS in milliseconds, with an L2 penalty of strength ``1/c``) on
    precomputed ``features``; returns right/wrong per test index (docs/transfer.md)."""
    from sklearn.linear_model import LogisticRegression

    validate.positive_number("c", c)
    features, labels = np.asarray(features), np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(
            f"features and labels must have one length, got {len(features)}, "
            f"{len(labels)}"
        )

    def run(train, test, seed):
        head = LogisticRegression(C=c, max_iter=5000).fit(
            features[train], labels[train]
        )
        return head.predict(features[test]) == labels[test]

    return run


def scratch_method(
    build: Callable,
    inputs,
    labels,
    steps: int = 100,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    min_epochs: int = 0,
) -> Method:
    """A learning-curve method: the network ``build(seed)`` trained from random weights
    on the training indices (:func:`fit_steps`); returns right/wrong per test index.

    It trains for ``steps`` steps, or for ``min_epochs`` passes over the training
    examples if that takes more steps: the few-label runs get enough updates, the
    larger ones enough passes. One model is compiled once and re-initialised for each
    run (:func:`reinitialise`). The from-scratch baselines of docs/transfer.md."""
    inputs, labels = np.asarray(inputs), np.asarray(labels)
    if len(inputs) != len(labels):
        raise ValueError(
            f"inputs and labels must have one length, got {len(inputs)}, {len(labels)}"
        )
    steps, batch_size = (
        positive_int("steps", steps),
        positive_int("batch_size", batch_size),
    )
    if (
        isinstance(min_epochs, bool)
        or not isinstance(min_epochs, int)
        or min_epochs < 0
    ):
        raise ValueError(f"min_epochs must be an int >= 0, got {min_epochs!r}")
    compiled = {}

    def run(train, test, seed):
        fresh = build(seed)
        model = compiled.setdefault("model", fresh)
        if model is not fresh:
            reinitialise(model, fresh)
        run_steps = max(steps, -(-min_epochs * len(train) // batch_size))
        fit_steps(
            model,
            inputs[train],
            labels[train],
            run_steps,
            batch_size,
            learning_rate,
            seed=seed,
            recompile=model is fresh,
        )
        probabilities = training.predict(model, inputs[test], batch_size=200)
        return probabilities.argmax(axis=1) == labels[test]

    return run


def learning_curve(
    methods: dict[str, Method], labels, per_class_counts, seeds, test_per_class: int
):
    """Test accuracy of every method at every number of labelled examples per class,
    for every seed (a random split: :func:`few_label_split`). One row per run:
    ``method``, ``per_class``, ``seed``, ``accuracy`` and ``correct`` (right/wrong on
    each test example of the split, for paired comparisons: :func:`compare_methods`).
    Used on docs/transfer.md."""
    import pandas as pd

    if not methods:
        raise ValueError("methods must name at least one method")
    counts = [positive_int("per_class_counts", n) for n in per_class_counts]
    seeds = [check_seed(s) for s in seeds]
    if not counts or not seeds:
        raise ValueError("per_class_counts and seeds must not be empty")
    rows = []
    for seed in seeds:
        for per_class in counts:
            train, test = few_label_split(labels, per_class, test_per_class, seed)
            for name, method in methods.items():
                correct = np.asarray(method(train, test, seed))
                if correct.shape != test.shape or correct.dtype != bool:
                    raise ValueError(
                        f"method {name!r} must return right/wrong (bool) for each of "
                        f"the {len(test)} test examples, got {correct.dtype} "
                        f"{correct.shape}"
                    )
                rows.append(
                    {
                        "method": name,
                        "per_class": per_class,
                        "seed": seed,
                        "accuracy": float(correct.mean()),
                        "correct": correct,
                    }
                )
    return pd.DataFrame(rows)


def _check_runs(runs) -> None:
    columns = ("method", "per_class", "seed", "accuracy")
    if not all(name in getattr(runs, "columns", ()) for name in columns):
        raise ValueError(
            f"runs must be the table of learning_curve() (columns {columns}), got "
            f"{runs!r:.60}"
        )


def curve_table(runs):
    """Mean test accuracy over seeds of :func:`learning_curve` runs: one row per number
    of labels, one column per method (the tables of docs/transfer.md)."""
    _check_runs(runs)
    return runs.pivot_table(
        "accuracy", "per_class", "method", aggfunc="mean", sort=False
    )


def gain(runs, better: str, baseline: str):
    """The accuracy of ``better`` minus that of ``baseline``, split by split (same
    seed, same labels): mean, smallest and largest over seeds per number of labels.
    Pairing by split removes the noise the two methods share (docs/transfer.md)."""
    _check_runs(runs)
    table = runs.pivot_table("accuracy", ["per_class", "seed"], "method")
    for name in (better, baseline):
        if name not in table.columns:
            raise ValueError(f"no method {name!r} in runs: {list(table.columns)}")
    difference = (table[better] - table[baseline]).groupby(level="per_class")
    return difference.agg(["mean", "min", "max"])


def outcomes(runs, method: str, per_class: int) -> np.ndarray:
    """Right/wrong of ``method`` on every test example at ``per_class`` labels per
    class, the splits' test sets laid end to end in seed order (one split's test set
    is ``len(result) // splits`` examples; for one seed it is the same at every
    count, see :func:`few_label_split`)."""
    _check_runs(runs)
    if "correct" not in runs.columns:
        raise ValueError("runs must hold per-example outcomes (column 'correct')")
    part = runs[(runs["method"] == method) & (runs["per_class"] == per_class)]
    if part.empty:
        raise ValueError(f"no run of method {method!r} at per_class={per_class!r}")
    return np.concatenate(part.sort_values("seed")["correct"].tolist())


def compare_methods(runs, first: str, second: str, per_class: int):
    """``first`` against ``second`` at ``per_class`` labels per class, through
    :func:`dlbook.book.checks.compare`: paired on the same test examples of every
    split (seed). The splits' test sets are laid end to end (:func:`outcomes`) and
    resampled in runs of one test set's length (a block bootstrap), so that the
    variation from one random training split to the next counts, not only that of
    the test examples."""
    from dlbook.book import checks

    a, b = outcomes(runs, first, per_class), outcomes(runs, second, per_class)
    if len(a) != len(b):
        raise ValueError(f"{first!r} and {second!r} were not run on the same splits")
    splits = runs["seed"].nunique()
    return checks.compare(
        a,
        b,
        names=(first, second),
        block=len(a) // splits,
        claim=f"{first} vs {second} at {per_class} per class",
    )


def split_gains(runs, better: str, baseline: str, per_class: int) -> np.ndarray:
    """The accuracy of ``better`` minus that of ``baseline`` on each split (seed) at
    ``per_class`` labels per class, in seed order: one number per split, to compare
    the gains of two tasks whose test examples differ."""
    _check_runs(runs)
    table = runs[runs["per_class"] == per_class].pivot_table(
        "accuracy", "seed", "method"
    )
    for name in (better, baseline):
        if name not in table.columns:
            raise ValueError(f"no method {name!r} at per_class={per_class!r} in runs")
    return (table[better] - table[baseline]).to_numpy()


def plot_learning_curves(ax, runs, title: str = "", classes: int = 2):
    """Mean test accuracy against labelled examples (log scale), one line per method,
    each seed's accuracy as a faint dot; ``classes`` turns labels per class into
    labelled examples. The learning-curve figures of docs/transfer.md."""
    from dlbook.book.plotting import PALETTE

    classes = positive_int("classes", classes)
    _check_runs(runs)
    for index, (name, part) in enumerate(runs.groupby("method", sort=False)):
        color = PALETTE[index % len(PALETTE)]
        labelled = part["per_class"] * classes
        ax.scatter(labelled, part["accuracy"], s=10, alpha=0.35, color=color)
        mean = part.groupby("per_class")["accuracy"].mean()
        ax.plot(mean.index * classes, mean.values, marker="o", label=name, color=color)
    ax.set_xscale("log")
    ticks = sorted(set(runs["per_class"] * classes))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("labelled training examples")
    ax.set_ylabel("test accuracy")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


# --- batch normalization while fine-tuning ------------------------------------------------


def batchnorm_state(model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Copies of every BatchNormalization layer's moving mean and moving variance,
    by layer name: a snapshot to compare before and after training (docs/transfer.md)."""
    from keras import layers

    return {
        layer.name: (
            layer.moving_mean.numpy().copy(),
            layer.moving_variance.numpy().copy(),
        )
        for layer in model.layers
        if isinstance(layer, layers.BatchNormalization)
    }


def largest_shift(before: dict, after: dict) -> float:
    """How far the moving statistics moved between two :func:`batchnorm_state`
    snapshots: the largest change of any channel's moving mean, in units of that
    channel's moving standard deviation before (0 when nothing changed). Shows on
    docs/transfer.md that frozen batch normalization stays put."""
    if set(before) != set(after) or not before:
        raise ValueError(
            "before and after must be non-empty snapshots of the same model"
        )
    shifts = [
        np.abs(after[name][0] - mean) / np.sqrt(variance + 1e-3)
        for name, (mean, variance) in before.items()
    ]
    return float(max(shift.max() for shift in shifts))


def unfreeze_batchnorm(model, block_prefix: str):
    """The mistake shown on docs/transfer.md: make the BatchNormalization layers from
    ``block_prefix`` on trainable too. In training they then normalise with each small
    batch's own statistics and pull their moving statistics towards them."""
    from keras import layers

    if not isinstance(block_prefix, str) or not block_prefix:
        raise ValueError(f"block_prefix must be a non-empty str, got {block_prefix!r}")
    names = [layer.name for layer in model.layers]
    start = next(
        (i for i, name in enumerate(names) if name.startswith(block_prefix)), None
    )
    if start is None:
        raise ValueError(
            f"block_prefix {block_prefix!r} starts no layer of {model.name!r}"
        )
    for layer in model.layers[start:]:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = True
    return model


# --- digits 0-4 -> 5-9 ----------------------------------------------------------------------


def convnet_base(model, last: str = "flatten"):
    """The layers of a trained Sequential convnet up to ``last`` (by default its
    ``Flatten`` output): the base to reuse, without the old softmax
    (docs/transfer.md)."""
    import keras

    names = [layer.name for layer in model.layers]
    match = [name for name in names if name.startswith(last)]
    if not match:
        raise ValueError(
            f"last must start a layer name of {model.name!r} ({names}), got {last!r}"
        )
    return keras.Model(model.inputs[0], model.get_layer(match[0]).output, name="base")


# --- text -------------------------------------------------------------------------------------


def bag_of_words_method(texts, labels, c: float = 1.0) -> Method:
    """A learning-curve method from scratch for text: a bag of words whose vocabulary
    comes from the training snippets alone (:func:`dlbook.text.encode_for`), read by
    the same logistic head as the pretrained embeddings (:func:`logistic_method`);
    right/wrong per test index. The text baseline of docs/transfer.md."""
    from sklearn.linear_model import LogisticRegression

    from dlbook import text

    validate.same_length(texts=validate.texts("texts", texts), labels=labels)
    validate.positive_number("c", c)
    texts, labels = np.asarray(texts, dtype=object), np.asarray(labels)

    def run(train, test, seed):
        _, (x_train, x_test) = text.encode_for(
            "bag of words", texts[train], texts[test]
        )
        head = LogisticRegression(C=c, max_iter=5000).fit(x_train, labels[train])
        return head.predict(x_test) == labels[test]

    return run
