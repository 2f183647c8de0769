"""The one training core of the book: fit, run, predict, accuracy.

Every chapter trains through :func:`fit` (Keras' ``fit`` with validation and early
stopping) or, for a training that is not one ``fit`` call (a GAN's alternating steps,
a DQN's episodes, style transfer's optimisation of an image), through :func:`run` with
a routine of its own. Both are memoised in the trained-model store
(:mod:`dlbook.training.store`): a training runs only when something that decides its
weights changes. The page that shows this code is ``docs/training.md``.
"""

from __future__ import annotations

import inspect
import json
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dlbook.base import ledger
from dlbook.base.seeding import check_seed, reseed, resolve_seed
from dlbook.base.validate import examples, pair, positive_int, positive_number
from dlbook.training import profile, store
from dlbook.training.key import training_key


@dataclass
class Result:
    """What a routine recorded (JSON values), with the store's bookkeeping."""

    record: dict
    seconds: float
    restored: bool
    key: str
    #: the optimizers' variables by model name, when ``run(store_optimizer=True)``
    optimizers: dict = field(default_factory=dict, repr=False)


def after_seed(seed: int) -> int:
    """The seed every generator gets after a training, hit or miss alike, so that what
    follows draws the same numbers whether the training ran or was restored."""
    return (check_seed(seed) + 1) % 2**32


def run(
    routine: Callable[..., dict],
    models,
    *,
    seed: int | None = None,
    store_optimizer: bool = False,
    key: str | None = None,
    **arguments,
) -> Result:
    """Call ``routine(models, seed=seed, **arguments)`` once per key, memoised (``seed``
    None: the page's seed, :func:`dlbook.base.seeding.current_seed`).

    ``models`` is a built Keras model or a dict of them, trained in place by the
    routine, which returns a JSON-able record (history, metrics). On a store hit the
    models get the stored weights and the stored record comes back without training.
    Either way every random generator is seeded with ``seed`` before and with
    :func:`after_seed` after, so the cells that follow print the same, and the record
    is the same (it goes through JSON both ways: NumPy values become plain ones).
    ``store_optimizer``: store each model's optimizer variables too and hand them back
    as :attr:`Result.optimizers` (a training continued with that optimizer needs them).
    ``key``: a label of yours for what the store cannot see through (a function
    without readable source, an object of your own); it is refused without one.
    """
    seed = resolve_seed(seed)
    named = models if isinstance(models, dict) else {"model": models}
    if not named:
        raise ValueError("models must be a Keras model or a non-empty dict of them")
    arguments = with_defaults(routine, arguments)
    began = time.perf_counter()
    key = training_key(routine, named, seed, arguments, key=key)
    keyed = time.perf_counter() - began
    with store.locked(key):
        found = None if store.retrain_requested() else store.load(key)
        if (
            found is not None
            and store_optimizer
            and any(f"{name}{OPTIMIZER}" not in found[0] for name in named)
        ):
            found = None  # stored without the optimizers asked for: train again
        if found is not None:
            found = _restore(key, named, routine, arguments, *found, store_optimizer)
        if found is not None:
            record, seconds, optimizers = found
            restored = True
        else:
            reseed(seed)
            start = time.perf_counter()
            with profile.collecting() as fits:
                record = routine(models, seed=seed, **arguments)
            seconds, restored = time.perf_counter() - start, False
            if not isinstance(record, dict):
                raise TypeError(
                    f"a routine must return a dict, got {type(record).__name__}"
                )
            record = json.loads(store._canonical_record(record))
            saved = {
                name: [np.asarray(v.numpy()) for v in m.variables]
                for name, m in named.items()
            }
            optimizers = {
                name: [np.asarray(v.numpy()) for v in m.optimizer.variables]
                for name, m in named.items()
                if store_optimizer
            }
            saved.update({f"{n}{OPTIMIZER}": v for n, v in optimizers.items()})
            store.save(key, saved, {**record, "_seconds": seconds})
    reseed(after_seed(seed))
    ledger.record(key, seconds, restored)
    wall = time.perf_counter() - began
    store.journal(
        {
            "key": key,
            "routine": f"{routine.__module__}.{routine.__qualname__}",
            "restored": restored,
            "training_s": round(seconds, 4),
            "key_s": round(keyed, 4),
            # the store's own cost: keying, reading, verifying, writing
            "overhead_s": round(wall - (0.0 if restored else seconds), 4),
            # each Keras fit of a training that ran: epoch times, multiply-adds
            "fits": [] if restored else fits,
        }
    )
    return Result(record, seconds, restored, key, optimizers)


