"""The trained-model store's key: everything that decides a training's weights, and
nothing else.

The routine, the code (not the bytes) of the ``dlbook`` modules involved, each model's
architecture, layer code and starting weights, the arguments with their data, the
seed, the numeric path and the versions of the distributions the code runs on. A value
whose effect the key cannot see (code without readable source, an object of unknown
kind) is refused with :class:`UnkeyableError`, never keyed by its name alone; a
caller's ``key=`` label makes it enter by its type instead.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
import textwrap
import types

import numpy as np

from dlbook.base.closure import (
    PackageIndex,
    code_text,
    distributions_of,
    environment_fingerprint,
    source_digest,
    third_party_imports,
)

CODE_PACKAGE = "dlbook"
FORMAT = 2  # bump when what the key holds changes
# what every training runs on, whatever else its code imports
CORE_DISTRIBUTIONS = {"numpy", "keras", "tensorflow", "tensorflow-cpu"}


class UnkeyableError(TypeError):
    """A training argument whose effect on the weights the key cannot see."""


def _in_package(module: str) -> bool:
    return module == CODE_PACKAGE or module.startswith(CODE_PACKAGE + ".")


def _is_installed(module: str) -> bool:
    """True for code from the standard library or an installed distribution (keyed by
    its version), False for code of the reader's own (``__main__``, a notebook, a
    script or module of theirs: keyed by its source)."""
    top = module.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or top == "builtins"
        or bool(distributions_of({top}))
    )


class _Keyer:
    """Walks the values of one training and describes each for the key.

    ``modules`` collects the modules whose code decides the training (``dlbook``'s are
    hashed as code, installed ones enter by distribution version); ``opaque``: with a
    caller's ``key=``, what cannot be seen through enters by its type instead of being
    refused."""

    def __init__(self, opaque: bool = False):
        self.modules: set[str] = set()
        self.opaque = opaque
        self._active: set[int] = set()

    def refuse(self, value, where: str, why: str):
        if self.opaque:
            kind = type(value)
            return {"opaque": f"{kind.__module__}.{kind.__qualname__}"}
        raise UnkeyableError(
            f"{where}: the trained-model store cannot key {type(value).__name__} "
            f"{short(value)} ({why}). Define it in a module (a file), pass plain "
            "values (numbers, strings, arrays, Keras objects, functools.partial), or "
            "pass key='<a label you change with every setting>' to fit/run"
        )

    def __call__(self, value, where: str = "argument"):  # noqa: C901 - one case each
        if isinstance(value, np.ndarray) or _is_tensor(value):
            array = np.ascontiguousarray(np.asarray(value))
            if array.dtype == object:
                return {"objects": self(array.tolist(), where)}
            digest = hashlib.sha256(array.tobytes()).hexdigest()
            return {
                "array": str(array.dtype),
                "shape": list(array.shape),
                "sha256": digest,
            }
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, bytes):
            return {"bytes": hashlib.sha256(value).hexdigest()}
        if id(value) in self._active:  # a function that refers to itself
            return {"recursive": getattr(value, "__qualname__", type(value).__name__)}
        self._active.add(id(value))
        try:
            return self._container_or_code(value, where)
        finally:
            self._active.discard(id(value))

    def _container_or_code(self, value, where):  # noqa: C901 - one case each
        if isinstance(value, dict):
            return {
                "dict": [[str(k), self(v, f"{where}[{k!r}]")] for k, v in value.items()]
            }
        if isinstance(value, list | tuple):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, set | frozenset):
            items = sorted(json.dumps(self(v, where), sort_keys=True) for v in value)
            return {"set": items}
        if isinstance(value, functools.partial):
            return {
                "partial": self(value.func, f"{where}.func"),
                "args": self(value.args, f"{where}.args"),
                "keywords": self(value.keywords, f"{where}.keywords"),
            }
        keras_kind = _keras_kind(value)
        if keras_kind is not None:
            return self._keras(value, keras_kind, where)
        if isinstance(value, types.ModuleType):
            return {"module": value.__name__}
        if isinstance(value, type):
            return self._code(value, where)
        if isinstance(value, types.MethodType):
            return {
                "method": self(value.__func__, where),
                "self": self(value.__self__, f"{where}.__self__"),
            }
        if isinstance(value, types.FunctionType):
            return self._code(value, where)
        owner = getattr(value, "__self__", None)
        if isinstance(value, np.ufunc) or (
            isinstance(value, types.BuiltinFunctionType)
            and (owner is None or isinstance(owner, types.ModuleType))
        ):
            module = getattr(value, "__module__", None) or type(value).__module__
            self.modules.add(module or "builtins")
            name = getattr(value, "__qualname__", None) or getattr(
                value, "__name__", ""
            )
            return {"builtin": f"{module}.{name}"}
        if callable(value) and hasattr(value, "__dict__"):  # an object with a __call__
            return {
                "object": self._code(type(value), where),
                "state": self(dict(sorted(vars(value).items())), f"{where}.__dict__"),
            }
        return self.refuse(value, where, "not a value the key knows")

    def _code(self, code, where: str):
        """A function or class: by name where its module's code or version is keyed
        (``dlbook``, installed packages), by source otherwise; with the values a
        function captures (closure cells, defaults, globals it reads)."""
        module = getattr(code, "__module__", None) or ""
        self.modules.add(module)
        name = (
            f"{module}.{getattr(code, '__qualname__', getattr(code, '__name__', '?'))}"
        )
        found: dict = {"code": name}
        own = not _in_package(module) and not _is_installed(module)
        if own:
            try:
                source = textwrap.dedent(inspect.getsource(code))
            except (OSError, TypeError) as error:
                return self.refuse(code, where, f"its source cannot be read: {error}")
            found["source"] = code_text(source)
        function = code if isinstance(code, types.FunctionType) else None
        if function is not None and (own or function.__closure__):
            cells = function.__closure__ or ()
            found["closure"] = {
                n: self(_cell(c), f"{where} (captured {n!r})")
                for n, c in zip(function.__code__.co_freevars, cells, strict=True)
            }
        if function is not None and own:
            found["defaults"] = self(function.__defaults__, f"{where} (defaults)")
            found["kwdefaults"] = self(function.__kwdefaults__, f"{where} (defaults)")
            found["globals"] = self._globals(function, where)
        if isinstance(code, type) and own:
            found["bases"] = [self(b, f"{where} (base)") for b in code.__bases__]
        return found

    def _globals(self, function, where: str) -> dict:
        """The module-level values an outside function reads (not modules)."""
        names: set[str] = set()
        stack = [function.__code__]
        while stack:
            code = stack.pop()
            names.update(code.co_names)
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        scope = function.__globals__
        return {
            n: self(scope[n], f"{where} (global {n!r})")
            for n in sorted(names)
            if n in scope and not isinstance(scope[n], types.ModuleType)
        }

    def _keras(self, value, kind: str, where: str):
        """A Keras loss, metric, optimizer, initializer, regularizer, constraint or
        layer: by class and configuration (a layer with its weights once built)."""
        found = {"keras": kind, "class": self._code(type(value), where)}
        try:
            config = dict(value.get_config())
        except (NotImplementedError, TypeError, AttributeError) as error:
            return self.refuse(value, where, f"it has no Keras config: {error}")
        if kind in ("layer", "optimizer"):  # auto-numbered ("dense_3", "adam_2")
            config.pop("name", None)
        found["config"] = self(config, f"{where}.get_config()")
        # a wrapped function's settings, which some configs leave out (Huber's delta)
        for name in ("fn", "_fn", "_fn_kwargs"):
            if name in vars(value):
                found[name] = self(vars(value)[name], f"{where}.{name}")
        if kind == "layer" and getattr(value, "built", False):
            found["variables"] = _variables_digest(value)
        return found


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell: a name not yet bound
        return None


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_tensor(value) -> bool:
    module = type(value).__module__
    return module.startswith(("tensorflow", "jax", "torch")) and hasattr(value, "shape")


KERAS_KINDS = (
    ("loss", "losses", "Loss"),
    ("metric", "metrics", "Metric"),
    ("optimizer", "optimizers", "Optimizer"),
    ("initializer", "initializers", "Initializer"),
    ("regularizer", "regularizers", "Regularizer"),
    ("constraint", "constraints", "Constraint"),
    ("layer", "layers", "Layer"),
)


def _keras_kind(value) -> str | None:
    keras = sys.modules.get("keras")
    if keras is None or isinstance(value, type):
        return None
    for kind, module, name in KERAS_KINDS:
        base = getattr(getattr(keras, module, None), name, None)
        if base is not None and isinstance(value, base):
            return kind
    return None


def fingerprint(value, where: str = "argument") -> object:
    """A JSON-able, order-preserving description of ``value`` for the key: arrays by
    dtype, shape and SHA-256 of their bytes; Keras objects by class and config;
    ``functools.partial`` by function, arguments and keywords; functions and classes of
    ``dlbook`` or of installed packages by name (their code or version is keyed apart),
    others (``__main__``, a notebook) by source, captured values and the globals they
    read; containers element by element. Anything else raises :class:`UnkeyableError`
    naming ``where``."""
    return _Keyer()(value, where)


def _layers(model) -> list:
    return list(model._flatten_layers(include_self=True, recursive=True))


def _variables_digest(model) -> str:
    trainable = {id(v) for v in model.trainable_variables}
    digest = hashlib.sha256()
    for variable in model.variables:
        value = np.asarray(variable.numpy())
        digest.update(f"{value.dtype}{value.shape}{id(variable) in trainable}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def model_fingerprint(model, keyer: _Keyer | None = None) -> dict:
    """What a model brings into a training: its architecture (the Keras config, with
    layer names replaced by their position and the optimizer's name dropped, so
    auto-numbered names do not matter), the code of every layer class in it, which
    variables train, and the SHA-256 of every variable's starting value."""
    keyer = keyer or _Keyer()
    if not model.built or not model.variables:
        raise ValueError(
            f"model {model.name!r} must be built (call it or give an Input)"
        )
    layers = _layers(model)
    names = {layer.name: f"layer{i}" for i, layer in enumerate(layers)}
    try:
        config = json.loads(model.to_json())
    except (NotImplementedError, TypeError, ValueError):  # subclassed, no get_config
        config = {"class": f"{type(model).__module__}.{type(model).__qualname__}"}
    # a compiled model's optimizer is auto-numbered too ("adam_3"): drop its name
    optimizer = (config.get("compile_config") or {}).get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        optimizer["config"].pop("name", None)

    def canonical(node):
        if isinstance(node, dict):
            return {k: canonical(v) for k, v in node.items()}
        if isinstance(node, list):
            return [canonical(v) for v in node]
        return names.get(node, node) if isinstance(node, str) else node

    classes = sorted({type(layer) for layer in layers}, key=lambda c: c.__qualname__)
    code = [keyer._code(c, f"model {model.name!r}") for c in classes]
    return {
        "config": canonical(config),
        "classes": code,
        "variables": _variables_digest(model),
    }


