"""The ``.pth`` reader's contract (dlbook.pretrained.torch_weights): a file that is not a
readable state dict raises ``pickle.UnpicklingError`` and nothing else, and nothing in a
small file makes it allocate more than the file's own tensors need.

The files are built by hand here, as torch writes them (torch is not installed): a
pure-Python pickler that writes the GLOBALs torch's pickles name, and storages as
persistent ids."""

import io
import os
import pickle
import re
import struct
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from dlbook.pretrained import torch_weights

# --- building .pth files --------------------------------------------------------------


class Global:
    """Pickles as the GLOBAL ``module.name``, the way torch's functions do."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler wants reduce functions callable
        raise AssertionError("never called")


KINDS = {
    "float32": "FloatStorage",
    "float16": "HalfStorage",
    "int64": "LongStorage",
    "bool": "BoolStorage",
    "uint8": "ByteStorage",
}


class Storage:
    def __init__(self, key, array, kind=None):
        self.key, self.array = key, np.ascontiguousarray(array)
        self.kind = kind or KINDS[self.array.dtype.name]
        self.numel = self.array.size  # what the persistent id claims


class View:
    """Part of a storage, as the legacy format saves it: ``offset``, ``size``."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size


class Tensor:
    """Pickles like a torch tensor: ``_rebuild_tensor_v2(storage, offset, size, ...)``."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = (
            storage,
            offset,
            size,
            stride,
        )

    def __reduce__(self):
        rebuild = Global("torch._utils", "_rebuild_tensor_v2")
        args = (self.storage, self.offset, self.size, self.stride, False, OrderedDict())
        return rebuild, args


class TorchLikePickler(pickle._Pickler):  # the pure-Python pickler, to write GLOBALs
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, legacy=False, protocol=2):
        super().__init__(file, protocol=protocol)
        self.legacy = legacy

    def save_global_marker(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[Global] = save_global_marker

    def persistent_id(self, obj):
        view = None
        if isinstance(obj, View):
            obj, view = obj.root, (f"{obj.root.key}-view", obj.offset, obj.size)
        if not isinstance(obj, Storage):
            return None
        pid = ("storage", Global("torch", obj.kind), obj.key, "cpu", obj.numel)
        return (*pid, view) if self.legacy else pid


def pickled(obj, legacy=False) -> bytes:
    buffer = io.BytesIO()
    TorchLikePickler(buffer, legacy).dump(obj)
    return buffer.getvalue()


def zip_pth(state, storages=(), byteorder=b"little", compression=zipfile.ZIP_STORED):
    """A zip-format .pth; ``state`` is an object to pickle or the pickle's bytes."""
    data = state if isinstance(state, bytes) else pickled(state)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("archive/data.pkl", data)
        if byteorder is not None:
            archive.writestr("archive/byteorder", byteorder)
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return buffer.getvalue()


def legacy_pth(state, storages) -> bytes:
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    magic = (torch_weights.LEGACY_MAGIC, torch_weights.LEGACY_PROTOCOL, info)
    parts = [pickle.dumps(x, protocol=2) for x in magic]
    parts += [pickled(state, legacy=True)]
    parts += [pickle.dumps([s.key for s in storages], protocol=2)]
    for storage in storages:
        parts += [struct.pack("<q", storage.numel), storage.array.tobytes()]
    return b"".join(parts)


def small_state():
    """A state dict with a little of everything the reader handles, and what it holds."""
    floats = Storage("0", np.arange(12, dtype=np.float32))
    longs = Storage("1", np.array([7, 8, 9], dtype=np.int64))
    halves = Storage("2", np.array([0.5, -2.0], dtype=np.float16))
    flags = Storage("3", np.array([True, False, True]))
    state = OrderedDict(
        weight=Tensor(floats, 0, (3, 4), (4, 1)),
        transposed=Tensor(floats, 0, (4, 3), (1, 4)),
        window=Tensor(floats, 5, (2, 2), (4, 1)),
        counter=Tensor(longs, 2, (), ()),
        half=Tensor(halves, 0, (2,), (1,)),
        single=Tensor(flags, 1, (1, 2), (7, 1)),  # a stride no element uses
        empty=Tensor(longs, 0, (0, 3), (3, 1)),
    )
    expected = {
        "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,
        "window": np.array([[5, 6], [9, 10]], dtype=np.float32),
        "counter": np.array(9, dtype=np.int64),
        "half": np.array([0.5, -2.0], dtype=np.float16),
        "single": np.array([[False, True]]),
        "empty": np.zeros((0, 3), np.int64),
    }
    return state, (floats, longs, halves, flags), expected


