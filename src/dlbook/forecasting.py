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
    seed: int | None = None,
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


def seasonal_naive(series: np.ndarray, target_index, period: int = 52) -> np.ndarray:
    """The seasonal baseline: each target's value one ``period`` earlier (52 weeks: the
    same week last year)."""
    series = np.asarray(series, np.float32)
    period = positive_int("period", period)
    target_index = np.asarray(target_index)
    if series.ndim != 1 or not np.issubdtype(target_index.dtype, np.integer):
        raise ValueError("series must be 1-D and target_index integer positions in it")
    if target_index.size and (
        target_index.min() < period or target_index.max() >= len(series)
    ):
        raise ValueError(
            f"target_index must lie in {period}..{len(series) - 1} for period {period}"
        )
    return series[target_index - period]


@dataclass(frozen=True)
class LinearAR:
    """A linear autoregressive forecast on the window's own terms: the last value, plus
    a constant, plus a weighted sum of how far each chosen earlier value sits from the
    last one. ``lags``: 1 is the last value of the window, 2 the one before, ..."""

    lags: tuple[int, ...]
    weights: np.ndarray  # one per lag, then the constant

    def _features(self, w: Windows) -> np.ndarray:
        if not isinstance(w, Windows):
            raise TypeError(f"w must be the Windows of windows(), got {w!r:.60}")
        if max(self.lags, default=1) > w.x.shape[1]:
            raise ValueError(
                f"w's windows hold {w.x.shape[1]} values, lags reach {max(self.lags)}"
            )
        last = w.x[:, -1, 0].astype(np.float64)
        columns = [w.x[:, -lag, 0] - last for lag in self.lags]
        return np.column_stack([*columns, np.ones(len(last))])

    def predict(self, w: Windows) -> np.ndarray:
        """The forecast of each window's target."""
        return w.x[:, -1, 0] + self._features(w) @ self.weights


def fit_linear_ar(train: Windows, lags=None) -> LinearAR:
    """Least squares on the training windows (the change from the last value, from how
    far each earlier value of ``lags`` sits from it); ``lags=None``: the whole window.
    Closed form, nothing random: the statistician's baseline before any network."""
    if not isinstance(train, Windows) or not len(train.y):
        raise ValueError(f"train must be non-empty Windows, got {train!r:.60}")
    lookback = train.x.shape[1]
    lags = tuple(range(2, lookback + 1)) if lags is None else tuple(lags)
    if any(
        not isinstance(lag, int | np.integer) or not 2 <= lag <= lookback
        for lag in lags
    ):
        raise ValueError(f"lags must be integers in 2..{lookback}, got {lags!r}")
    model = LinearAR(tuple(int(lag) for lag in lags), np.zeros(len(lags) + 1))
    target = train.y - train.x[:, -1, 0].astype(np.float64)
    weights, *_ = np.linalg.lstsq(model._features(train), target, rcond=None)
    return LinearAR(model.lags, weights)
