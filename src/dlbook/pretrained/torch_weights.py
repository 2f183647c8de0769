"""Read the tensors of a PyTorch ``.pth`` state dict as NumPy arrays, without torch and
without trusting the file.

A ``.pth`` file is a pickle, and unpickling runs whatever the pickle names: a plain
``pickle.load`` of a downloaded checkpoint can run any program. Here the unpickler
accepts only the handful of globals a state dict needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2``, ``_rebuild_parameter`` and the typed storage
classes), each mapped to a small local stand-in; any other global is refused with
:class:`pickle.UnpicklingError` before it is looked up. The raw tensor bytes are read
with NumPy. Both the zip format (PyTorch 1.6 and later: ``<name>/data.pkl`` plus one
``<name>/data/<key>`` file per storage) and the older "legacy" format (pickles followed
by the storages, used by the EfficientNet-Lite0 checkpoint) are read.

Used on the transfer page, through :mod:`dlbook.pretrained.efficientnet_lite`.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from dlbook.data import archives

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy-format file
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16,  # raw bits; widened to float32 in _to_array
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage(NamedTuple):
    """A storage named by a persistent id; its bytes are attached after unpickling."""

    key: str
    kind: str  # a key of STORAGE_DTYPES
    offset: int  # in elements; legacy "views" of a storage start inside it
    numel: int


class _Tensor(NamedTuple):
    """What ``_rebuild_tensor_v2`` would have made, still without its data."""

    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


class _StorageType(NamedTuple):
    """Stand-in for ``torch.FloatStorage`` and friends: only its name is used."""

    kind: str


def _rebuild_tensor_v2(
    storage, offset, size, stride, requires_grad=False, hooks=None, *rest
):
    return _Tensor(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, hooks=None, *rest):
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", kind): _StorageType(kind) for kind in STORAGE_DTYPES},
}


class RefusedGlobalError(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`, to local stand-ins,
    and turns ``('storage', ...)`` persistent ids into :class:`_Storage` records."""

    def __init__(self, file, storages: dict[str, _Storage] | None = None):
        super().__init__(file)
        self.storages = {} if storages is None else storages

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"refused to load the global {module}.{name}: a PyTorch state dict needs "
                "only tensors, storages and OrderedDict, so this file is either not a "
                "plain state dict or crafted to run code"
            ) from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"storage {key!r} has no storage type")
        key, numel = str(key), _count("storage size", numel)
        known = self.storages.setdefault(
            key, _Storage(key, storage_type.kind, 0, numel)
        )
        if known.kind != storage_type.kind or known.numel != numel:
            raise pickle.UnpicklingError(
                f"storage {key!r} is described twice, differently"
            )
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return known
        # legacy files may refer to part of a storage: (view key, offset, size)
        _view_key, offset, size = view
        return _Storage(
            key, known.kind, _count("view offset", offset), _count("view size", size)
        )


