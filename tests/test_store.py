"""The trained-model store never returns weights it was not asked for (#36): the key sees
every setting or refuses, holds nothing else, and a damaged or unwritable store degrades
instead of failing."""

import errno
import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import keras
import numpy as np
import pytest

from dlbook import training
from dlbook.base import closure
from dlbook.training import key as keys
from dlbook.training import store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.STORE_VAR, str(tmp_path / "store"))
    monkeypatch.delenv(store.RETRAIN_VAR, raising=False)
    store._warned.clear()
    return tmp_path / "store"


def small_model(seed=3):
    training.reseed(seed)
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
    )


def small_data():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def small_fit(**changes):
    options = dict(loss="mse", epochs=2, batch_size=16, seed=1)
    options.update(changes)
    return training.fit(small_model(), small_data(), **options)


def key_of(routine=training.core.keras_fit, seed=0, key=None, **arguments):
    return keys.training_key(routine, {"model": small_model()}, seed, arguments, key)


def same_weights(a, b):
    return all(
        np.array_equal(u, v)
        for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
    )


# --- 1. the key holds what decides the weights, or refuses ---------------------------


def test_a_keras_loss_is_keyed_by_its_settings(store_dir):
    first = small_fit(loss=keras.losses.Huber(delta=0.01))
    other = small_fit(loss=keras.losses.Huber(delta=100.0))
    same = small_fit(loss=keras.losses.Huber(delta=0.01))
    assert not other.restored and other.key != first.key
    assert same.restored and same.key == first.key
    assert not same_weights(first.model, other.model)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: keras.metrics.MeanAbsoluteError(name=f"mae{v}"),
        lambda v: keras.optimizers.Adam(learning_rate=v),
        lambda v: keras.initializers.Constant(v),
        lambda v: keras.regularizers.L2(v),
        lambda v: keras.constraints.MaxNorm(v),
        lambda v: keras.layers.Dense(int(v * 10)),
    ],
    ids=["metric", "optimizer", "initializer", "regularizer", "constraint", "layer"],
)
def test_keras_objects_are_keyed_by_class_and_config(make):
    assert key_of(thing=make(0.1)) == key_of(thing=make(0.1))
    assert key_of(thing=make(0.1)) != key_of(thing=make(0.2))


def scaled(x, factor=1.0, shift=0.0):
    return x * factor + shift


def test_a_partial_is_keyed_by_function_arguments_and_keywords():
    base = key_of(f=functools.partial(scaled, factor=2.0))
    assert key_of(f=functools.partial(scaled, factor=2.0)) == base
    assert key_of(f=functools.partial(scaled, factor=3.0)) != base
    assert key_of(f=functools.partial(scaled, shift=2.0)) != base
    assert key_of(f=functools.partial(np.add, 2.0)) != key_of(
        f=functools.partial(np.add, 3.0)
    )


def test_closures_and_lambdas_are_keyed_by_what_they_capture(store_dir):
    def huber_like(delta):
        return lambda y, p: keras.losses.huber(y, p, delta=delta)

    assert key_of(loss=huber_like(0.01)) == key_of(loss=huber_like(0.01))
    assert key_of(loss=huber_like(0.01)) != key_of(loss=huber_like(100.0))
    first = small_fit(loss=huber_like(0.01))
    other = small_fit(loss=huber_like(100.0))
    assert not other.restored and first.key != other.key


