"""Recurrent networks: cells, their parameter counts, vanishing gradients, memory.

The cells, their equations and the vanishing-gradient experiments are on ``docs/rnn.md``;
``docs/forecasting.md`` uses the parameter counts and the cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlbook import training
from dlbook.base import validate
from dlbook.base.seeding import reseed, resolve_seed, rng
from dlbook.base.validate import positive_int

CELLS = ("SimpleRNN", "LSTM", "GRU")


def _check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    return cell


def rnn_params(cell: str, units: int, input_dim: int) -> int:
    """Weights of one recurrent layer.

    Each gate (or the single update of a SimpleRNN) has an input kernel
    ``input_dim x units``, a recurrent kernel ``units x units`` and a bias; LSTM has 4
    gates, GRU 3, and Keras' GRU (``reset_after=True``) keeps two biases per gate.
    """
    _check_cell(cell)
    units, input_dim = (
        positive_int("units", units),
        positive_int("input_dim", input_dim),
    )
    kernels = units * (input_dim + units)
    if cell == "SimpleRNN":
        return kernels + units
    if cell == "LSTM":
        return 4 * (kernels + units)
    return 3 * (kernels + 2 * units)


def keras_rnn_params(cell: str, units: int, input_dim: int) -> int:
    """The same count as Keras reports it for a built layer."""
    import keras

    units, input_dim = (
        positive_int("units", units),
        positive_int("input_dim", input_dim),
    )
    layer = getattr(keras.layers, _check_cell(cell))(units)
    layer.build((None, None, input_dim))
    return layer.count_params()


def param_table(units: int = 32, input_dims=(1, 8)):
    """Parameters per cell and input width: formula next to Keras' own count."""
    rows = [
        {
            "cell": cell,
            "units": units,
            "input dim": d,
            "dlbook": rnn_params(cell, units, d),
            "Keras": keras_rnn_params(cell, units, d),
        }
        for cell in CELLS
        for d in input_dims
    ]
    table = pd.DataFrame(rows)
    table["agree"] = table["dlbook"] == table["Keras"]
    return table


def recurrent_model(
    cell: str, units: int, input_shape, n_outputs: int, activation=None
):
    """One recurrent layer and a dense output layer: the simplest sequence model."""
    import keras

    units, n_outputs = (
        positive_int("units", units),
        positive_int("n_outputs", n_outputs),
    )
    layer = getattr(keras.layers, _check_cell(cell))(units, name=cell.lower())
    head = keras.layers.Dense(n_outputs, activation=activation, name="out")
    return keras.Sequential([keras.Input(input_shape), layer, head], name=cell)


def input_gradient_norms(model, x: np.ndarray, y: np.ndarray, loss) -> np.ndarray:
    """Norm of the gradient of the loss with respect to the input at each time step,
    averaged over the batch: how much step ``t`` can still change the answer."""
    import keras
    import tensorflow as tf

    validate.array("x", x, ndim=3)
    validate.same_length(x=x, y=y)
    loss_fn = keras.losses.get(loss)
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = tf.reduce_mean(loss_fn(y, model(inputs, training=False)))
    gradient = tape.gradient(value, inputs)  # (batch, time, features)
    return tf.reduce_mean(tf.norm(gradient, axis=-1), axis=0).numpy()


def gradient_profiles(
    models: dict, x: np.ndarray, y: np.ndarray, loss="mse"
) -> pd.DataFrame:
    """:func:`input_gradient_norms` of each named model on the same batch: one column
    per model, one row per time step (1 = the first)."""
    if not isinstance(models, dict) or not models:
        raise ValueError(
            f"models must be a non-empty dict of models, got {models!r:.60}"
        )
    columns = {
        name: input_gradient_norms(model, x, y, loss) for name, model in models.items()
    }
    table = pd.DataFrame(columns, index=np.arange(1, len(x[0]) + 1))
    table.index.name = "time step"
    return table


def early_to_last(profile: pd.DataFrame, share: float = 0.1) -> pd.Series:
    """Per column of a :func:`gradient_profiles` table: the mean gradient norm over the
    first ``share`` of the steps, divided by the norm at the last step (1: nothing
    fades; 1e-8: the early steps barely reach the loss)."""
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    first = profile.iloc[: max(1, int(len(profile) * share))]
    return first.mean() / profile.iloc[-1]


def as_power(ratio: float) -> str:
    """A ratio for prose: ``0``, a power of ten (``2e-08``) below 0.01, else 2 decimals."""
    if isinstance(ratio, bool) or not isinstance(ratio, int | float | np.number):
        raise TypeError(f"ratio must be a number, got {ratio!r:.60}")
    if not ratio >= 0:  # NaN fails too
        raise ValueError(f"ratio must be a number >= 0, got {ratio!r}")
    return "0" if ratio == 0 else f"{ratio:.0e}" if ratio < 0.01 else f"{ratio:.2f}"


def plot_gradient_profiles(panels: dict):
    """One log-scale panel per title in ``panels`` (a title -> :func:`gradient_profiles`
    table): how much each input step can still move the loss."""
    from dlbook.book.plotting import PALETTE, figure

    if not isinstance(panels, dict) or not panels:
        raise ValueError(
            f"panels must be a non-empty dict of tables, got {panels!r:.60}"
        )
    fig, axes = figure(1, len(panels), width=4.6 * len(panels), height=3.4)
    for ax, (title, table) in zip(axes[0], panels.items(), strict=True):
        for colour, cell in zip(PALETTE, table.columns, strict=False):
            # exact zeros (underflow) cannot be drawn on a log axis: they are left out
            ax.plot(
                table.index,
                table[cell].where(table[cell] > 0),
                color=colour,
                label=cell,
            )
        ax.set_yscale("log")
        ax.set_xlabel("input time step")
        ax.set_title(title)
    axes[0, 0].set_ylabel("|d loss / d input|")
    axes[0, 0].legend()
    return fig