def _count(what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative int, got {value!r}")
    return value


def load_state_dict(data: bytes, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict (the bytes of a ``.pth`` file), by name, as
    NumPy arrays; ``sha256``, if given, is checked first (``ValueError`` if it differs).

    Nothing in the file is run (see the module docstring): a global other than those a
    state dict needs raises :class:`RefusedGlobalError` (a ``pickle.UnpicklingError``),
    a malformed file ``pickle.UnpicklingError``, and a tensor that does not fit its
    storage ``ValueError``. Used on the transfer page."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(
            f"data must be the bytes of a .pth file, got {type(data).__name__}"
        )
    data = bytes(data)
    if sha256 is not None:
        archives.verify_sha256(data, sha256, "the .pth file")
    buffer = io.BytesIO(data)
    if data[:4] == b"PK\x03\x04":  # how torch itself tells the zip format
        result, storages = _load_zip(buffer)
    else:
        result, storages = _load_legacy(buffer)
    return _state_dict(result, storages)


def _unpickle(file, storages: dict[str, _Storage] | None = None):
    try:
        return RestrictedUnpickler(file, storages).load()
    except pickle.UnpicklingError:
        raise
    except Exception as error:  # a malformed stream: say so, with the cause
        raise pickle.UnpicklingError(
            f"not a readable PyTorch state dict: {error!r}"
        ) from error


def _load_zip(buffer: io.BytesIO):
    with zipfile.ZipFile(buffer) as archive:
        pickles = [
            n
            for n in archive.namelist()
            if n.count("/") == 1 and n.endswith("/data.pkl")
        ]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(
                f"a zip-format .pth holds one <name>/data.pkl, found {pickles or 'none'}"
            )
        root = pickles[0][: -len("data.pkl")]
        order = "little"
        if f"{root}byteorder" in archive.namelist():
            order = archive.read(f"{root}byteorder").decode().strip()
        storages: dict[str, _Storage] = {}
        result = _unpickle(io.BytesIO(archive.read(pickles[0])), storages)
        raw = {}
        for key in storages:
            try:
                raw[key] = archive.read(f"{root}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(
                    f"storage {key!r} is missing from the zip"
                ) from None
    return result, {
        key: _storage_array(storages[key], raw[key], order) for key in storages
    }


def _load_legacy(buffer: io.BytesIO):
    unknown = (
        "not a PyTorch .pth file: neither a zip archive nor the legacy format "
        "(the tar format of PyTorch before 0.1.10 is not supported)"
    )
    try:
        magic = _unpickle(buffer)
    except RefusedGlobalError:
        raise
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(unknown) from error
    if magic != LEGACY_MAGIC:
        raise pickle.UnpicklingError(unknown)
    protocol = _unpickle(buffer)
    if protocol != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"unsupported legacy .pth protocol {protocol!r}")
    info = _unpickle(buffer)
    order = (
        "little"
        if not isinstance(info, dict) or info.get("little_endian", True)
        else "big"
    )
    storages: dict[str, _Storage] = {}
    result = _unpickle(buffer, storages)
    keys = _unpickle(buffer)
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
        raise pickle.UnpicklingError(
            "the legacy storage list does not match the tensors"
        )
    arrays = {}
    for key in map(str, keys):
        storage = storages[key]
        header = buffer.read(8)
        if len(header) != 8:
            raise pickle.UnpicklingError(f"storage {key!r} is cut short")
        (numel,) = struct.unpack("<q" if order == "little" else ">q", header)
        if numel != storage.numel:
            raise pickle.UnpicklingError(
                f"storage {key!r} holds {numel} elements, its tensors expect {storage.numel}"
            )
        size = numel * np.dtype(STORAGE_DTYPES[storage.kind]).itemsize
        arrays[key] = _storage_array(storage, buffer.read(size), order)
    return result, arrays


def _storage_array(storage: _Storage, raw: bytes, order: str) -> np.ndarray:
    if order not in ("little", "big"):
        raise pickle.UnpicklingError(f"unknown byte order {order!r}")
    dtype = np.dtype(STORAGE_DTYPES[storage.kind]).newbyteorder(
        "<" if order == "little" else ">"
    )
    if len(raw) != storage.numel * dtype.itemsize:
        raise pickle.UnpicklingError(
            f"storage {storage.key!r} has {len(raw)} bytes, expected "
            f"{storage.numel} {storage.kind} elements"
        )
    return np.frombuffer(raw, dtype)


def _state_dict(result, storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(result, dict):
        raise ValueError(
            f"the .pth file holds a {type(result).__name__}, not a state dict"
        )
    arrays = {}
    for name, value in result.items():
        if not isinstance(value, _Tensor):
            raise ValueError(f"entry {name!r} of the state dict is not a tensor")
        arrays[str(name)] = _to_array(str(name), value, storages)
    return arrays


def _to_array(
    name: str, tensor: _Tensor, storages: dict[str, np.ndarray]
) -> np.ndarray:
    """Copy ``tensor``'s elements out of its storage, honouring offset, size and stride."""
    storage = tensor.storage
    if not isinstance(storage, _Storage) or storage.key not in storages:
        raise ValueError(f"tensor {name!r} does not refer to a storage in the file")
    flat = storages[storage.key][storage.offset : storage.offset + storage.numel]
    size = tuple(_count(f"size of {name!r}", n) for n in tensor.size)
    stride = tuple(_count(f"stride of {name!r}", n) for n in tensor.stride)
    offset = _count(f"offset of {name!r}", tensor.offset)
    if len(size) != len(stride):
        raise ValueError(f"tensor {name!r} has size {size} but stride {stride}")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if 0 in size:
        array = np.zeros(size, flat.dtype)
    elif last >= len(flat):
        raise ValueError(f"tensor {name!r} reaches past the end of its storage")
    else:
        step = flat.itemsize
        strides = tuple(s * step for s in stride)
        array = np.lib.stride_tricks.as_strided(
            flat[offset:], size, strides, writeable=False
        )
    array = np.array(array, dtype=array.dtype.newbyteorder("="), order="C")  # a copy
    if storage.kind == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array
