"""Which way a series goes next: windows of a series classified as rising or not.

Used by ``docs/text_models.md`` (a 1D convnet against a GRU on weekly CO2, as a
classification of windows rather than the one-step forecasts of ``forecasting.md``).
"""

from __future__ import annotations

import numpy as np

from dlbook import forecasting, training
from dlbook.base.seeding import reseed, resolve_seed
from dlbook.base.validate import positive_int

DIRECTION_KINDS = ("conv1d", "GRU")


def rise_windows(series, lookback: int, horizon: int) -> forecasting.Windows:
    """Every window of ``lookback`` past values, less its last value (only the shape of
    the recent past, not the level), labelled 1 when the value ``horizon`` steps after
    the window's end is above that last value, else 0."""
    w = forecasting.windows(series, lookback=lookback, horizon=horizon)
    last = w.x[:, -1:, :]
    rises = (w.y > last[:, 0, 0]).astype(np.int64)
    return forecasting.Windows(w.x - last, rises, w.target_index)


def direction_classifier(kind: str, lookback: int, units: int = 16):
    """A sigmoid classifier of windows (lookback, 1): ``conv1d`` (two convolutions of 5
    steps, max over positions) or ``GRU`` (its last state)."""
    import keras
    from keras import layers

    if kind not in DIRECTION_KINDS:
        raise ValueError(f"kind must be one of {DIRECTION_KINDS}, got {kind!r}")
    lookback, units = positive_int("lookback", lookback), positive_int("units", units)
    body = {
        "conv1d": [
            layers.Conv1D(units, 5, activation="relu"),
            layers.Conv1D(units, 5, activation="relu"),
            layers.GlobalMaxPooling1D(),
        ],
        "GRU": [layers.GRU(units)],
    }[kind]
    return keras.Sequential(
        [keras.Input((lookback, 1)), *body, layers.Dense(1, activation="sigmoid")],
        name=f"direction_{kind}",
    )


def fit_direction(
    kind: str,
    train,
    val,
    test,
    seed: int | None = None,
    epochs: int = 40,
    patience: int = 6,
    learning_rate: float = 3e-3,
) -> dict:
    """Train one classifier (Adam at ``learning_rate``, early stopping on validation
    accuracy, best weights kept) on windows scaled by the training windows' spread;
    returns its validation and test accuracy and which test windows it got right."""
    seed = resolve_seed(seed)
    for name, part in (("train", train), ("val", val), ("test", test)):
        if not isinstance(part, forecasting.Windows) or not len(part.y):
            raise ValueError(f"{name} must be non-empty Windows, got {part!r:.60}")
    scale = float(train.x.std()) or 1.0
    reseed(seed)
    model = direction_classifier(kind, train.x.shape[1])
    result = training.fit(
        model,
        (train.x / scale, train.y),
        val=(val.x / scale, val.y),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        epochs=epochs,
        batch_size=32,
        patience=patience,
        monitor="val_accuracy",
        seed=seed,
        learning_rate=learning_rate,
    )
    right = (training.predict(model, test.x / scale)[:, 0] > 0.5) == test.y
    return {
        "kind": kind,
        "seed": seed,
        "params": model.count_params(),
        "epochs": result.epochs,
        "val_accuracy": training.binary_accuracy(model, val.x / scale, val.y),
        "test_accuracy": float(right.mean()),
        "test_right": right,
    }