def with_defaults(routine: Callable, arguments: dict) -> dict:
    """``arguments`` with the routine's other keyword defaults filled in: passing a
    default explicitly or leaving it out is one training, under one key."""
    try:
        parameters = list(inspect.signature(routine).parameters.values())[1:]
    except (TypeError, ValueError):  # a callable without a signature: as given
        return dict(arguments)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    defaults = {
        p.name: p.default
        for p in parameters
        if p.kind in kinds and p.default is not p.empty and p.name != "seed"
    }
    return {**defaults, **arguments}


OPTIMIZER = ".optimizer"  # suffix of the store's entry for a model's optimizer


#: the fields a routine's record must hold, by routine (checked on every restore)
RECORD_FIELDS: dict = {}
#: by routine: ``check(models, optimizers, arguments)`` raises unless a restored
#: optimizer state fits what the routine would continue with
RESTORE_CHECKS: dict = {}


def _restore(key, named, routine, arguments, weights, record, store_optimizer):
    """Give ``named`` the stored weights and return ``(record, seconds, optimizers)``;
    or, when the entry does not fit (other shapes or counts, fields missing), discard
    it with a :class:`~dlbook.training.store.StoreWarning`, leave the models as they
    were and return ``None`` (the caller trains)."""
    try:
        for name, model in named.items():
            _check_fits(model.variables, weights[name], f"model {model.name!r}")
        seconds = float(record.pop("_seconds"))
        for field_name, kind in RECORD_FIELDS.get(routine, {}).items():
            if not isinstance(record.get(field_name), kind):
                raise ValueError(
                    f"the record's {field_name!r} is not a {kind.__name__}"
                )
        optimizers = {n: weights[f"{n}{OPTIMIZER}"] for n in named if store_optimizer}
        if store_optimizer and routine in RESTORE_CHECKS:
            RESTORE_CHECKS[routine](named, optimizers, arguments)
    except Exception as error:  # noqa: BLE001 - any mismatch: discard and retrain
        store.discard(store.entry_path(key), f"{type(error).__name__}: {error}")
        return None
    for name, model in named.items():
        for variable, value in zip(model.variables, weights[name], strict=True):
            variable.assign(value)
    return record, seconds, optimizers


def _check_fits(variables, values, what: str) -> None:
    """Raise unless ``values`` are as many arrays as ``variables``, of their shapes."""
    if len(values) != len(variables):
        raise ValueError(
            f"{len(values)} stored arrays for the {len(variables)} of {what}"
        )
    for variable, value in zip(variables, values, strict=True):
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"a stored {tuple(value.shape)} array for {what}'s {variable.path} "
                f"{tuple(variable.shape)}"
            )


# --- the standard routine: Keras fit ----------------------------------------------------


@dataclass
class Fit:
    """A trained model, its learning curves (``history``), the metrics recorded after
    training (``metrics``, e.g. ``test_accuracy``) and its training time."""

    model: object
    history: dict
    metrics: dict
    seconds: float
    restored: bool
    key: str = field(repr=False)

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values()), []))

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    def __getattr__(self, name: str):
        """The recorded metrics read as attributes too: ``fit.test_accuracy``."""
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(
            f"{type(self).__name__} has no attribute or metric {name!r}"
        )


