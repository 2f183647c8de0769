"""The training core pays its fixed costs once per training: Keras traces the train and
test steps when a ``fit`` starts, never again per epoch.

A layer counts how often its Python ``call`` runs: in a traced step that is once per
trace, so the count must not grow with the number of epochs.
"""

import keras
import numpy as np

from dlbook import training


class CountingDense(keras.layers.Dense):
    """A Dense layer that counts the Python executions of its ``call``."""

    calls = 0

    def call(self, inputs):
        CountingDense.calls += 1
        return super().call(inputs)


def _traces(epochs: int) -> int:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    training.reseed(1)
    model = keras.Sequential(
        [keras.Input((4,)), CountingDense(8, activation="relu"), keras.layers.Dense(2)]
    )
    CountingDense.calls = 0
    training.fit(
        model,
        (x[:110], y[:110]),  # 3 full batches of 32 and one of 14: two shapes
        val=(x[110:], y[110:]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        epochs=epochs,
        evaluate={"test": (x[110:], y[110:])},
        seed=0,
    )
    return CountingDense.calls


def test_the_steps_are_traced_once_per_training_not_per_epoch(no_store):
    one, five = _traces(1), _traces(5)
    assert one > 0, "the counting layer never ran: the test measures nothing"
    assert five == one, f"{one} traces for 1 epoch, {five} for 5: a step retraces"