def adding_problem(n: int, length: int, seed: int | None = None):
    """The adding problem (Hochreiter & Schmidhuber, 1997), a long-range memory test.

    Each step holds two inputs: a random value in [0, 1] and a marker. Two steps are
    marked, one in the first tenth of the sequence and one in the second half; the
    target is the sum of the two marked values. The first value must be carried through
    at least ``length / 2`` steps of distracting values. Always answering 1 (the mean
    target) gives a mean squared error of 1/6: :data:`ADDING_BASELINE_MSE`.
    """
    n, length = positive_int("n", n), positive_int("length", length)
    if length < 2:
        raise ValueError(f"length must be at least 2 (two marked steps), got {length}")
    generator = rng(seed)
    values = generator.uniform(0.0, 1.0, size=(n, length)).astype(np.float32)
    early = generator.integers(0, max(1, length // 10), size=n)
    late = generator.integers(length // 2, length, size=n)
    late = np.where(late == early, length - 1, late)
    markers = np.zeros((n, length), np.float32)
    markers[np.arange(n), early] = 1.0
    markers[np.arange(n), late] = 1.0
    target = values[np.arange(n), early] + values[np.arange(n), late]
    return np.stack([values, markers], axis=-1), target.astype(np.float32)


ADDING_BASELINE_MSE = 1 / 6  # variance of the sum of two uniform values


@dataclass
class MemoryResult:
    """Test MSE per cell and length, and the model trained at each (cell, length)."""

    mse: pd.DataFrame
    models: dict


def memory_experiment(
    lengths,
    cells=CELLS,
    n_train: int = 8000,
    n_test: int = 1000,
    units: int = 32,
    epochs: int = 8,
    seed: int | None = None,
) -> MemoryResult:
    """Train each cell on :func:`adding_problem` at each length with the same budget
    (data, epochs, optimiser, seed) and measure the test mean squared error."""
    seed = resolve_seed(seed)
    lengths = [positive_int("lengths", length) for length in lengths]
    if not lengths or min(lengths) < 2:
        raise ValueError(
            f"lengths must be sequence lengths of at least 2, got {lengths}"
        )
    cells = [_check_cell(cell) for cell in cells]
    budget = {"n_train": n_train, "n_test": n_test, "units": units, "epochs": epochs}
    for name, value in budget.items():
        positive_int(name, value)
    scores, models = {}, {}
    for length in lengths:
        x, y = adding_problem(n_train, length, seed=seed)
        x_test, y_test = adding_problem(n_test, length, seed=seed + 1)
        for cell in cells:
            reseed(seed)
            model = recurrent_model(cell, units, x.shape[1:], 1)
            training.fit(
                model,
                (x, y),
                loss="mse",
                learning_rate=3e-3,
                clipnorm=1.0,
                epochs=epochs,
                batch_size=64,
                seed=seed,
            )
            predicted = np.asarray(model(x_test, training=False))[:, 0]
            scores[(cell, length)] = float(np.mean((predicted - y_test) ** 2))
            models[(cell, length)] = model
    table = pd.Series(scores).unstack(0)[list(cells)]
    table.index.name = "sequence length"
    return MemoryResult(table, models)


def draw_unrolled(steps: int = 4):
    """The recurrent loop drawn folded (left) and unrolled over ``steps`` time steps."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from dlbook.book.plotting import PALETTE, figure

    steps = positive_int("steps", steps)
    fig, axes = figure(1, 1, width=8.5, height=2.8)
    ax = axes[0, 0]
    ax.set_xlim(-0.5, steps * 1.6 + 1.9)
    ax.set_ylim(-0.4, 2.6)
    ax.axis("off")

    def box(x, y, text, colour):
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.35, y - 0.25),
                0.7,
                0.5,
                boxstyle="round,pad=0.05",
                fc=colour,
                ec="black",
                lw=1,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=10)

    def arrow(start, end, **style):
        ax.add_patch(
            FancyArrowPatch(
                start, end, arrowstyle="-|>", mutation_scale=12, lw=1.2, **style
            )
        )

    # folded: one cell feeding its state back to itself
    box(0.3, 1.2, "cell", PALETTE[5])
    ax.text(0.3, 0.1, "$x_t$", ha="center", fontsize=11)
    ax.text(0.3, 2.35, "$h_t$", ha="center", fontsize=11)
    arrow((0.3, 0.3), (0.3, 0.9))
    arrow((0.3, 1.5), (0.3, 2.2))
    loop = "arc,angleA=0,angleB=0,armA=22,armB=22,rad=6"
    arrow((0.7, 1.05), (0.7, 1.35), connectionstyle=loop, color=PALETTE[3])
    ax.text(1.15, 1.2, "=", fontsize=16, va="center")
    # unrolled: the same cell (same weights) once per time step
    for t in range(steps):
        x = 2.3 + 1.6 * t
        box(x, 1.2, "cell", PALETTE[5])
        ax.text(x, 0.1, f"$x_{t + 1}$", ha="center", fontsize=11)
        ax.text(x, 2.35, f"$h_{t + 1}$", ha="center", fontsize=11)
        arrow((x, 0.3), (x, 0.9))
        arrow((x, 1.5), (x, 2.2))
        if t:
            arrow((x - 1.2, 1.2), (x - 0.4, 1.2), color=PALETTE[3])
    ax.text(1.55, 1.3, "$h_0$", fontsize=10, color=PALETTE[3])
    arrow((1.5, 1.2), (1.9, 1.2), color=PALETTE[3])
    return fig