def assert_same(loaded, expected):
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)


def peak_bytes_while(call):
    """The peak of Python's (and NumPy's) traced allocations while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_crafted_files_round_trip(layout):
    state, storages, expected = small_state()
    data = zip_pth(state, storages) if layout == "zip" else legacy_pth(state, storages)
    assert_same(torch_weights.load_state_dict(data), expected)


def test_a_deflated_zip_is_read_as_torch_reads_it():
    state, storages, expected = small_state()
    data = zip_pth(state, storages, compression=zipfile.ZIP_DEFLATED)
    assert_same(torch_weights.load_state_dict(data), expected)


def test_the_stride_of_a_dimension_of_one_is_never_used():
    """torch keeps any stride for a dimension of size one; NumPy's byte strides must
    fit an ``intp``, so such a stride is not handed to NumPy."""
    floats = Storage("0", np.arange(12, dtype=np.float32))
    data = zip_pth({"row": Tensor(floats, 4, (1, 3), (2**62, 2))}, [floats])
    loaded = torch_weights.load_state_dict(data)
    np.testing.assert_array_equal(loaded["row"], [[4, 6, 8]])


# --- malformed zip archives ----------------------------------------------------------


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: data[:4] + b"\0" * 60, id="garbage after the magic"),
        pytest.param(lambda data: data[: len(data) // 2], id="cut in half"),
        pytest.param(lambda data: data[:-10], id="end record cut"),
    ],
)
def test_a_bad_zip_is_an_unpickling_error(cut):
    state, storages, _ = small_state()
    with pytest.raises(pickle.UnpicklingError, match="zip"):
        torch_weights.load_state_dict(cut(zip_pth(state, storages)))


@pytest.mark.parametrize(
    "record", [b"\xff\xfe\x00l", b"middle", b"", b"little\x00"], ids=repr
)
def test_a_byteorder_record_other_than_little_or_big_is_refused(record):
    state, storages, _ = small_state()
    with pytest.raises(pickle.UnpicklingError, match="byteorder"):
        torch_weights.load_state_dict(zip_pth(state, storages, byteorder=record))


def test_a_big_endian_zip_is_read():
    floats = Storage("0", np.arange(3, dtype=">f4"), kind="FloatStorage")
    data = zip_pth({"w": Tensor(floats, 0, (3,), (1,))}, [floats], byteorder=b"big")
    loaded = torch_weights.load_state_dict(data)
    np.testing.assert_array_equal(loaded["w"], [0, 1, 2])
    assert loaded["w"].dtype == np.float32 and loaded["w"].dtype.isnative


def test_a_storage_compressed_as_torch_never_does_is_refused():
    state, storages, _ = small_state()
    data = zip_pth(state, storages, compression=zipfile.ZIP_BZIP2)
    with pytest.raises(pickle.UnpicklingError, match="compress"):
        torch_weights.load_state_dict(data)


def test_a_bzip2_bomb_is_refused_before_it_is_inflated():
    floats = Storage("0", np.zeros(1, np.float32))
    floats.numel = 2**24  # 64 MiB of zeros, which bzip2 packs into a hundred bytes
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        state = {"w": Tensor(floats, 0, (1,), (1,))}
        archive.writestr("archive/data.pkl", pickled(state))
        archive.writestr("archive/data/0", bytes(4 * 2**24), zipfile.ZIP_BZIP2)
    data = buffer.getvalue()
    assert len(data) < 1000
    error = []

    def load():
        with pytest.raises(pickle.UnpicklingError) as caught:
            torch_weights.load_state_dict(data)
        error.append(caught.value)

    assert peak_bytes_while(load) < 1 << 20
    assert "compress" in str(error[0])


# --- tensors that do not fit their storage -------------------------------------------


def test_a_tensor_asking_for_more_than_its_storage_is_refused_before_allocating():
    one = Storage("0", np.zeros(1, np.float32))
    # stride 0 keeps every element at the storage's first: 2**40 floats, 4 TiB
    bomb = zip_pth({"bomb": Tensor(one, 0, (2**20, 2**20), (0, 0))}, [one])
    assert len(bomb) < 700
    error = []

    def load():
        with pytest.raises(pickle.UnpicklingError) as caught:
            torch_weights.load_state_dict(bomb)
        error.append(caught.value)

    assert peak_bytes_while(load) < 1 << 20
    assert "'bomb'" in str(error[0]) and "1099511627776 elements" in str(error[0])


@pytest.mark.parametrize(
    ("offset", "size", "stride", "what"),
    [
        (-1, (2,), (1,), "offset of 'bad'"),
        (0, (-1, 4), (4, 1), "size of 'bad'"),
        (0, (3, 4), (4, -1), "stride of 'bad'"),
        (0, (2.0,), (1,), "size of 'bad'"),
        (0, (True,), (1,), "size of 'bad'"),
        (0, (3, 4), (4,), "'bad' has size"),
        (10, (2, 2), (4, 1), "'bad' reaches past the end"),
        (0, (1,) * 65, (1,) * 65, "'bad' has 65 dimensions"),
        (0, (0, 2**63), (1, 1), "'bad'"),
    ],
)
def test_bad_tensor_geometry_is_an_unpickling_error(offset, size, stride, what):
    floats = Storage("0", np.arange(12, dtype=np.float32))
    data = zip_pth({"bad": Tensor(floats, offset, size, stride)}, [floats])
    with pytest.raises(pickle.UnpicklingError, match=re.escape(what)):
        torch_weights.load_state_dict(data)
    # the error is still a ValueError, as it was before it was an UnpicklingError
    with pytest.raises(ValueError):
        torch_weights.load_state_dict(data)


@pytest.mark.parametrize(
    "view",
    [(-1, 4), (4, -2), (10, 6)],
    ids=["negative offset", "negative size", "past"],
)
def test_a_legacy_view_outside_its_storage_is_refused(view):
    floats = Storage("0", np.arange(12, dtype=np.float32))
    state = {"part": Tensor(View(floats, *view), 0, (2,), (1,))}
    with pytest.raises(pickle.UnpicklingError):
        torch_weights.load_state_dict(legacy_pth(state, [floats]))


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_storage_shorter_than_its_numel_is_refused(layout):
    floats = Storage("0", np.arange(12, dtype=np.float32))
    floats.numel = 13  # the persistent id (and the legacy header) claim one more
    state = {"w": Tensor(floats, 0, (13,), (1,))}
    data = zip_pth(state, [floats]) if layout == "zip" else legacy_pth(state, [floats])
    with pytest.raises(pickle.UnpicklingError, match="storage '0'"):
        torch_weights.load_state_dict(data)


def test_what_is_not_a_state_dict_of_tensors_is_an_unpickling_error():
    floats = Storage("0", np.arange(2, dtype=np.float32))
    tensor = Tensor(floats, 0, (2,), (1,))
    for state in ([tensor], {"w": tensor, "b": 3.0}, {7: tensor}, {("w",): tensor}):
        with pytest.raises(pickle.UnpicklingError, match="state dict"):
            torch_weights.load_state_dict(zip_pth(state, [floats]))


def _deep_list_pickle(depth=100_000) -> bytes:
    """A list nested ``depth`` deep: EMPTY_LISTs, then APPENDs (no recursion to write,
    but ``str`` or ``repr`` of it recurses past Python's limit)."""
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


@pytest.mark.parametrize("part", ["protocol", "storage keys"])
def test_a_deeply_nested_legacy_record_is_an_unpickling_error(part):
    floats = Storage("0", np.arange(2, dtype=np.float32))
    data = legacy_pth({"w": Tensor(floats, 0, (2,), (1,))}, [floats])
    record = {
        "protocol": pickle.dumps(torch_weights.LEGACY_PROTOCOL, protocol=2),
        "storage keys": pickle.dumps(["0"], protocol=2),
    }[part]
    assert data.count(record) == 1
    with pytest.raises(pickle.UnpicklingError):
        torch_weights.load_state_dict(data.replace(record, _deep_list_pickle()))


# --- pickles that ask for memory they do not hold --------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        # LONG_BINPUT at memo index 2**24: the C unpickler grows its memo to 2**25 slots
        b"\x80\x02}r\x00\x00\x00\x01.",
        # BINBYTES8 of 2**28 bytes, of which the file holds one: allocated before reading
        b"\x80\x04\x8e" + (2**28).to_bytes(8, "little") + b"x.",
    ],
    ids=["memo index", "bytes length"],
)
def test_a_pickle_asking_for_memory_it_does_not_hold_is_refused(payload):
    for data in (zip_pth(payload), payload):

        def load(data=data):
            with pytest.raises(pickle.UnpicklingError):
                torch_weights.load_state_dict(data)

        assert peak_bytes_while(load) < 1 << 20


