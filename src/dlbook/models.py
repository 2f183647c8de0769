"""Small model builders shared by several pages."""

from __future__ import annotations

from collections.abc import Sequence

from dlbook.base.validate import positive_int


def dense_network(
    n_inputs: int,
    n_outputs: int,
    activation: str | None,
    hidden: Sequence[int] = (64, 32),
    name: str = "dense_network",
):
    """A fully connected network: ``hidden`` ReLU layers, then ``n_outputs`` units
    with the last-layer ``activation`` (``None`` for a linear output): the Memo page
    pairs each last-layer activation with its loss on it (the API reference lists
    every page that uses it)."""
    import keras

    n_inputs, n_outputs = (
        positive_int("n_inputs", n_inputs),
        positive_int("n_outputs", n_outputs),
    )
    if any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be positive layer widths, got {hidden!r}")
    layers = [keras.Input(shape=(n_inputs,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(
        keras.layers.Dense(n_outputs, activation=activation, name="last_layer")
    )
    return keras.Sequential(layers, name=name)