def compile_model(
    model,
    loss,
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    metrics=(),
    clipnorm: float | None = None,
    steps_per_execution: int = 1,
    loss_weights=None,
):
    """Compile ``model`` with a fresh optimizer (by Keras name) at ``learning_rate``.
    ``loss``, ``metrics`` and ``loss_weights`` may be dicts by output name."""
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, int | float)
        or not learning_rate > 0
    ):
        raise ValueError(
            f"learning_rate must be a positive number, got {learning_rate!r}"
        )
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, clipnorm),
        loss=loss,
        loss_weights=loss_weights,
        metrics=dict(metrics) if isinstance(metrics, dict) else list(metrics),
        steps_per_execution=positive_int("steps_per_execution", steps_per_execution),
    )
    return model


def make_optimizer(optimizer: str, learning_rate: float, clipnorm: float | None):
    """A fresh Keras optimizer by name, e.g. ``make_optimizer("adam", 1e-3, None)``."""
    import keras

    config = {"learning_rate": float(learning_rate)}
    if clipnorm is not None:
        config["clipnorm"] = positive_number("clipnorm", clipnorm)
    return keras.optimizers.get({"class_name": optimizer, "config": config})


def _samples(train) -> int | None:
    """Samples in one epoch of ``train`` (arrays, or a tuple of them), None if unknown."""
    first = train[0] if isinstance(train, (tuple, list)) and train else train
    first = first[0] if isinstance(first, (tuple, list)) and first else first
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape else None


def keras_fit(
    model,
    seed,
    train,
    val,
    compiling,
    epochs,
    batch_size,
    shuffle,
    patience,
    monitor,
    evaluate,
    kept_optimizer=None,
):
    """The routine :func:`fit` runs through :func:`run`: compile (unless
    ``compiling`` is None: keep the optimizer compiled before), Keras ``fit`` with
    optional early stopping, then the ``evaluate`` scores. Public so that a routine
    that fits in stages (the text-generation page's) runs this same loop, not a copy."""
    import keras

    if compiling is not None:  # None: keep the optimizer compiled before
        compile_model(model, **compiling)
    callbacks = [profile.timer(model, _samples(train))]
    callbacks = [c for c in callbacks if c is not None]
    if patience is not None:
        mode = "max" if "acc" in monitor else "min"
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor, patience=patience, mode=mode, restore_best_weights=True
            )
        )
    history = model.fit(
        *train,
        validation_data=val,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=shuffle,
        callbacks=callbacks,
        verbose=0,
    )
    scores = {}
    for part, (x, y) in (evaluate or {}).items():
        values = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
        scores.update({f"{part}_{name}": float(v) for name, v in values.items()})
    curves = {
        name: [float(v) for v in values] for name, values in history.history.items()
    }
    diverged = [
        i for i, v in enumerate(curves.get("loss", []), 1) if not np.isfinite(v)
    ]
    if diverged:
        raise FloatingPointError(
            f"the training diverged: the loss is {curves['loss'][diverged[0] - 1]} "
            f"from epoch {diverged[0]}; check the inputs for NaN and lower "
            "learning_rate (or pass clipnorm=)"
        )
    return {"history": curves, "metrics": scores}


def _optimizers_fit(named: dict, optimizers: dict, arguments: dict) -> None:
    """Raise unless the stored optimizer state fits the optimizer ``keras_fit`` trains
    with (a fresh one built as ``compiling`` says, or the model's kept one)."""
    model = named["model"]
    compiling = arguments.get("compiling")
    if compiling is None:
        probe = type(model.optimizer).from_config(model.optimizer.get_config())
    else:
        probe = make_optimizer(
            compiling["optimizer"], compiling["learning_rate"], compiling["clipnorm"]
        )
    probe.build(model.trainable_variables)
    _check_fits(probe.variables, optimizers["model"], f"{model.name!r}'s optimizer")


RECORD_FIELDS[keras_fit] = {"history": dict, "metrics": dict}
RESTORE_CHECKS[keras_fit] = _optimizers_fit