# --- truncated and fuzzed files -------------------------------------------------------


def test_every_truncation_of_a_legacy_file_is_an_unpickling_error():
    state, storages, _ = small_state()
    data = legacy_pth(state, storages)
    for end in range(len(data)):
        with pytest.raises(pickle.UnpicklingError):
            torch_weights.load_state_dict(data[:end])


def test_every_truncation_of_a_zip_file_is_an_unpickling_error():
    state, storages, _ = small_state()
    data = zip_pth(state, storages)
    for end in range(0, len(data), 7):
        with pytest.raises(pickle.UnpicklingError):
            torch_weights.load_state_dict(data[:end])


def _load_or_error(data):
    try:
        return torch_weights.load_state_dict(data)
    except pickle.UnpicklingError:
        return None


def test_flipping_any_byte_of_a_zip_file_gives_the_same_tensors_or_an_unpickling_error():
    """Zip members carry a CRC-32: a changed byte is either one the reader does not use
    or it is caught. Every position, three ways."""
    state, storages, expected = small_state()
    data = zip_pth(state, storages)
    outcomes = {"same": 0, "refused": 0}
    for position in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            flipped = bytearray(data)
            flipped[position] ^= mask
            loaded = _load_or_error(bytes(flipped))
            if loaded is None:
                outcomes["refused"] += 1
            else:
                assert_same(loaded, expected)
                outcomes["same"] += 1
    assert outcomes["refused"] > len(data)  # most bytes matter


