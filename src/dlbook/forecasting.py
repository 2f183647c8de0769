"""Forecasting a real series: windows split by time, a naive baseline, and models.

Used by ``docs/forecasting.md`` (weekly Mauna Loa CO2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlbook import training
from dlbook.base.validate import positive_int, split_fractions
from dlbook.last_layer import mean_absolute_error as mae
from dlbook.recurrent import CELLS


@dataclass(frozen=True)
class Windows:
    """Input windows ``x`` (n, lookback, 1), targets ``y`` (n,) and the series index
    of each target, so that splits and plots can follow time."""

    x: np.ndarray
    y: np.ndarray
    target_index: np.ndarray

    def take(self, mask) -> Windows:
        return Windows(self.x[mask], self.y[mask], self.target_index[mask])


def windows(series: np.ndarray, lookback: int, horizon: int = 1) -> Windows:
    """Every window of ``lookback`` past values and the value ``horizon`` steps after
    its last one. Inputs end strictly before the target: no future value leaks in."""
    series = np.asarray(series, np.float32)
    lookback, horizon = (
        positive_int("lookback", lookback),
        positive_int("horizon", horizon),
    )
    count = len(series) - lookback - horizon + 1
    if series.ndim != 1 or count < 1:
        raise ValueError(
            f"series must be 1-D and longer than lookback + horizon - 1 "
            f"({lookback + horizon - 1}), got shape {series.shape}"
        )
    starts = np.arange(count)
    x = np.stack([series[s : s + lookback] for s in starts])[..., None]
    target_index = starts + lookback + horizon - 1
    return Windows(x, series[target_index], target_index)


def split_by_time(w: Windows, n_points: int, fractions=(0.6, 0.2, 0.2)):
    """Train / validation / test windows by the time of their target: the first 60% of
    the series' time trains, the next 20% validates, the last 20% tests. No shuffling."""
    if not isinstance(w, Windows):
        raise TypeError(f"w must be the Windows of windows(), got {w!r:.60}")
    n_points = positive_int("n_points", n_points)
    fractions = split_fractions(fractions)
    cut_val = int(n_points * fractions[0])
    cut_test = int(n_points * (fractions[0] + fractions[1]))
    t = w.target_index
    return (
        w.take(t < cut_val),
        w.take((t >= cut_val) & (t < cut_test)),
        w.take(t >= cut_test),
    )


def naive_forecast(x: np.ndarray) -> np.ndarray:
    """The common-sense baseline: the next value equals the last one seen."""
    if np.ndim(x) != 3:
        raise ValueError(f"x must be windows (n, lookback, 1), got shape {np.shape(x)}")
    return x[:, -1, 0]


def forecaster(kind: str, lookback: int, units: int = 32):
    """A small model for one-step forecasts: ``dense``, a recurrent cell (``SimpleRNN``,
    ``LSTM``, ``GRU``), ``conv1d``, ``stacked GRU`` or ``bidirectional GRU``."""
    import keras
    from keras import layers

    lookback, units = positive_int("lookback", lookback), positive_int("units", units)
    body = {
        "dense": lambda: [layers.Flatten(), layers.Dense(units, activation="relu")],
        "conv1d": lambda: [
            layers.Conv1D(units, 5, activation="relu"),
            layers.MaxPooling1D(2),
            layers.Conv1D(units, 5, activation="relu"),
            layers.GlobalAveragePooling1D(),
        ],
        "stacked GRU": lambda: [
            layers.GRU(units, return_sequences=True),
            layers.GRU(units),
        ],
        "bidirectional GRU": lambda: [layers.Bidirectional(layers.GRU(units))],
        **{cell: (lambda cell=cell: [getattr(layers, cell)(units)]) for cell in CELLS},
    }
    if kind not in body:
        raise ValueError(f"kind must be one of {list(body)}, got {kind!r}")
    return keras.Sequential(
        [keras.Input((lookback, 1)), *body[kind](), layers.Dense(1)],
        name=kind.replace(" ", "_"),
    )


@dataclass
class Fit:
    """A trained forecaster's scores in the series' own units (ppm for CO2)."""

    kind: str
    relative: bool
    params: int
    seconds_per_epoch: float
    val_mae: float
    test_mae: float
    test_prediction: np.ndarray


def fit_forecaster(
    kind: str,
    train: Windows,
    val: Windows,
    test: Windows,
    relative: bool = True,
    epochs: int = 40,
    patience: int = 6,
    units: int = 32,
    seed: int = 0,
) -> Fit:
    """Train one forecaster on scaled windows and score it in real units.

    ``relative=False`` feeds absolute levels scaled with the training mean and std;
    ``relative=True`` subtracts each window's last value from inputs and target, so the
    model predicts the *change*, which stays in range when the level trends upwards.
    """
    for name, part in (("train", train), ("val", val), ("test", test)):
        if not isinstance(part, Windows) or not len(part.y):
            raise ValueError(f"{name} must be non-empty Windows, got {part!r:.60}")

    def encode(w: Windows):
        if relative:
            last = w.x[:, -1:, :]
            return (w.x - last) / scale, (w.y - last[:, 0, 0]) / scale
        return (w.x - mean) / scale, (w.y - mean) / scale

    def decode(w: Windows, out):
        out = np.ravel(out) * scale
        return out + (w.x[:, -1, 0] if relative else mean)

    if relative:
        mean, scale = 0.0, float(np.std(train.y - train.x[:, -1, 0]))
    else:
        mean, scale = float(train.x.mean()), float(train.x.std())
    model = forecaster(kind, train.x.shape[1], units)
    trained = training.fit(
        model,
        encode(train),
        val=encode(val),
        loss="mse",
        epochs=epochs,
        batch_size=32,
        patience=patience,
        seed=seed,
    )
    per_epoch = trained.seconds_per_epoch

    def predict(w):
        return decode(w, np.asarray(model(encode(w)[0], training=False)))

    test_prediction = predict(test)
    return Fit(
        kind,
        relative,
        model.count_params(),
        per_epoch,
        mae(val.y, predict(val)),
        mae(test.y, test_prediction),
        test_prediction,
    )
