"""The trained-model store: each training runs once, then its result is read from disk.

An entry holds the weights of the trained models and a JSON record (history, metrics,
training time), under a key made of everything that decides the weights (see
:func:`training_key`). Entries are single ``.npz`` files written atomically (to a
temporary file, then renamed), so two pages or two nbval workers asking at once leave
one valid entry; a per-key lock makes the second asker wait and then read it. A
truncated or corrupt entry is discarded with a warning and trained again.

Where it lives: ``$DLBOOK_STORE`` (the nox sessions use ``docs/_build/trained``), else
``~/.cache/dlbook/trained``. ``DLBOOK_STORE=off`` turns it off; ``DLBOOK_RETRAIN=1``
trains everything again and overwrites what it finds.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dlbook.book.closure import environment_fingerprint, source_digest

STORE_VAR = "DLBOOK_STORE"
RETRAIN_VAR = "DLBOOK_RETRAIN"
CODE_PACKAGE = "dlbook"
FORMAT = 1  # bump when the entry layout changes


class StoreWarning(UserWarning):
    """A store entry could not be used (truncated, corrupt, unreadable): it is retrained."""


def folder() -> Path | None:
    """The store's folder, or ``None`` when ``DLBOOK_STORE=off``."""
    value = os.environ.get(STORE_VAR, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "dlbook" / "trained"


def retrain_requested() -> bool:
    """True when ``DLBOOK_RETRAIN`` asks to train again instead of reading the store."""
    return os.environ.get(RETRAIN_VAR, "").strip().lower() in ("1", "true", "yes")


# --- the key --------------------------------------------------------------------------


def fingerprint(value) -> object:
    """A JSON-able, order-preserving description of ``value`` for the key: arrays by
    dtype, shape and SHA-256 of their bytes; callables by module and name; containers
    element by element. Anything else must be a plain JSON value."""
    if isinstance(value, np.ndarray) or type(value).__module__.startswith("tensorflow"):
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype == object:
            return {"objects": fingerprint(array.tolist())}
        digest = hashlib.sha256(array.tobytes()).hexdigest()
        return {"array": str(array.dtype), "shape": list(array.shape), "sha256": digest}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {"dict": [[str(k), fingerprint(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [fingerprint(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if callable(value):
        return {
            "callable": f"{getattr(value, '__module__', '?')}."
            f"{getattr(value, '__qualname__', type(value).__qualname__)}"
        }
    raise TypeError(
        f"a training argument must be an array, a number, a string, a container of "
        f"those or a function, got {type(value).__name__}"
    )


def _layers(model) -> list:
    return list(model._flatten_layers(include_self=True, recursive=True))


def model_fingerprint(model) -> dict:
    """What a model brings into a training: its architecture (the Keras config, with
    layer names replaced by their position and the optimizer's name dropped, so
    auto-numbered names do not matter), which variables train, and the SHA-256 of
    every variable's starting value."""
    if not model.built or not model.variables:
        raise ValueError(
            f"model {model.name!r} must be built (call it or give an Input)"
        )
    names = {layer.name: f"layer{i}" for i, layer in enumerate(_layers(model))}
    try:
        config = json.loads(model.to_json())
    except (
        NotImplementedError,
        TypeError,
        ValueError,
    ):  # subclassed without get_config
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

    trainable = {id(v) for v in model.trainable_variables}
    digest = hashlib.sha256()
    for variable in model.variables:
        value = np.asarray(variable.numpy())
        digest.update(f"{value.dtype}{value.shape}{id(variable) in trainable}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return {"config": canonical(config), "variables": digest.hexdigest()}


def code_modules(routine, models, arguments) -> set[str]:
    """The ``dlbook`` modules whose code decides a training: the routine's, those of
    every layer and model class in it, those of functions passed as arguments."""
    found = {getattr(routine, "__module__", "")}
    for model in models.values():
        found.update(type(layer).__module__ for layer in _layers(model))

    def visit(value):
        if isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, list | tuple):
            for v in value:
                visit(v)
        elif callable(value) and not isinstance(value, np.ndarray):
            found.add(getattr(value, "__module__", "") or "")

    visit(arguments)
    return {m for m in found if m == CODE_PACKAGE or m.startswith(CODE_PACKAGE + ".")}


def _outside_source(routine) -> str:
    """The source of a routine defined outside the package (e.g. in a notebook)."""
    module = getattr(routine, "__module__", "") or ""
    if module == CODE_PACKAGE or module.startswith(CODE_PACKAGE + "."):
        return ""
    try:
        return inspect.getsource(routine)
    except (OSError, TypeError):
        return ""


def training_key(routine, models: dict, seed: int, arguments: dict) -> str:
    """The store key of one training: SHA-256 of the routine's name, the source closure
    of the ``dlbook`` code involved (:func:`code_modules`, followed through imports as
    the Sphinx cache does), each model's :func:`model_fingerprint`, the arguments with
    their data (:func:`fingerprint`), the seed and the installed package versions."""
    parts = {
        "format": FORMAT,
        "routine": f"{routine.__module__}.{routine.__qualname__}",
        "routine_source": _outside_source(routine),
        "code": source_digest(CODE_PACKAGE, code_modules(routine, models, arguments)),
        "models": {name: model_fingerprint(m) for name, m in sorted(models.items())},
        "arguments": fingerprint(arguments),
        "seed": seed,
        "packages": environment_fingerprint(),
        "python": sys.version_info[:2],
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- entries on disk ------------------------------------------------------------------


def entry_path(key: str, where: Path | None = None) -> Path | None:
    where = folder() if where is None else where
    return None if where is None else where / f"{key}.npz"


def _checksum(weights: dict[str, list[np.ndarray]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(weights):
        for value in weights[name]:
            digest.update(f"{name}{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def save(
    key: str,
    weights: dict[str, list[np.ndarray]],
    record: dict,
    where: Path | None = None,
) -> Path | None:
    """Write one entry atomically: a temporary file in the store, then a rename."""
    path = entry_path(key, where)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{name}/{i}": np.asarray(v)
        for name in weights
        for i, v in enumerate(weights[name])
    }
    meta = {
        "key": key,
        "format": FORMAT,
        "record": record,
        "checksum": _checksum(weights),
        "models": {name: len(values) for name, values in weights.items()},
    }
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{key}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; an entry is not secret
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return path


def load(key: str, where: Path | None = None) -> tuple[dict, dict] | None:
    """``(weights, record)`` of an entry, or ``None`` when there is none. A damaged
    entry is removed with a :class:`StoreWarning`, never trusted."""
    path = entry_path(key, where)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(bytes(stored["meta.json"]).decode())
            if meta.get("key") != key or meta.get("format") != FORMAT:
                raise ValueError("the entry holds another key or format")
            weights = {
                name: [stored[f"{name}/{i}"] for i in range(count)]
                for name, count in meta["models"].items()
            }
        if _checksum(weights) != meta["checksum"]:
            raise ValueError("the weights do not match their checksum")
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        zipfile.BadZipFile,
        io.UnsupportedOperation,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as error:
        warnings.warn(
            f"discarding damaged store entry {path} ({error}); training again",
            StoreWarning,
            stacklevel=3,
        )
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return weights, meta["record"]


@contextlib.contextmanager
def locked(key: str, where: Path | None = None) -> Iterator[None]:
    """Hold the key's lock file: a second process asking for the same training waits
    here until the first has stored it (no-op without a store or without ``fcntl``)."""
    path = entry_path(key, where)
    try:
        import fcntl
    except ImportError:  # Windows: atomic writes still leave one valid entry
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def size(where: Path | None = None) -> tuple[int, int]:
    """Number of entries and their total bytes."""
    where = folder() if where is None else where
    files = list(where.glob("*.npz")) if where and where.is_dir() else []
    return len(files), sum(f.stat().st_size for f in files)


def clear(where: Path | None = None) -> int:
    """Delete every entry (and lock file); return how many entries were removed."""
    where = folder() if where is None else where
    if where is None or not where.is_dir():
        return 0
    count = 0
    for file in where.iterdir():
        if file.suffix in (".npz", ".lock", ".tmp"):
            count += file.suffix == ".npz"
            file.unlink()
    return count
