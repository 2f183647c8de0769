"""Last-layer activation and loss: the Memo page's table, each row trained for real.

:data:`MEMO_TABLE` holds the notes' rows; :func:`prepare_task` loads offline data of
each problem type; :func:`train_and_score` trains a small dense network with a given
activation/loss pair and scores it before and after training. Used by ``docs/memo.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlbook import data, training
from dlbook.base import validate
from dlbook.base.seeding import resolve_seed
from dlbook.base.validate import positive_int
from dlbook.models import dense_network


@dataclass(frozen=True)
class Row:
    """One row of the notes' memo: a problem type and its last layer and loss."""

    task: str
    problem: str
    activation: str | None
    loss: str


MEMO_TABLE = [
    Row("binary", "Binary classification", "sigmoid", "binary_crossentropy"),
    Row(
        "multiclass",
        "Multiclass, single-label classification",
        "softmax",
        "categorical_crossentropy",
    ),
    Row(
        "multilabel",
        "Multiclass, multilabel classification",
        "sigmoid",
        "binary_crossentropy",
    ),
    Row("regression", "Regression to arbitrary values", None, "mse"),
    Row("unit_interval", "Regression to values between 0 and 1", "sigmoid", "mse"),
    Row(
        "unit_interval",
        "Regression to values between 0 and 1",
        "sigmoid",
        "binary_crossentropy",
    ),
]


@dataclass(frozen=True)
class Task:
    """Prepared data of one problem type, with its metric and a trivial baseline."""

    name: str
    data_name: str
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    metric_name: str
    metric: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool
    baseline: float
    epochs: int

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.train[0].shape[1:]))

    @property
    def n_outputs(self) -> int:
        return 1 if self.train[1].ndim == 1 else self.train[1].shape[1]


def _one_per_sample(y_true, y_pred, name: str = "y_prob", flat: bool = True):
    """A ``ValueError`` unless ``y_pred`` (named ``name``) holds one prediction per
    target of ``y_true``: the same number of values (``flat``), or the same shape. A
    single prediction would otherwise broadcast against every target."""
    a = validate.array("y_true", y_true)
    b = validate.array(name, y_pred)
    if (a.size != b.size) if flat else (a.shape != b.shape or a.ndim != 2):
        wanted = f"{a.size} values" if flat else f"shape {a.shape} (samples, labels)"
        raise ValueError(f"{name} must match y_true: {wanted}, got shape {b.shape}")


def binary_accuracy(y_true, y_prob) -> float:
    """Share of samples whose probability, thresholded at 0.5, matches the 0/1 label."""
    _one_per_sample(y_true, y_prob)
    return float(np.mean((np.ravel(y_prob) > 0.5) == (np.ravel(y_true) > 0.5)))


def categorical_accuracy(y_true, y_prob) -> float:
    """Share of samples whose most probable class is the true class (one-hot targets)."""
    _one_per_sample(y_true, y_prob, flat=False)
    return float(np.mean(np.argmax(y_prob, axis=1) == np.argmax(y_true, axis=1)))


def exact_match(y_true, y_prob) -> float:
    """Share of samples whose whole label set is right (each label thresholded at 0.5)."""
    _one_per_sample(y_true, y_prob, flat=False)
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    return float(np.mean(np.all((y_prob > 0.5) == (y_true > 0.5), axis=1)))


def mean_absolute_error(y_true, y_pred, scale: float = 1.0) -> float:
    """MAE, multiplied by ``scale`` to report it in the target's real units."""
    _one_per_sample(y_true, y_pred, "y_pred")
    validate.number("scale", scale)
    return float(np.mean(np.abs(np.ravel(y_pred) - np.ravel(y_true))) * scale)


def _flat_pixels(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32) / 255.0


def _tabular(dataset: data.Dataset, seed: int):
    parts = data.split(dataset.x, dataset.y, seed=seed)
    x_train, x_val, x_test = data.standardize(
        parts.train[0], parts.val[0], parts.test[0]
    )
    return (x_train, parts.train[1]), (x_val, parts.val[1]), (x_test, parts.test[1])


def prepare_task(name: str, seed: int | None = None) -> Task:
    """Load and split the offline data for one problem type (see :data:`TASKS`)."""
    seed = resolve_seed(seed)
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name](seed)


