"""The trained-model store: each training runs once, then its result is read from disk.

An entry holds the weights of the trained models and a JSON record (history, metrics,
training time), under a key made of everything that decides the weights and nothing
else (:func:`dlbook.training.key.training_key`).

Entries are single ``.npz`` files written atomically (to a temporary file, then
renamed), so two pages or two nbval workers asking at once leave one valid entry; a
per-key lock makes the second asker wait and then read it. An entry that cannot be
read, parsed, verified (one checksum over weights and record) or applied is discarded
with one :class:`StoreWarning` and trained again. A store that cannot be written
(read-only, full) still serves what it holds: the training's result is kept in memory
and a warning says it was not stored.

Where it lives: ``$DLBOOK_STORE`` (the nox sessions use ``docs/_build/trained``), else
``~/.cache/dlbook/trained``. ``DLBOOK_STORE=off`` turns it off; ``DLBOOK_RETRAIN=1``
trains everything again and overwrites what it finds.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dlbook.training.key import FORMAT, short

STORE_VAR = "DLBOOK_STORE"
RETRAIN_VAR = "DLBOOK_RETRAIN"
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
META = "meta.json"
MAX_META_BYTES = 16 * 2**20  # a record larger than this is not one the core wrote
NPY_HEADER_BYTES = 2**16  # an .npy header is far smaller


class StoreWarning(UserWarning):
    """A store entry could not be used or written: it is retrained, or not stored."""


def folder() -> Path | None:
    """The store's folder, or ``None`` when ``DLBOOK_STORE=off``."""
    value = os.environ.get(STORE_VAR, "").strip()
    if value.lower() == "off":
        return None
    if value:
        path = Path(value).expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError(
                f"{STORE_VAR} must name a folder (or be 'off'), got the file {path}"
            )
        return path
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "dlbook" / "trained"


def retrain_requested() -> bool:
    """True when ``DLBOOK_RETRAIN`` asks to train again instead of reading the store."""
    return os.environ.get(RETRAIN_VAR, "").strip().lower() in ("1", "true", "yes")


# --- entries on disk ------------------------------------------------------------------


def entry_path(key: str, where: Path | None = None) -> Path | None:
    """The file of the entry ``key`` (32 hexadecimal digits, as :func:`training_key`
    makes), or ``None`` without a store."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"key must be 32 lowercase hexadecimal digits, got {key!r}")
    where = folder() if where is None else where
    return None if where is None else where / f"{key}.npz"


def _canonical_record(record: dict) -> str:
    """``record`` as canonical JSON; NumPy values become plain ones, anything else
    that JSON cannot hold is a clear error naming it."""

    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(
            f"a routine's record must hold JSON values (numbers, strings, lists, "
            f"dicts, NumPy arrays), got {type(value).__name__} {short(value)}"
        )

    return json.dumps(record, default=plain, sort_keys=True, allow_nan=True)


def _checksum(weights: dict[str, list[np.ndarray]], record_text: str) -> str:
    digest = hashlib.sha256(record_text.encode())
    for name in sorted(weights):
        for value in weights[name]:
            digest.update(f"{name}{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


_warned: set[tuple[str, str]] = set()


def _warn_once(where: Path, what: str, message: str) -> None:
    if (str(where), what) in _warned:
        return
    _warned.add((str(where), what))
    warnings.warn(message, StoreWarning, stacklevel=4)


def _write_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent
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


def save(
    key: str,
    weights: dict[str, list[np.ndarray]],
    record: dict,
    where: Path | None = None,
) -> Path | None:
    """Write one entry atomically. A store that cannot be written (read-only, full
    disk) is not an error: a :class:`StoreWarning` says so and ``None`` comes back."""
    path = entry_path(key, where)
    if path is None:
        return None
    record_text = _canonical_record(record)
    arrays = {
        f"{name}/{i}": np.asarray(v)
        for name in weights
        for i, v in enumerate(weights[name])
    }
    meta = {
        "key": key,
        "format": FORMAT,
        "record": record_text,
        "checksum": _checksum(
            {n: [np.asarray(v) for v in vs] for n, vs in weights.items()}, record_text
        ),
        "models": {name: len(values) for name, values in weights.items()},
        "arrays": {
            name: [str(value.dtype), list(value.shape)]
            for name, value in arrays.items()
        },
    }
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    try:
        _write_entry(path, arrays)
    except OSError as error:
        what = (
            "read-only"
            if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
            else "write"
        )
        _warn_once(
            path.parent,
            what,
            f"the trained-model store {path.parent} cannot be written ({error}): "
            "trainings are kept in memory and not stored",
        )
        return None
    _remove_orphans(path)
    return path


def _remove_orphans(path: Path) -> None:
    """Temporary files of ``path``'s key left by a writer that died (its lock is held
    now, so no live writer of that key has one)."""
    for orphan in path.parent.glob(f".{path.stem}.*.tmp"):
        with contextlib.suppress(OSError):
            orphan.unlink()


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> np.ndarray:
    """One ``.npy`` member of an entry, refused before it is read when the archive
    says it is larger than ``limit`` bytes (a decompression bomb)."""
    info = archive.getinfo(f"{name}.npy")
    if info.file_size > limit:
        raise ValueError(f"{name} declares {info.file_size} bytes, more than {limit}")
    with archive.open(info) as file:
        return np.lib.format.read_array(file, allow_pickle=False)


def _read(path: Path, key: str) -> tuple[dict, dict]:
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(bytes(_member(archive, META, MAX_META_BYTES)).decode())
        if not isinstance(meta, dict):
            raise ValueError("the entry's meta is not an object")
        if meta.get("key") != key or meta.get("format") != FORMAT:
            raise ValueError("the entry holds another key or format")
        declared, models = meta["arrays"], meta["models"]
        weights = {}
        for name, count in models.items():
            weights[name] = []
            for i in range(count):
                dtype, shape = declared[f"{name}/{i}"]
                size = np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))
                value = _member(archive, f"{name}/{i}", size + NPY_HEADER_BYTES)
                if str(value.dtype) != dtype or list(value.shape) != list(shape):
                    raise ValueError(f"{name}/{i} is not the declared {dtype}{shape}")
                weights[name].append(value)
    record_text = meta["record"]
    if _checksum(weights, record_text) != meta["checksum"]:
        raise ValueError("the weights and record do not match their checksum")
    record = json.loads(record_text)
    if not isinstance(record, dict):
        raise ValueError("the record is not an object")
    return weights, record


def discard(path: Path, error: BaseException | str) -> None:
    """Remove a damaged entry with one :class:`StoreWarning`."""
    warnings.warn(
        f"discarding damaged store entry {path} ({error}); training again",
        StoreWarning,
        stacklevel=3,
    )
    with contextlib.suppress(OSError):
        path.unlink()


def load(key: str, where: Path | None = None) -> tuple[dict, dict] | None:
    """``(weights, record)`` of an entry, or ``None`` when there is none. An entry that
    cannot be read, parsed or verified, whatever the failure, is removed with a
    :class:`StoreWarning`, never trusted."""
    path = entry_path(key, where)
    if path is None or not path.is_file():
        return None
    try:
        return _read(path, key)
    except Exception as error:  # noqa: BLE001 - any damage: discard and retrain
        discard(path, f"{type(error).__name__}: {error}")
        return None


def _open_lock(path: Path) -> int | None:
    """A descriptor to lock ``path`` with, or ``None`` where the store is read-only
    and has no lock file (nobody writes there, so nothing to wait for)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            return None