def fit(
    model,
    train,
    *,
    loss,
    val=None,
    metrics=(),
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    clipnorm: float | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    patience: int | None = None,
    monitor: str | None = None,
    evaluate: dict | None = None,
    seed: int | None = None,
    steps_per_execution: int = 1,
    recompile: bool = True,
    loss_weights=None,
    store_optimizer: bool = False,
    key: str | None = None,
) -> Fit:
    """Train ``model`` on ``train = (x, y)`` with Keras' ``fit``, through the store.

    ``val``: ``(x, y)`` to validate on after each epoch. ``patience``: stop when
    ``monitor`` (default ``val_loss``, or ``loss`` without ``val``) has not improved for
    that many epochs and keep the best epoch's weights. ``evaluate``: named parts,
    e.g. ``{"test": (x, y)}``, scored after training into ``metrics`` as
    ``test_loss``, ``test_accuracy``... ``recompile=False`` keeps the optimizer of an
    earlier compile (its state is then part of the key). To continue an earlier
    ``fit``, give that one ``store_optimizer=True``: the store then keeps its
    optimizer's state beside the weights (an Adam entry triples), so the continued
    training is the same after a restore as after a cold run. For a model with several
    outputs, ``loss``, ``metrics`` and ``loss_weights`` are dicts by output name and
    ``train`` holds dicts by input and output name. ``key``: see :func:`run`.
    Returns a :class:`Fit`. A training whose loss becomes NaN or infinite raises
    :class:`FloatingPointError` and is not stored.
    """
    if not callable(getattr(model, "fit", None)):
        raise TypeError(f"model must be a Keras model, got {model!r:.60}")
    pair("train", train)
    if val is not None:
        pair("val", val)
    for part, scored in (evaluate or {}).items():
        pair(f"evaluate[{part!r}]", scored)
    if clipnorm is not None:
        positive_number("clipnorm", clipnorm)
    epochs, batch_size = (
        positive_int("epochs", epochs),
        positive_int("batch_size", batch_size),
    )
    if patience is not None:
        positive_int("patience", patience)
    monitor = monitor or ("val_loss" if val is not None else "loss")
    if monitor.startswith("val_") and val is None:
        raise ValueError(f"monitor {monitor!r} needs val=(x, y)")
    if not recompile and getattr(model, "optimizer", None) is None:
        raise ValueError("recompile=False needs a model compiled before")
    if not recompile and model in _UNSTORED:
        raise ValueError(
            f"recompile=False continues the optimizer of the last fit of {model.name!r},"
            " whose state the store did not keep: pass store_optimizer=True to that fit"
            " (or reset_optimizer(model) to go on with a zeroed optimizer)"
        )
    compiling = dict(
        loss=loss,
        optimizer=optimizer,
        learning_rate=learning_rate,
        metrics=metrics if isinstance(metrics, dict) else tuple(metrics),
        clipnorm=clipnorm,
        steps_per_execution=steps_per_execution,
        loss_weights=loss_weights,
    )
    kept = None
    if not recompile:  # the kept optimizer decides the weights too
        state = [np.asarray(v.numpy()) for v in model.optimizer.variables]
        # its auto-numbered name ("adam_3") says only how many came before: not kept
        config = {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
        kept = {"state": state, "config": str(sorted(config.items()))}
    options = dict(
        seed=seed,
        train=tuple(train),
        val=None if val is None else tuple(val),
        compiling=compiling if recompile else None,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=shuffle,
        patience=patience,
        monitor=monitor,
        evaluate=evaluate,
        kept_optimizer=kept,
        store_optimizer=store_optimizer,
        key=key,
    )
    result = run(keras_fit, model, **options)
    if result.restored and recompile:  # leave the model compiled, as a miss does
        compile_model(model, **compiling)
    if result.restored and store_optimizer:  # and its optimizer trained
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        state = result.optimizers["model"]  # checked to fit by _optimizers_fit
        for variable, value in zip(model.optimizer.variables, state, strict=True):
            variable.assign(value)
    # hit or miss alike, so that a continuation fails the same cold as warm
    (_UNSTORED.discard if store_optimizer else _UNSTORED.add)(model)
    record = result.record
    return Fit(
        model,
        record["history"],
        record["metrics"],
        result.seconds,
        result.restored,
        result.key,
    )


#: models whose last fit did not store its optimizer's state: not to be continued
_UNSTORED: weakref.WeakSet = weakref.WeakSet()


def reset_optimizer(model) -> None:
    """Zero ``model``'s optimizer state (moments, step count; not the learning rate),
    as a fresh optimizer of its kind starts, so that ``fit(recompile=False)`` trains
    it without a state of its own to store: a model re-initialised for another run
    keeps its traced training step (docs/transfer.md's learning curves)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(f"model {model.name!r} has no optimizer: compile it first")
    for variable in optimizer.variables:
        if variable.name != "learning_rate":
            variable.assign(np.zeros(variable.shape, variable.dtype))
    _UNSTORED.discard(model)


def fit_classifier(
    model,
    splits,
    epochs: int,
    batch_size: int = 64,
    patience: int | None = None,
    seed: int | None = None,
) -> Fit:
    """:func:`fit` for a softmax classifier over integer labels: Adam, sparse
    categorical crossentropy, early stopping on validation accuracy (with
    ``patience``), scored on the test part (``fit.test_accuracy``). ``splits`` has
    ``train``, ``val`` and ``test`` pairs (a :class:`dlbook.data.Splits`)."""
    positive_int("epochs", epochs)
    if not all(hasattr(splits, part) for part in ("train", "val", "test")):
        raise ValueError(f"splits must have train, val and test parts, got {splits!r}")
    return fit(
        model,
        splits.train,
        val=splits.val,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        monitor="val_accuracy",
        evaluate={"test": splits.test},
        seed=seed,
    )


# --- using a trained model ------------------------------------------------------------------


def predict(model, x, batch_size: int = 500) -> np.ndarray:
    """``model``'s outputs for ``x`` in inference mode, by eager batches (no per-model
    retracing warnings), as one array. ``x`` is an array, or for a model with several
    inputs a dict of arrays by input name (or a list, matched by position)."""
    batch_size = positive_int("batch_size", batch_size)
    if isinstance(x, dict):
        parts = {name: np.asarray(v) for name, v in x.items()}
        count = examples("x", parts) or 0

        def take(i):
            return {name: v[i : i + batch_size] for name, v in parts.items()}
    elif isinstance(x, list | tuple):
        parts = [np.asarray(v) for v in x]
        count = (examples("x", parts) or 0) if parts else 0

        def take(i):
            return [v[i : i + batch_size] for v in parts]
    else:
        whole = np.asarray(x)
        count = len(whole) if whole.ndim else 0

        def take(i):
            return whole[i : i + batch_size]

    if count == 0:
        raise ValueError("x must hold at least one example")
    batches = [take(i) for i in range(0, count, batch_size)]
    return np.concatenate([np.asarray(model(b, training=False)) for b in batches])


def _one_label_each(y, count: int) -> np.ndarray:
    """``y`` as an array of ``count`` labels, or an error: one label against many
    predictions would broadcast into a meaningless score."""
    if y is None:
        raise TypeError("y must be an array of labels, got None")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if len(y) != count:
        raise ValueError(
            f"y must have one label per prediction ({count}), got {len(y)}"
        )
    return y


def accuracy(model, x, y) -> float:
    """Share of examples whose most probable class (softmax) is the label ``y``."""
    predicted = np.argmax(predict(model, x), axis=1)
    return float(np.mean(predicted == _one_label_each(y, len(predicted))))


def binary_accuracy(model, x, y) -> float:
    """Share of examples whose sigmoid output, thresholded at 0.5, matches ``y``."""
    predicted = predict(model, x)[:, 0] > 0.5
    return float(np.mean(predicted == _one_label_each(y, len(predicted))))