def _binary(seed: int) -> Task:
    dataset = data.breast_cancer()
    train, val, test = _tabular(dataset, seed)
    majority = max(np.mean(test[1]), 1 - np.mean(test[1]))
    return Task(
        name="binary",
        data_name=dataset.name,
        train=train,
        val=val,
        test=test,
        metric_name="accuracy",
        metric=binary_accuracy,
        higher_is_better=True,
        baseline=float(majority),
        epochs=40,
    )


def _multiclass(seed: int) -> Task:
    dataset = data.mnist_digits()
    parts = data.split(
        _flat_pixels(dataset.x), np.eye(10, dtype=np.float32)[dataset.y], seed=seed
    )
    majority = np.max(np.mean(parts.test[1], axis=0))
    return Task(
        name="multiclass",
        data_name=dataset.name,
        train=parts.train,
        val=parts.val,
        test=parts.test,
        metric_name="accuracy",
        metric=categorical_accuracy,
        higher_is_better=True,
        baseline=float(majority),
        epochs=20,
    )


def _multilabel(seed: int) -> Task:
    digits = data.mnist_digits()
    parts = data.split(
        digits.x, digits.y, seed=seed
    )  # split digits first: no shared strokes
    sizes = {"train": 3000, "val": 1000, "test": 1000}
    made = {
        part: data.two_digit_multilabel(*getattr(parts, part), n=n, seed=seed + i)
        for i, (part, n) in enumerate(sizes.items())
    }
    train, val, test = ((_flat_pixels(made[p].x), made[p].y) for p in sizes)
    # trivial baseline: the most frequent whole label set in the training part
    sets, counts = np.unique(train[1], axis=0, return_counts=True)
    baseline = exact_match(
        test[1], np.repeat(sets[np.argmax(counts)][None], len(test[1]), 0)
    )
    return Task(
        name="multilabel",
        data_name=made["train"].name,
        train=train,
        val=val,
        test=test,
        metric_name="exact match",
        metric=exact_match,
        higher_is_better=True,
        baseline=baseline,
        epochs=30,
    )


def _regression(seed: int) -> Task:
    dataset = data.diabetes()
    train, val, test = _tabular(dataset, seed)
    mean, std = float(train[1].mean()), float(train[1].std())

    def scaled(pair):
        return pair[0], ((pair[1] - mean) / std).astype(np.float32)

    def mae_in_units(y_true, y_pred):
        return mean_absolute_error(y_true, y_pred, scale=std)

    baseline = mean_absolute_error(test[1], np.full_like(test[1], mean))
    return Task(
        name="regression",
        data_name=dataset.name + " (target standardised)",
        train=scaled(train),
        val=scaled(val),
        test=scaled(test),
        metric_name="MAE (progression units)",
        metric=mae_in_units,
        higher_is_better=False,
        baseline=baseline,
        epochs=80,
    )


def _unit_interval(seed: int) -> Task:
    dataset = data.star98_math()
    train, val, test = _tabular(dataset, seed)
    baseline = mean_absolute_error(test[1], np.full_like(test[1], train[1].mean()))
    return Task(
        name="unit_interval",
        data_name=dataset.name,
        train=train,
        val=val,
        test=test,
        metric_name="MAE (share of pupils)",
        metric=mean_absolute_error,
        higher_is_better=False,
        baseline=baseline,
        epochs=80,
    )


TASKS: dict[str, Callable[[int], Task]] = {
    "binary": _binary,
    "multiclass": _multiclass,
    "multilabel": _multilabel,
    "regression": _regression,
    "unit_interval": _unit_interval,
}


@dataclass
class Outcome:
    """Scores of one trained model, and its learning curves."""

    before: float
    after: float
    train_loss: list[float]
    val_loss: list[float]
    seconds: float
    params: int
    predictions: np.ndarray


def train_and_score(
    task: Task,
    activation: str | None,
    loss: str,
    epochs: int | None = None,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    patience: int = 8,
    seed: int | None = None,
) -> Outcome:
    """Train a small dense network with this last-layer ``activation`` and ``loss``
    (through :func:`dlbook.training.fit`); score it on the test part before and after
    training.

    Training stops when the validation loss has not improved for ``patience`` epochs
    and keeps the weights of the best epoch, so no row is scored over-fitted.
    """
    if epochs is not None:
        positive_int("epochs", epochs)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task of prepare_task(), got {task!r:.60}")
    model = dense_network(task.n_inputs, task.n_outputs, activation)
    x_test, y_test = task.test
    before = task.metric(y_test, np.asarray(model(x_test, training=False)))
    trained = training.fit(
        model,
        task.train,
        val=task.val,
        loss=loss,
        learning_rate=learning_rate,
        epochs=epochs or task.epochs,
        batch_size=batch_size,
        patience=patience,
        seed=seed,
    )
    predictions = np.asarray(model(x_test, training=False))
    return Outcome(
        before=before,
        after=task.metric(y_test, predictions),
        train_loss=trained.history["loss"],
        val_loss=trained.history["val_loss"],
        seconds=trained.seconds,
        params=model.count_params(),
        predictions=predictions,
    )


