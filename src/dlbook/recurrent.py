"""Recurrent networks: cells, their parameter counts, vanishing gradients, memory.

Used by ``docs/forecasting.md`` (parameter counts, the cells it compares). The page on
the cells themselves (equations, :func:`draw_unrolled`, :func:`param_table`, gradient
norms and :func:`memory_experiment`) is still to be written: issue #4.
"""

from __future__ import annotations

import numpy as np

from dlbook.repro import rng
from dlbook.validate import positive_int

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
    units, input_dim = positive_int("units", units), positive_int("input_dim", input_dim)
    kernels = units * (input_dim + units)
    if cell == "SimpleRNN":
        return kernels + units
    if cell == "LSTM":
        return 4 * (kernels + units)
    return 3 * (kernels + 2 * units)


def keras_rnn_params(cell: str, units: int, input_dim: int) -> int:
    """The same count as Keras reports it for a built layer."""
    import keras

    layer = getattr(keras.layers, _check_cell(cell))(units)
    layer.build((None, None, input_dim))
    return layer.count_params()


def param_table(units: int = 32, input_dims=(1, 8)):
    """Parameters per cell and input width: formula next to Keras' own count."""
    import pandas as pd

    rows = [
        {"cell": cell, "units": units, "input dim": d, "dlbook": rnn_params(cell, units, d),
         "Keras": keras_rnn_params(cell, units, d)}
        for cell in CELLS for d in input_dims
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    table["agree"] = table["dlbook"] == table["Keras"]
    return table


def recurrent_model(cell: str, units: int, input_shape, n_outputs: int, activation=None):
    """One recurrent layer and a dense output layer: the simplest sequence model."""
    import keras

    layer = getattr(keras.layers, _check_cell(cell))(units, name=cell.lower())
    head = keras.layers.Dense(n_outputs, activation=activation, name="out")
    return keras.Sequential([keras.Input(input_shape), layer, head], name=cell)


def input_gradient_norms(model, x: np.ndarray, y: np.ndarray, loss) -> np.ndarray:
    """Norm of the gradient of the loss with respect to the input at each time step,
    averaged over the batch: how much step ``t`` can still change the answer."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.get(loss)
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = tf.reduce_mean(loss_fn(y, model(inputs, training=False)))
    gradient = tape.gradient(value, inputs)  # (batch, time, features)
    return tf.reduce_mean(tf.norm(gradient, axis=-1), axis=0).numpy()


def recall_task(n: int, length: int, n_symbols: int = 4, seed: int = 0):
    """Remember the first symbol: step 1 holds one of ``n_symbols`` symbols (one-hot),
    the ``length - 1`` steps after it hold only a "blank" flag, and the target is the
    first symbol. The answer must be carried in the state through every blank step.
    Chance accuracy: 1/``n_symbols``.
    """
    n, length = positive_int("n", n), positive_int("length", length)
    n_symbols = positive_int("n_symbols", n_symbols)
    first = rng(seed).integers(0, n_symbols, size=n)
    x = np.zeros((n, length, n_symbols + 1), np.float32)
    x[np.arange(n), 0, first] = 1.0
    x[:, 1:, n_symbols] = 1.0  # the blank flag
    return x, first.astype(np.int64)


def memory_experiment(lengths, cells=CELLS, n_train: int = 1000, n_test: int = 500,
                      units: int = 16, epochs: int = 15, seed: int = 0):  # fmt: skip
    """Test accuracy on :func:`recall_task` for each cell and sequence length."""
    import keras
    import pandas as pd

    scores = {}
    for length in lengths:
        x, y = recall_task(n_train, length, seed=seed)
        x_test, y_test = recall_task(n_test, length, seed=seed + 1)
        for cell in cells:
            keras.utils.set_random_seed(seed)
            model = recurrent_model(cell, units, x.shape[1:], int(y.max()) + 1, "softmax")
            model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
            model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
            predicted = np.argmax(np.asarray(model(x_test, training=False)), axis=1)
            scores[(cell, length)] = float(np.mean(predicted == y_test))
    table = pd.Series(scores).unstack(0)[list(cells)]
    table.index.name = "sequence length"
    return table


def draw_unrolled(steps: int = 4):
    """The recurrent loop drawn folded (left) and unrolled over ``steps`` time steps."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from dlbook.plotting import PALETTE, figure

    fig, axes = figure(1, 1, width=8.5, height=2.8)
    ax = axes[0, 0]
    ax.set_xlim(-0.5, steps * 1.6 + 1.9)
    ax.set_ylim(-0.4, 2.6)
    ax.axis("off")

    def box(x, y, text, colour):
        ax.add_patch(FancyBboxPatch((x - 0.35, y - 0.25), 0.7, 0.5, boxstyle="round,pad=0.05",
                                    fc=colour, ec="black", lw=1))  # fmt: skip
        ax.text(x, y, text, ha="center", va="center", fontsize=10)

    def arrow(start, end, **style):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12,
                                     lw=1.2, **style))  # fmt: skip

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