def numeric_path() -> dict:
    """What decides float results besides the code: oneDNN kernels on or off (as
    TensorFlow saw ``TF_ENABLE_ONEDNN_OPTS`` when it started), op determinism and the
    intra-op thread count (other reduction orders give other weights)."""
    import dlbook

    onednn = (dlbook.ONEDNN_AT_START or "").strip().lower()
    found = {"onednn": "off" if onednn in ("0", "false") else "on"}
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        from tensorflow.python.framework import config  # the public name is missing

        found["deterministic"] = bool(config.is_op_determinism_enabled())
        threads = tf.config.threading.get_intra_op_parallelism_threads()
        if not threads:
            affinity = getattr(os, "sched_getaffinity", None)
            threads = len(affinity(0)) if affinity else os.cpu_count()
        found["intra_op_threads"] = threads
    return found


def training_key(
    routine, models: dict, seed: int, arguments: dict, key: str | None = None
) -> str:
    """The store key of one training: SHA-256 of the routine, the code (not the bytes:
    docstrings, comments and formatting left out) of every ``dlbook`` module involved,
    followed through imports as the page cache does, each model's
    :func:`model_fingerprint`, the arguments with their data (:func:`fingerprint`), the
    seed, the numeric path (:func:`numeric_path`) and the versions of the distributions
    the code runs on (TensorFlow, Keras, NumPy, what the code imports, and what they
    require). ``key``: a caller's label for what the key cannot see; with it, such
    values enter by type instead of being refused."""
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a string label, got {type(key).__name__}")
    keyer = _Keyer(opaque=key is not None)
    parts = {
        "format": FORMAT,
        "routine": keyer(routine, "routine"),
        "models": {
            name: model_fingerprint(m, keyer) for name, m in sorted(models.items())
        },
        "arguments": keyer(arguments, "argument"),
        "seed": seed,
        "label": key,
        "numeric": numeric_path(),
        "python": sys.version_info[:2],
    }
    ours = {m for m in keyer.modules if _in_package(m)}
    parts["code"] = source_digest(CODE_PACKAGE, ours)
    outside = {m.split(".")[0] for m in keyer.modules if not _in_package(m)}
    imported = third_party_imports(PackageIndex.find(CODE_PACKAGE), ours) | outside
    parts["packages"] = environment_fingerprint(
        distributions_of(imported) | CORE_DISTRIBUTIONS
    )
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
