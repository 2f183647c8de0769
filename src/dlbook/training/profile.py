"""Where a training's time goes: its fixed cost, its steady steps, its arithmetic.

:func:`dlbook.training.run` collects, for every Keras ``fit`` its routine makes through
the core, the wall time of each epoch split into training steps and validation, and
the model's multiply-adds per sample (:func:`multiply_adds`, counted from the layers'
shapes). The journal of the store keeps them; ``nox -s benchmark`` turns them into the
fixed cost (building, tracing, the first step) against the steady state, samples per
second and FLOP/s against the machine's measured peak. Timing never changes weights.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import statistics
import time

_COLLECTED: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "dlbook_fit_profiles", default=None
)


@contextlib.contextmanager
def collecting():
    """Within the block, every core ``fit`` appends its profile to the list yielded."""
    profiles: list[dict] = []
    token = _COLLECTED.set(profiles)
    try:
        yield profiles
    finally:
        _COLLECTED.reset(token)


def timer(model, samples: int | None):
    """A Keras callback that times the ``fit`` it is passed to, or None outside
    :func:`collecting` (a fit outside a stored training is not profiled)."""
    profiles = _COLLECTED.get()
    if profiles is None:
        return None
    import keras

    class _FitTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.profile = {
                "samples": samples,
                "macs": multiply_adds(model),
                "epochs": [],
            }
            profiles.append(self.profile)
            self._epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = {"begin": time.perf_counter(), "steps": 0}

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self._epoch["steps"] == 0:
                self._epoch["first_step"] = now - self._epoch["begin"]
            self._epoch["steps"] += 1
            self._epoch["train_end"] = now

        def on_epoch_end(self, epoch, logs=None):
            now, e = time.perf_counter(), self._epoch
            self.profile["epochs"].append(
                {
                    "steps": e["steps"],
                    "first_step_s": round(e.get("first_step", 0.0), 5),
                    "train_s": round(e.get("train_end", now) - e["begin"], 5),
                    "rest_s": round(now - e.get("train_end", now), 5),
                }
            )

    return _FitTimer()


def _size(shape) -> int:
    return math.prod(int(d) for d in shape if d is not None)


def _layer_macs(layer) -> int:
    """Forward multiply-adds of one layer for one sample, from its weights and its
    output shape; 0 for layers whose arithmetic is negligible or not counted."""
    kind = type(layer).__name__
    try:
        out = _size(layer.output.shape[1:])
    except (AttributeError, ValueError):
        return 0
    kernel = getattr(layer, "kernel", None)
    if kind in {"Dense", "EinsumDense"} and kernel is not None:
        units = int(kernel.shape[-1])
        return out // units * _size(kernel.shape)
    if kind in {"Conv1D", "Conv2D", "Conv3D"} and kernel is not None:
        # every output value is one dot product over the kernel's window and inputs
        return out * _size(kernel.shape[:-1])
    if kind in {"DepthwiseConv1D", "DepthwiseConv2D"} and kernel is not None:
        return out * _size(kernel.shape[:-2])
    if kind in {"SeparableConv1D", "SeparableConv2D"}:
        depth, point = layer.depthwise_kernel, layer.pointwise_kernel
        positions = out // int(point.shape[-1])
        per_position = _size(depth.shape[:-2]) * int(depth.shape[-2]) * int(
            depth.shape[-1]
        ) + _size(point.shape)
        return positions * per_position
    if kind in {"SimpleRNN", "LSTM", "GRU"}:
        cell = layer.cell
        inputs = layer.input  # a list when a mask came with the sequence
        inputs = inputs[0] if isinstance(inputs, list | tuple) else inputs
        steps = int(inputs.shape[1] or 1)
        return steps * (_size(cell.kernel.shape) + _size(cell.recurrent_kernel.shape))
    if kind == "Bidirectional":
        return _layer_macs(layer.forward_layer) + _layer_macs(layer.backward_layer)
    return 0


def multiply_adds(model) -> int | None:
    """Forward multiply-adds per sample of ``model``'s counted layers (Dense,
    convolutions, recurrent layers; attention's projections as Dense), None when the
    model has no known shapes. Nested models are counted through."""
    layers = getattr(model, "layers", None)
    if layers is None:
        return None
    total = 0
    for layer in layers:
        if hasattr(layer, "layers") and not hasattr(layer, "cell"):
            total += multiply_adds(layer) or 0
        else:
            total += _layer_macs(layer)
    return total or None


def summary(profile: dict) -> dict:
    """One fit's profile reduced: seconds, fixed cost (the first epoch's excess over a
    steady epoch: building, tracing, the first step), steady samples per second and
    training FLOP/s (6 FLOPs a multiply-add a sample: forward, two backward)."""
    epochs = profile["epochs"]
    total = sum(e["train_s"] + e["rest_s"] for e in epochs)
    out = {"seconds": total, "epochs": len(epochs), "macs": profile.get("macs")}
    if len(epochs) < 2 or not epochs[-1]["steps"]:
        return {**out, "fixed_s": None, "samples_per_s": None, "flops": None}
    later = epochs[1:]
    step = statistics.median(e["train_s"] / e["steps"] for e in later if e["steps"])
    rest = statistics.median(e["rest_s"] for e in later)
    first = epochs[0]
    fixed = first["train_s"] - first["steps"] * step + first["rest_s"] - rest
    samples = profile.get("samples")
    steps = first["steps"]
    rate = samples / (steps * step) if samples and step > 0 else None
    flops = 6 * profile["macs"] * rate if rate and profile.get("macs") else None
    return {**out, "fixed_s": max(fixed, 0.0), "samples_per_s": rate, "flops": flops}
