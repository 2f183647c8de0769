"""One small model per kind of data, as the notes' memo recommends them.

Used by ``docs/architectures.md``. Each builder returns a compiled-ready Keras model
with a softmax output; :func:`run` trains one on a dataset and reports its figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlbook import data, training
from dlbook.base.seeding import reseed
from dlbook.base.validate import positive_int


def _classifier(name: str, input_shape, body, n_classes: int, dtype="float32"):
    import keras

    n_classes = positive_int("n_classes", n_classes)
    out = keras.layers.Dense(n_classes, activation="softmax")
    return keras.Sequential(
        [keras.Input(input_shape, dtype=dtype), *body, out], name=name
    )


def waveform_conv1d(length: int, n_classes: int):
    """Raw waveform -> strided 1D convolutions (each layer a filter bank over time)."""
    from keras import layers

    body = [
        layers.Conv1D(16, 9, strides=2, activation="relu"),
        layers.MaxPooling1D(4),
        layers.Conv1D(32, 9, activation="relu"),
        layers.MaxPooling1D(4),
        layers.Conv1D(32, 5, activation="relu"),
        layers.GlobalMaxPooling1D(),
    ]
    length = positive_int("length", length)
    return _classifier("waveform_conv1d", (length, 1), body, n_classes)


def waveform_gru(length: int, n_classes: int, frame: int = 16):
    """Raw waveform cut into frames of ``frame`` samples -> GRU over the frames (a GRU
    over every single sample would take ``length`` sequential steps)."""
    from keras import layers

    length, frame = positive_int("length", length), positive_int("frame", frame)
    if length % frame:
        raise ValueError(f"length must be a multiple of frame={frame}, got {length}")
    body = [layers.Reshape((length // frame, frame)), layers.GRU(32)]
    return _classifier("waveform_gru", (length, 1), body, n_classes)


def symbol_model(kind: str, length: int, n_symbols: int, n_classes: int = 2):
    """Symbol sequences: ``GRU``, ``conv1d`` (two 3-wide layers, max over positions:
    each position sees 5 symbols), ``dilated conv1d`` (3-wide layers dilated 1, 2, 4,
    8 and 16: each position sees 63 symbols, the whole of a sequence up to that
    length, so the comparison with the GRU is fair) or ``bag of symbols`` (counts
    only: order is thrown away)."""
    from keras import layers

    bodies = {
        "GRU": lambda: [layers.Embedding(n_symbols, 8), layers.GRU(32)],
        "conv1d": lambda: [
            layers.Embedding(n_symbols, 8),
            layers.Conv1D(32, 3, activation="relu"),
            layers.Conv1D(32, 3, activation="relu"),
            layers.GlobalMaxPooling1D(),
        ],
        "dilated conv1d": lambda: [
            layers.Embedding(n_symbols, 8),
            *(
                layers.Conv1D(32, 3, dilation_rate=d, padding="same", activation="relu")
                for d in (1, 2, 4, 8, 16)
            ),
            layers.GlobalMaxPooling1D(),
        ],
        "bag of symbols": lambda: [
            layers.CategoryEncoding(n_symbols, output_mode="count"),
            layers.Dense(32, activation="relu"),
        ],
    }
    if kind not in bodies:
        raise ValueError(f"kind must be one of {list(bodies)}, got {kind!r}")
    length, n_symbols = (
        positive_int("length", length),
        positive_int("n_symbols", n_symbols),
    )
    return _classifier(
        kind.replace(" ", "_"), (length,), bodies[kind](), n_classes, "int64"
    )


def frame_features():
    """Per-frame 2D convnet that keeps *where* things are (flatten, not global pooling):
    motion is a change of position, so position must reach the next layer."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
        ],
        name="frame_features",
    )


def video_conv3d(frames: int, size: int, n_classes: int):
    """Clip -> 3D convolutions over (time, height, width)."""
    from keras import layers

    frames, size = positive_int("frames", frames), positive_int("size", size)

    body = [
        layers.Conv3D(8, 3, activation="relu"),
        layers.MaxPooling3D((1, 2, 2)),
        layers.Conv3D(16, 3, activation="relu"),
        layers.MaxPooling3D((1, 2, 2)),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
    ]
    return _classifier("video_conv3d", (frames, size, size, 1), body, n_classes)


def video_frames_gru(frames: int, size: int, n_classes: int):
    """Clip -> the same 2D convnet on every frame (``TimeDistributed``) -> GRU over time."""
    from keras import layers

    frames, size = positive_int("frames", frames), positive_int("size", size)
    body = [layers.TimeDistributed(frame_features()), layers.GRU(32)]
    return _classifier("video_frames_gru", (frames, size, size, 1), body, n_classes)


def single_frame(size: int, n_classes: int):
    """One frame only -> 2D convnet: the control that shows a task needs motion."""
    size = positive_int("size", size)
    return _classifier("single_frame", (size, size, 1), [frame_features()], n_classes)


def volume_conv3d(size: int, n_classes: int):
    """Voxel volume -> 3D convolutions."""
    from keras import layers

    size = positive_int("size", size)

    body = [
        layers.Conv3D(8, 3, activation="relu"),
        layers.MaxPooling3D(2),
        layers.Conv3D(16, 3, activation="relu"),
        layers.GlobalMaxPooling3D(),
    ]
    return _classifier("volume_conv3d", (size, size, size, 1), body, n_classes)


def image_conv2d(size: int, n_classes: int):
    """Small image -> 2D convolutions."""
    from keras import layers

    size = positive_int("size", size)

    body = [
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.GlobalMaxPooling2D(),
    ]
    return _classifier("image_conv2d", (size, size, 1), body, n_classes)


@dataclass
class Run:
    """What one trained model scored: the figures that go into the page's table."""

    model: str
    params: int
    seconds_per_epoch: float
    test_accuracy: float
    chance: float
    #: which test items it read right, in order: for paired comparisons (checks.compare)
    right: np.ndarray = field(default=None, repr=False)


def run(
    build,
    splits: data.Splits,
    epochs: int = 20,
    patience: int | None = 4,
    seed: int | None = None,
) -> Run:
    """Seed, build, train with early stopping on validation accuracy (none when
    ``patience`` is None), score on test. ``chance`` is the test share of the most
    frequent class."""
    reseed(seed)
    model = build()
    trained = training.fit_classifier(
        model, splits, epochs=epochs, patience=patience, seed=seed
    )
    chance = float(np.bincount(splits.test[1]).max() / len(splits.test[1]))
    x_test, y_test = splits.test
    right = training.predict(model, x_test).argmax(axis=1) == np.asarray(y_test)
    return Run(
        model.name,
        model.count_params(),
        trained.seconds_per_epoch,
        trained.test_accuracy,
        chance,
        right,
    )


def runs_table(runs: dict):
    """One row per named :class:`Run`: params, time per epoch, test accuracy, chance."""
    import pandas as pd

    if not isinstance(runs, dict) or not all(isinstance(r, Run) for r in runs.values()):
        raise TypeError(f"runs must be a dict of Run by name, got {runs!r:.60}")
    rows = {
        name: {
            "params": r.params,
            "time per epoch": f"{r.seconds_per_epoch:.2f} s",
            "test accuracy": round(r.test_accuracy, 3),
            "chance": round(r.chance, 3),
        }
        for name, r in runs.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