def labels_per_image(y_prob: np.ndarray) -> np.ndarray:
    """How many labels a multi-label model switches on (probability > 0.5) per image."""
    y_prob = validate.array("y_prob", y_prob, ndim=2)
    return np.sum(y_prob > 0.5, axis=1)


def results_table(rows: list[Row], tasks: dict[str, Task], outcomes: list[Outcome]):
    """One line per memo row: data, metric before and after training, trivial baseline."""
    import pandas as pd

    validate.same_length(rows=rows, outcomes=outcomes)
    lines = []
    for row, outcome in zip(rows, outcomes, strict=True):
        task = tasks[row.task]
        lines.append(
            {
                "Problem": row.problem,
                "Last layer": row.activation or "None (linear)",
                "Loss": row.loss,
                "Data": task.data_name,
                "Metric (test)": task.metric_name
                + (" ↑" if task.higher_is_better else " ↓"),
                "Before": round(outcome.before, 3),
                "After": round(outcome.after, 3),
                "Trivial baseline": round(task.baseline, 3),
                "Params": outcome.params,
                "Train time": f"{outcome.seconds:.1f} s",
            }
        )
    return pd.DataFrame(lines)


def plot_learning_curves(rows: list[Row], outcomes: list[Outcome], ncols: int = 3):
    """Small multiples: training and validation loss per epoch for each memo row."""
    from dlbook.book.plotting import figure, plot_curves

    ncols = positive_int("ncols", ncols)
    validate.same_length(rows=rows, outcomes=outcomes)
    nrows = -(-len(rows) // ncols)
    fig, axes = figure(nrows, ncols, width=9.6, height=2.6 * nrows)
    for ax, row, outcome in zip(axes.flat, rows, outcomes, strict=False):
        title = (
            f"{row.problem.split(',')[0]}\n{row.activation or 'linear'} + {row.loss}"
        )
        plot_curves(
            ax,
            {"train": outcome.train_loss, "validation": outcome.val_loss},
            "epoch",
            row.loss,
            title,
        )
        ax.title.set_fontsize(9)
    for ax in list(axes.flat)[len(rows) :]:
        ax.set_visible(False)
    return fig


def _logits(logits) -> np.ndarray:
    return validate.array("logits", logits, ndim=(1, 2), finite=True, dtype=np.float32)


def naive_softmax(logits) -> np.ndarray:
    """Softmax as the formula reads: ``exp(z) / sum(exp(z))`` in float32, over the last
    axis. Overflows (``inf / inf = nan``) once a logit passes about 88; NumPy's overflow
    warnings are silenced, the ``nan`` is the result."""
    z = _logits(logits)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def log_sum_exp(logits) -> np.ndarray:
    """``log(sum(exp(z)))`` over the last axis, the largest logit ``m`` factored out:
    ``m + log(sum(exp(z - m)))``, where no exponent exceeds 0."""
    z = _logits(logits)
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


def stable_softmax(logits) -> np.ndarray:
    """Softmax with the largest logit ``m`` subtracted first:
    ``exp(z - m) / sum(exp(z - m))``, finite for any finite logits."""
    z = _logits(logits)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def crossentropy_gradient(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of Keras' categorical crossentropy (``from_logits=True``, summed
    over the batch) with respect to the logits, by ``tf.GradientTape``; returned with
    the softmax probabilities ``p``, so that it can be compared with ``p - y``."""
    import keras
    import tensorflow as tf

    z = _logits(logits)
    y = validate.array("targets", targets, ndim=z.ndim, finite=True, dtype=np.float32)
    if y.shape != z.shape:
        raise ValueError(
            f"targets must have the logits' shape {z.shape}, got {y.shape}"
        )
    z = tf.constant(np.atleast_2d(z))
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = loss(np.atleast_2d(y), z)
    gradient = tape.gradient(value, z).numpy().reshape(y.shape)
    return gradient, stable_softmax(logits).reshape(y.shape)
