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

Whatever is wrong with a file, reading it raises :class:`pickle.UnpicklingError` (a
:class:`MalformedPthError`, or the :class:`RefusedGlobalError` above), and nothing is
allocated on the file's word alone: the pickle's counted lengths and memo indices are
checked against the pickle before the unpickler sees them, a zip member's size before it
is inflated (stored or deflated only, as torch writes and reads them), and a tensor's
size and strides against its storage before its elements are copied; so a small file
never asks for much memory.

Used on the transfer page, through :mod:`dlbook.pretrained.efficientnet_lite`.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import reprlib
import struct
import warnings
import zipfile
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from dlbook.data import archives

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy-format file
LEGACY_PROTOCOL = 1001
MAX_DIMS = 64  # NumPy's limit; torch's tensors have fewer
# how the members of a zip-format file may be compressed: torch writes them stored, and
# its reader (miniz) reads deflate too, which inflates at most about 1000-fold
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})

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


class MalformedPthError(pickle.UnpicklingError, ValueError):
    """The file is not a readable PyTorch state dict. Also a ``ValueError``, which is
    what a tensor that does not fit its storage used to raise."""


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
            raise MalformedPthError(f"unsupported persistent id {reprlib.repr(pid)}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise MalformedPthError(f"storage {reprlib.repr(key)} has no storage type")
        key, numel = str(key), _count("storage size", numel)
        known = self.storages.setdefault(
            key, _Storage(key, storage_type.kind, 0, numel)
        )
        if known.kind != storage_type.kind or known.numel != numel:
            raise MalformedPthError(f"storage {key!r} is described twice, differently")
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
        raise MalformedPthError(
            f"{what} must be a non-negative int, got {reprlib.repr(value)}"
        )
    return value


def load_state_dict(data: bytes, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict (the bytes of a ``.pth`` file), by name, as
    NumPy arrays; ``sha256``, if given, is checked first (``ValueError`` if it differs).

    Nothing in the file is run (see the module docstring): a global other than those a
    state dict needs raises :class:`RefusedGlobalError`, anything else wrong with the
    file (a broken zip or pickle, a tensor that does not fit its storage, an entry that
    is not a tensor) :class:`MalformedPthError`; both are ``pickle.UnpicklingError``.
    Used on the transfer page."""
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
    start = file.tell()
    _check_opcodes(file)
    file.seek(start)
    try:
        return RestrictedUnpickler(file, storages).load()
    except pickle.UnpicklingError:
        raise
    except Exception as error:  # a malformed stream: say so, with the cause
        raise MalformedPthError(
            f"not a readable PyTorch state dict: {error!r}"
        ) from error


def _check_opcodes(file) -> None:
    """Walk the next pickle in ``file`` up to its STOP without running it. pickletools
    reads each counted string out of the file, so a length the file does not hold fails
    here, where the C unpickler would allocate it first; and a memo index beyond the
    opcodes read so far (the C unpickler grows its memo to twice the index) is refused.
    """
    try:
        with warnings.catch_warnings():  # pickletools warns of odd escapes in STRINGs
            warnings.simplefilter("ignore", DeprecationWarning)
            for count, (opcode, arg, _) in enumerate(pickletools.genops(file), 1):
                if opcode.name in MEMO_PUTS and arg > count:
                    raise MalformedPthError(
                        f"pickle memo index {arg} at opcode {count}: not a pickle a "
                        "pickler writes"
                    )
    except pickle.UnpicklingError:
        raise
    except Exception as error:
        raise MalformedPthError(f"not a readable pickle: {error}") from error


def _load_zip(buffer: io.BytesIO):
    try:
        with zipfile.ZipFile(buffer) as archive:
            return _read_zip(archive)
    except pickle.UnpicklingError:
        raise
    except Exception as error:  # BadZipFile, zlib.error, EOFError, OSError...
        raise MalformedPthError(
            f"not a readable zip-format .pth file: {error!r}"
        ) from error


def _read_zip(archive: zipfile.ZipFile):
    names = set(archive.namelist())
    pickles = sorted(n for n in names if n.count("/") == 1 and n.endswith("/data.pkl"))
    if len(pickles) != 1:
        raise MalformedPthError(
            f"a zip-format .pth holds one <name>/data.pkl, found {pickles or 'none'}"
        )
    root = pickles[0][: -len("data.pkl")]
    order = "little"
    if f"{root}byteorder" in names:
        order = _byteorder(_read_member(archive, f"{root}byteorder", at_most=16))
    storages: dict[str, _Storage] = {}
    result = _unpickle(io.BytesIO(_read_member(archive, pickles[0])), storages)
    raw = {}
    for key, storage in storages.items():
        name = f"{root}data/{key}"
        if name not in names:
            raise MalformedPthError(f"storage {key!r} is missing from the zip")
        size = storage.numel * np.dtype(STORAGE_DTYPES[storage.kind]).itemsize
        raw[key] = _read_member(archive, name, exactly=size, what=f"storage {key!r}")
    return result, {
        key: _storage_array(storages[key], raw[key], order) for key in storages
    }


def _read_member(
    archive: zipfile.ZipFile,
    name: str,
    at_most: int | None = None,
    exactly: int | None = None,
    what: str | None = None,
) -> bytes:
    """The bytes of the member ``name``; its size (from the zip's directory, which
    bounds what is inflated) and compression are checked before anything is read."""
    info = archive.getinfo(name)
    what = what or name
    if info.compress_type not in ZIP_METHODS:
        raise MalformedPthError(
            f"{what} is compressed with zip method {info.compress_type}; torch stores "
            "members uncompressed (and reads deflate, method 8)"
        )
    if exactly is not None and info.file_size != exactly:
        raise MalformedPthError(
            f"{what} has {info.file_size} bytes, its tensors expect {exactly}"
        )
    if at_most is not None and info.file_size > at_most:
        raise MalformedPthError(f"{what} has {info.file_size} bytes, at most {at_most}")
    return archive.read(info)


def _byteorder(record: bytes) -> str:
    order = record.strip()
    if order not in (b"little", b"big"):
        raise MalformedPthError(
            f"the byteorder record must be 'little' or 'big', got {record!r}"
        )
    return order.decode()


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
        raise MalformedPthError(unknown) from error
    if magic != LEGACY_MAGIC:
        raise MalformedPthError(unknown)
    protocol = _unpickle(buffer)
    if protocol != LEGACY_PROTOCOL:
        raise MalformedPthError(
            f"unsupported legacy .pth protocol {reprlib.repr(protocol)}"
        )
    info = _unpickle(buffer)
    order = (
        "little"
        if not isinstance(info, dict) or info.get("little_endian", True)
        else "big"
    )
    storages: dict[str, _Storage] = {}
    result = _unpickle(buffer, storages)
    keys = _unpickle(buffer)
    if (
        not isinstance(keys, list)
        or not all(isinstance(key, str | int) for key in keys)
        or sorted(map(str, keys)) != sorted(storages)
    ):
        raise MalformedPthError("the legacy storage list does not match the tensors")
    arrays = {}
    for key in map(str, keys):
        storage = storages[key]
        header = buffer.read(8)
        if len(header) != 8:
            raise MalformedPthError(f"storage {key!r} is cut short")
        (numel,) = struct.unpack("<q" if order == "little" else ">q", header)
        if numel != storage.numel:
            raise MalformedPthError(
                f"storage {key!r} holds {numel} elements, its tensors expect {storage.numel}"
            )
        size = numel * np.dtype(STORAGE_DTYPES[storage.kind]).itemsize
        arrays[key] = _storage_array(storage, buffer.read(size), order)
    return result, arrays


def _storage_array(storage: _Storage, raw: bytes, order: str) -> np.ndarray:
    if order not in ("little", "big"):
        raise MalformedPthError(f"unknown byte order {order!r}")
    dtype = np.dtype(STORAGE_DTYPES[storage.kind]).newbyteorder(
        "<" if order == "little" else ">"
    )
    if len(raw) != storage.numel * dtype.itemsize:
        raise MalformedPthError(
            f"storage {storage.key!r} has {len(raw)} bytes, expected "
            f"{storage.numel} {storage.kind} elements"
        )
    return np.frombuffer(raw, dtype)


def _state_dict(result, storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(result, dict):
        raise MalformedPthError(
            f"the .pth file holds a {type(result).__name__}, not a state dict"
        )
    arrays = {}
    for name, value in result.items():
        if not isinstance(name, str):
            raise MalformedPthError(
                f"the state dict names an entry {reprlib.repr(name)}, not a string"
            )
        if not isinstance(value, _Tensor):
            raise MalformedPthError(f"entry {name!r} of the state dict is not a tensor")
        arrays[name] = _to_array(name, value, storages)
    return arrays


def _to_array(
    name: str, tensor: _Tensor, storages: dict[str, np.ndarray]
) -> np.ndarray:
    """Copy ``tensor``'s elements out of its storage, honouring offset, size and stride;
    all three are checked against the storage first, so nothing is allocated beyond the
    storage's own size."""
    storage = tensor.storage
    if not isinstance(storage, _Storage) or storage.key not in storages:
        raise MalformedPthError(
            f"tensor {name!r} does not refer to a storage in the file"
        )
    whole = storages[storage.key]
    if storage.offset + storage.numel > len(whole):
        raise MalformedPthError(
            f"tensor {name!r} uses elements {storage.offset} to "
            f"{storage.offset + storage.numel} of storage {storage.key!r}, which holds "
            f"{len(whole)}"
        )
    flat = whole[storage.offset : storage.offset + storage.numel]
    size = tuple(_count(f"size of {name!r}", n) for n in tensor.size)
    stride = tuple(_count(f"stride of {name!r}", n) for n in tensor.stride)
    offset = _count(f"offset of {name!r}", tensor.offset)
    if len(size) != len(stride):
        raise MalformedPthError(f"tensor {name!r} has size {size} but stride {stride}")
    if len(size) > MAX_DIMS:
        raise MalformedPthError(
            f"tensor {name!r} has {len(size)} dimensions, more than {MAX_DIMS}"
        )
    numel = math.prod(size)
    if numel > len(flat):  # before anything is allocated: stride 0 repeats elements
        raise MalformedPthError(
            f"tensor {name!r} has {numel} elements (size {size}), more than the "
            f"{len(flat)} its storage holds"
        )
    if numel == 0:
        try:
            array = np.zeros(size, flat.dtype)
        except (ValueError, OverflowError) as error:  # a dimension NumPy cannot hold
            raise MalformedPthError(
                f"tensor {name!r} has size {size}: {error}"
            ) from None
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= len(flat):
            raise MalformedPthError(
                f"tensor {name!r} reaches past the end of its storage"
            )
        # every stride used is below the storage's length; a dimension of one uses none
        strides = tuple(
            s * flat.itemsize if n > 1 else 0 for n, s in zip(size, stride, strict=True)
        )
        array = np.lib.stride_tricks.as_strided(
            flat[offset:], size, strides, writeable=False
        )
    array = np.array(array, dtype=array.dtype.newbyteorder("="), order="C")  # a copy
    if storage.kind == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array