@contextlib.contextmanager
def locked(key: str, where: Path | None = None) -> Iterator[None]:
    """Hold the key's lock file: a second process asking for the same training waits
    here until the first has stored it (no-op without a store, without ``fcntl``, or
    in a read-only store)."""
    path = entry_path(key, where)
    try:
        import fcntl
    except ImportError:  # Windows: atomic writes still leave one valid entry
        fcntl = None
    handle = (
        None if path is None or fcntl is None else _open_lock(path.with_suffix(".lock"))
    )
    if handle is None:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


JOURNAL = "journal.jsonl"


def journal(line: dict, where: Path | None = None) -> None:
    """Append one line about a training to the store's journal (its key, whether it
    was restored, its training seconds and the store's own overhead: what
    ``nox -s benchmark`` reports). A journal that cannot be written is skipped."""
    where = folder() if where is None else where
    if where is None:
        return
    with (
        contextlib.suppress(OSError),
        open(where / JOURNAL, "a", encoding="utf-8") as file,
    ):
        file.write(json.dumps(line, sort_keys=True) + "\n")


def read_journal(where: Path | None = None) -> list[dict]:
    """The journal's lines (see :func:`journal`), oldest first."""
    where = folder() if where is None else where
    path = None if where is None else where / JOURNAL
    if path is None or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def orphans(where: Path | None = None) -> list[Path]:
    """Temporary files left by writers that died (``store.clear()`` removes them)."""
    where = folder() if where is None else where
    return sorted(where.glob(".*.tmp")) if where and where.is_dir() else []


def size(where: Path | None = None) -> tuple[int, int]:
    """Number of entries, and the bytes of the store's files (entries and any
    temporary files left behind: :func:`orphans`)."""
    where = folder() if where is None else where
    files = list(where.glob("*.npz")) if where and where.is_dir() else []
    leftovers = orphans(where)
    total = sum(f.stat().st_size for f in files + leftovers)
    return len(files), total


def clear(where: Path | None = None) -> int:
    """Delete every entry, lock file, orphan temporary file and the journal; return
    how many entries were removed."""
    where = folder() if where is None else where
    if where is None or not where.is_dir():
        return 0
    count = 0
    for file in where.iterdir():
        if file.suffix in (".npz", ".lock", ".tmp") or file.name == JOURNAL:
            count += file.suffix == ".npz"
            file.unlink()
    return count