def test_outside_code_is_keyed_by_its_source_and_the_globals_it_reads(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "readers_code.py"

    def load(text):
        module.write_text(textwrap.dedent(text))
        sys.modules.pop("readers_code", None)
        importlib.invalidate_caches()
        return importlib.import_module("readers_code")

    base = key_of(loss=load("def loss(y, p):\n    return (y - p) ** 2\n").loss)
    documented = load(
        'def loss(y, p):\n    """Squared."""\n    return (y - p) ** 2  # !\n'
    )
    assert key_of(loss=documented.loss) == base  # prose is not code
    cubed = load("def loss(y, p):\n    return abs(y - p) ** 3\n")
    assert key_of(loss=cubed.loss) != base
    one = load("POWER = 2\n\ndef loss(y, p):\n    return abs(y - p) ** POWER\n")
    two = load("POWER = 3\n\ndef loss(y, p):\n    return abs(y - p) ** POWER\n")
    assert key_of(loss=one.loss) != key_of(loss=two.loss)


def test_a_function_in_main_is_keyed_by_source_in_a_pasted_script(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np
        from dlbook import training
        from dlbook.training import key as keys
        import keras

        def loss(y, p):
            return keras.ops.mean((y - p) ** SCALE)

        SCALE = {scale}
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        print(keys.training_key(training.core.keras_fit, {{"m": model}}, 0, {{"loss": loss}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}

    def key(scale):
        path = tmp_path / f"pasted_{scale}.py"
        path.write_text(script.format(scale=scale))
        done = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert key(2) != key(4)


def test_what_the_key_cannot_see_is_refused_with_a_remedy_unless_labelled():
    namespace = {}
    exec("def loss(y, p):\n    return y - p\n", namespace)  # no file: no source
    with pytest.raises(keys.UnkeyableError, match=r"argument\['loss'\].*key="):
        key_of(loss=namespace["loss"])

    class Opaque:  # not callable, not a value
        pass

    with pytest.raises(keys.UnkeyableError, match=r"argument\['thing'\]"):
        key_of(thing=Opaque())
    assert key_of(key="v1", loss=namespace["loss"]) != key_of(
        key="v2", loss=namespace["loss"]
    )
    with pytest.raises(keys.UnkeyableError, match="key="):
        small_fit(loss=namespace["loss"])


def test_the_numeric_path_is_in_the_key(monkeypatch):
    import dlbook

    base = key_of()
    monkeypatch.setattr(dlbook, "ONEDNN_AT_START", None)  # TensorFlow's default: on
    assert keys.numeric_path()["onednn"] == "on"
    assert key_of() != base
    monkeypatch.setattr(dlbook, "ONEDNN_AT_START", "0")
    assert key_of() == base


@pytest.mark.parametrize("first", ["keras", "dlbook"])
def test_importing_keras_first_gives_another_numeric_path(first):
    code = textwrap.dedent(
        f"""
        import os
        os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
        import {first}
        from dlbook.training import key as keys
        import keras
        print(keys.numeric_path()["onednn"], os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout.split()
    assert said == (["on", "None"] if first == "keras" else ["off", "0"])


# --- 2. no more than decides the weights ---------------------------------------------


def fake_distribution(folder, name, version, module=None):
    for old in folder.glob(f"{name}-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    if module:
        (info / "top_level.txt").write_text(module + "\n")
        (folder / module).mkdir(exist_ok=True)
        (folder / module / "__init__.py").write_text("")


def forget_distributions():
    closure._module_distributions.cache_clear()
    closure._environment.cache_clear()
    closure._requirements.cache_clear()


def test_an_unrelated_package_keeps_the_key_a_used_one_changes_it(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    forget_distributions()
    base = key_of()
    fake_distribution(tmp_path, "unrelated-linter", "1.0", "unrelated_linter")
    forget_distributions()
    assert key_of() == base  # installed beside the book, used by no training
    fake_distribution(tmp_path, "numpy", "0.0.1")  # shadows the real NumPy's metadata
    forget_distributions()
    try:
        assert key_of() != base
    finally:
        for file in (tmp_path / "numpy-0.0.1.dist-info").iterdir():
            file.unlink()
        (tmp_path / "numpy-0.0.1.dist-info").rmdir()
        forget_distributions()
    assert key_of() == base


def test_the_core_distributions_and_their_requirements_are_keyed():
    names = closure.distributions_of({"keras", "numpy"})
    assert {"keras", "numpy"} <= names
    assert closure.environment_fingerprint(
        {"keras"}
    ) != closure.environment_fingerprint({"numpy"})


# --- 3. code, not bytes ----------------------------------------------------------------


def test_code_text_leaves_docstrings_comments_and_formatting_out():
    plain = "def f(x):\n    return x + 1\n"
    dressed = 'def f(x):\n    """Add one."""\n    # the one\n    return (x +\n            1)\n'
    assert closure.code_text(plain) == closure.code_text(dressed)
    assert closure.code_text(plain) != closure.code_text(plain.replace("1", "2"))
    assert closure.code_text('x = "not a docstring"\n') != closure.code_text("x = ''\n")


def test_the_key_follows_the_code_a_training_runs_not_its_prose_nor_other_code(
    tmp_path, monkeypatch
):
    package = tmp_path / "fakecore"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text('"""Helpers."""\nRATE = 0.1\n')
    (package / "plots.py").write_text("def draw():\n    return 'a figure'\n")
    (package / "core.py").write_text(
        "from fakecore.base import RATE\n\n\ndef routine(model, seed):\n"
        "    return {'rate': RATE}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(keys, "CODE_PACKAGE", "fakecore")
    import fakecore.core

    def key():
        return keys.training_key(fakecore.core.routine, {"m": small_model()}, 0, {})

    base = key()
    (package / "plots.py").write_text("def draw():\n    return 'another figure'\n")
    assert key() == base  # code the routine does not import
    (package / "base.py").write_text(
        '"""Helpers, documented at length."""\nRATE = 0.1\n'
    )
    assert key() == base
    (package / "core.py").write_text(
        "from fakecore.base import RATE  # a comment\n\n\n"
        "def routine(model, seed):\n    '''Doc.'''\n    return {'rate': RATE}\n"
    )
    assert key() == base
    (package / "base.py").write_text("RATE = 0.2\n")
    assert key() != base  # code the routine imports


# --- 4. a damaged entry is never fatal and never trusted ------------------------------


def entry(where, key="0123456789abcdef" * 2):
    weights = {"model": [np.arange(6, dtype="float32").reshape(2, 3), np.ones(2)]}
    record = {"history": {"loss": [1.0, 0.5]}, "metrics": {}, "_seconds": 0.25}
    return store.save(key, weights, record, where), weights, record


def test_every_flipped_byte_restores_the_same_or_is_discarded_with_a_warning(tmp_path):
    path, weights, record = entry(tmp_path)
    content = path.read_bytes()
    key = path.stem
    outcomes = {"same": 0, "discarded": 0}
    for i in range(len(content)):
        damaged = bytearray(content)
        damaged[i] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = store.load(key, tmp_path)
        if found is None:
            assert [w.category for w in caught] == [store.StoreWarning], i
            assert not path.exists()
            outcomes["discarded"] += 1
        else:
            assert not caught, i
            got, got_record = found
            assert got_record == record
            for a, b in zip(got["model"], weights["model"], strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)
            outcomes["same"] += 1
    assert outcomes["discarded"] > len(content) // 2, outcomes


def rewrite_meta(path, change):
    """Write the entry at ``path`` again with its meta replaced by ``change(meta)``."""
    with np.load(path) as stored:
        arrays = {n.removesuffix(".npy"): stored[n] for n in stored.files}
    meta = change(json.loads(bytes(arrays["meta.json"]).decode()))
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize(
    "meta",
    [[], "text", {"key": 1}, {"format": 2}, None],
    ids=["list", "string", "wrong-key", "no-key", "null"],
)
def test_a_meta_of_the_wrong_type_is_discarded(tmp_path, meta):
    path, _, _ = entry(tmp_path)
    rewrite_meta(path, lambda _: meta)
    with pytest.warns(store.StoreWarning, match="discarding"):
        assert store.load(path.stem, tmp_path) is None


def test_the_checksum_covers_the_record(tmp_path):
    path, _, _ = entry(tmp_path)

    def altered(meta):
        meta["record"] = meta["record"].replace("0.5", "0.4")
        return meta

    rewrite_meta(path, altered)
    with pytest.warns(store.StoreWarning, match="checksum"):
        assert store.load(path.stem, tmp_path) is None


def test_weights_that_do_not_fit_the_model_are_discarded_and_retrained(store_dir):
    cold = small_fit()
    path = store.entry_path(cold.key)
    wrong = {"model": [np.zeros((3, 3), "float32")] * 4}
    store.save(cold.key, wrong, {"history": {}, "metrics": {}, "_seconds": 1.0})
    with pytest.warns(store.StoreWarning, match="discarding"):
        again = small_fit()
    assert not again.restored and same_weights(cold.model, again.model)
    assert path.exists() and small_fit().restored


def test_a_record_missing_a_field_is_discarded_and_retrained(store_dir):
    cold = small_fit()
    weights = {"model": [np.asarray(v.numpy()) for v in cold.model.variables]}
    store.save(cold.key, weights, {"metrics": {}, "_seconds": 1.0})
    with pytest.warns(store.StoreWarning, match="history"):
        again = small_fit()
    assert not again.restored and again.history == cold.history


def test_an_optimizer_state_that_does_not_fit_is_discarded_and_retrained(store_dir):
    cold = small_fit(store_optimizer=True)
    weights = {
        "model": [np.asarray(v.numpy()) for v in cold.model.variables],
        "model.optimizer": [np.zeros(1)],
    }
    record = {"history": cold.history, "metrics": {}, "_seconds": 1.0}
    store.save(cold.key, weights, record)
    with pytest.warns(store.StoreWarning, match="optimizer"):
        again = small_fit(store_optimizer=True)
    assert not again.restored and same_weights(cold.model, again.model)


def test_a_record_goes_through_json_on_a_miss_as_on_a_hit(store_dir):
    def routine(model, seed):
        return {"curve": np.arange(3.0), "best": np.float32(0.5)}

    miss = training.run(routine, small_model())
    hit = training.run(routine, small_model())
    assert not miss.restored and hit.restored
    assert miss.record == hit.record == {"curve": [0.0, 1.0, 2.0], "best": 0.5}

    def bad(model, seed):
        return {"when": object()}

    with pytest.raises(TypeError, match="record must hold JSON values"):
        training.run(bad, small_model())


def test_a_diverged_training_fails_and_is_not_stored(store_dir):
    x, y = small_data()
    x[0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="diverged"):
        training.fit(small_model(), (x, y), loss="mse", epochs=1)
    assert store.size(store_dir)[0] == 0


def test_a_decompression_bomb_is_refused_before_it_is_inflated(tmp_path):
    path, _, _ = entry(tmp_path)
    with np.load(path) as stored:
        meta = bytes(stored["meta.json"])
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json.npy", _npy(np.frombuffer(meta, np.uint8)))
        with archive.open("model/0.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((2, 3), "<f4"))
            chunk = bytes(2**20)
            for _ in range(64):  # 64 MiB of zeros, a few hundred KB compressed
                member.write(chunk)
        archive.writestr("model/1.npy", _npy(np.ones(2)))
    os.replace(bomb, path)
    with pytest.warns(store.StoreWarning, match="declares"):
        assert store.load(path.stem, tmp_path) is None


def _npy(array):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape, descr):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


# --- 5. degrade, don't die --------------------------------------------------------------


def failing_writes(code):
    def write(path, arrays):
        raise OSError(code, os.strerror(code), str(path))

    return write


def test_a_read_only_store_serves_hits_and_skips_writes_with_one_warning(
    store_dir, monkeypatch
):
    cold = small_fit()
    monkeypatch.setattr(store, "_write_entry", failing_writes(errno.EROFS))
    real_open = os.open

    def read_only_open(path, flags, *mode):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *mode)

    monkeypatch.setattr(store.os, "open", read_only_open)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert small_fit().restored and small_fit().key == cold.key
    with pytest.warns(store.StoreWarning, match="cannot be written") as caught:
        first = small_fit(epochs=3)
        second = small_fit(epochs=4)
    assert len(caught) == 1 and not first.restored and not second.restored
    assert store.size(store_dir)[0] == 1


def test_a_full_disk_keeps_the_trained_result_and_warns(store_dir, monkeypatch):
    monkeypatch.setattr(store, "_write_entry", failing_writes(errno.ENOSPC))
    with pytest.warns(store.StoreWarning, match="No space left"):
        result = small_fit()
    assert not result.restored and result.history["loss"]


def test_a_store_variable_naming_a_file_is_an_error_naming_it(tmp_path, monkeypatch):
    afile = tmp_path / "not-a-folder"
    afile.write_text("")
    monkeypatch.setenv(store.STORE_VAR, str(afile))
    with pytest.raises(ValueError, match=store.STORE_VAR):
        small_fit()


@pytest.mark.parametrize("key", ["../x", "ABCDEF" * 6, "0" * 31, "", 5])
def test_keys_are_validated(key, tmp_path):
    with pytest.raises(ValueError, match="key must be 32 lowercase hexadecimal"):
        store.load(key, tmp_path)


def test_orphan_temporary_files_are_counted_cleaned_and_cleared(tmp_path):
    key = "0123456789abcdef" * 2
    orphan = tmp_path / f".{key}.x1y2.tmp"
    orphan.write_bytes(b"x" * 1000)
    other = tmp_path / f".{'f' * 32}.x1y2.tmp"
    other.write_bytes(b"y" * 500)
    assert store.orphans(tmp_path) == sorted([orphan, other])
    assert store.size(tmp_path) == (0, 1500)
    entry(tmp_path, key)  # its writer holds the key's lock: the orphan is its own
    assert not orphan.exists() and other.exists()
    assert store.clear(tmp_path) == 1 and store.orphans(tmp_path) == []