def test_flipping_any_byte_of_a_legacy_file_gives_arrays_or_an_unpickling_error():
    """The legacy format has no checksum, so a flipped byte of tensor data or of a name
    reads as another value; what comes back is still a dict of arrays."""
    state, storages, _ = small_state()
    data = legacy_pth(state, storages)
    rng = np.random.default_rng(0)
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= int(rng.integers(1, 256))
        loaded = _load_or_error(bytes(flipped))
        if loaded is not None:
            assert all(isinstance(a, np.ndarray) for a in loaded.values())
            assert sum(a.nbytes for a in loaded.values()) <= 4 * len(data)


class Exploit:
    """A pickle that would run a shell command if it were ever unpickled plainly."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": Exploit(marker)}, protocol=2)
    assert b"system" in payload
    for data in (zip_pth(payload), payload):  # as a zip-format .pth and a raw pickle
        with pytest.raises(
            pickle.UnpicklingError, match=r"refused to load the global .*system"
        ):
            torch_weights.load_state_dict(data)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        torch_weights.load_state_dict(zip_pth(Global("builtins", "eval")))


def test_not_a_pth_and_hash_mismatch_get_clear_errors():
    state, storages, _ = small_state()
    data = zip_pth(state, storages)
    with pytest.raises(ValueError, match="SHA-256"):
        torch_weights.load_state_dict(data, sha256="0" * 64)
    with pytest.raises(pickle.UnpicklingError, match="not a PyTorch .pth file"):
        torch_weights.load_state_dict(b"plain text, not a checkpoint")
    with pytest.raises(TypeError, match="data must be the bytes"):
        torch_weights.load_state_dict("archive/data.pkl")


def test_a_legacy_storage_view_is_read():
    floats = Storage("0", np.arange(12, dtype=np.float32))
    state = {"part": Tensor(View(floats, 4, 6), 1, (2,), (1,))}  # elements 5 and 6
    loaded = torch_weights.load_state_dict(legacy_pth(state, [floats]))
    np.testing.assert_array_equal(loaded["part"], np.array([5, 6], np.float32))
