"""The training core and its trained-model store: hits, misses, keys, damage, races."""

import os
import random
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

from dlbook import training
from dlbook.training import key as keys
from dlbook.training import store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(store.STORE_VAR, str(tmp_path / "store"))
    monkeypatch.delenv(store.RETRAIN_VAR, raising=False)
    return tmp_path / "store"


@pytest.fixture
def no_store(monkeypatch):
    monkeypatch.setenv(store.STORE_VAR, "off")
    monkeypatch.delenv(store.RETRAIN_VAR, raising=False)


def tiny_model(seed=3):
    training.reseed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def tiny_data(n=64, flip=False):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    if flip:
        y[0] = 1 - y[0]
    return x, y


def tiny_fit(model=None, data=None, **changes):
    options = dict(
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        epochs=3,
        batch_size=16,
        patience=2,
        monitor="val_accuracy",
        seed=1,
    )
    options.update(changes)
    data = data or tiny_data()
    return training.fit(
        model or tiny_model(), data, val=data, evaluate={"test": data}, **options
    )


def generator_draws():
    import tensorflow as tf

    return (
        random.random(),
        float(np.random.rand()),
        float(keras.random.uniform(()).numpy()),
        float(tf.random.uniform(()).numpy()),
    )


def weights(model):
    return [np.asarray(v.numpy()) for v in model.variables]


# --- hit and miss ---------------------------------------------------------------------


def test_a_miss_trains_and_a_hit_restores_the_same_everything(store_dir):
    miss = tiny_fit()
    after_miss = generator_draws()
    hit = tiny_fit()
    after_hit = generator_draws()
    assert (miss.restored, hit.restored) == (False, True)
    assert hit.key == miss.key
    assert hit.history == miss.history and hit.metrics == miss.metrics
    assert hit.seconds == pytest.approx(miss.seconds)
    for a, b in zip(weights(miss.model), weights(hit.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert after_hit == after_miss  # every generator left as a miss leaves it
    assert hit.test_accuracy == miss.metrics["test_accuracy"]
    assert hit.model.optimizer is not None  # compiled, as after a miss
    assert store.size(store_dir)[0] == 1


def test_a_continued_fit_is_the_same_after_a_hit_as_after_a_miss(store_dir):
    """``recompile=False`` continues with the first fit's optimizer: its state comes
    back from the store with the weights, so the second fit has the same key and
    trains the same way whether the first fit ran or was restored."""

    def continued():
        first = tiny_fit(patience=None, monitor=None, store_optimizer=True)
        second = tiny_fit(first.model, recompile=False, patience=None, monitor=None)
        return first, second

    cold = continued()
    store.entry_path(cold[1].key, store_dir).unlink()  # keep only the first fit
    warm = continued()
    assert (cold[0].restored, cold[1].restored) == (False, False)
    assert (warm[0].restored, warm[1].restored) == (True, False)
    assert warm[1].key == cold[1].key
    assert warm[1].history == cold[1].history
    for a, b in zip(weights(cold[1].model), weights(warm[1].model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_fit_stores_its_optimizer_only_when_asked(store_dir):
    """Without ``store_optimizer=True`` an entry holds the weights alone, and a
    continuation of that fit is refused, cold and warm alike (warm, its optimizer
    would start from nothing and train differently); a zeroed optimizer may go on."""
    for _ in range(2):  # a miss, then a hit
        plain = tiny_fit(patience=None, monitor=None)
        with pytest.raises(ValueError, match="pass store_optimizer=True to that fit"):
            tiny_fit(plain.model, recompile=False, patience=None, monitor=None)
    assert (plain.restored, store.size(store_dir)[0]) == (True, 1)
    stored = store.load(plain.key)[0]
    assert sorted(stored) == ["model"]  # no optimizer entry
    training.reset_optimizer(plain.model)
    tiny_fit(plain.model, recompile=False, patience=None, monitor=None)
    with pytest.raises(ValueError, match="has no optimizer: compile it first"):
        training.reset_optimizer(tiny_model())


def test_retrain_trains_again_and_gives_the_stored_weights(store_dir, monkeypatch):
    first = tiny_fit()
    monkeypatch.setenv(store.RETRAIN_VAR, "1")
    again = tiny_fit()
    assert not again.restored
    for a, b in zip(weights(first.model), weights(again.model), strict=True):
        np.testing.assert_array_equal(a, b)


def calls_logged(tmp_path):
    """A log of a routine's calls that its key does not see (a captured list would be
    keyed: its contents change with every call)."""
    log = tmp_path / "calls.log"

    def calls():
        return log.read_text().split() if log.exists() else []

    return str(log), calls


def test_a_custom_routine_plugs_into_the_store(store_dir, tmp_path):
    log, calls = calls_logged(tmp_path)

    def routine(model, seed, steps):
        with open(log, "a") as file:
            file.write(f"{seed} ")
        model.compile("sgd", "mse")
        x, y = tiny_data()
        for _ in range(steps):  # a loop of its own, not one fit call
            model.train_on_batch(x, np.eye(2)[y])
        return {"steps": steps}

    training.run(routine, tiny_model(), seed=5, steps=3)
    second = training.run(routine, tiny_model(), seed=5, steps=3)
    assert calls() == ["5"] and second.restored and second.record == {"steps": 3}


def test_a_default_passed_or_left_out_is_one_training(store_dir, tmp_path):
    log, calls = calls_logged(tmp_path)

    def routine(model, seed, steps=2, rate=0.1):
        with open(log, "a") as file:
            file.write(f"{steps},{rate} ")
        return {"steps": steps}

    first = training.run(routine, tiny_model(), seed=5)
    same = training.run(routine, tiny_model(), seed=5, steps=2, rate=0.1)
    other = training.run(routine, tiny_model(), seed=5, steps=3)
    assert same.restored and same.key == first.key
    assert not other.restored and calls() == ["2,0.1", "3,0.1"]


def test_bad_arguments_are_named(store_dir):
    with pytest.raises(ValueError, match="epochs"):
        tiny_fit(epochs=0)
    with pytest.raises(ValueError, match="monitor"):
        training.fit(tiny_model(), tiny_data(), loss="mse", monitor="val_loss")
    with pytest.raises(ValueError, match="train"):
        training.fit(tiny_model(), tiny_data()[0], loss="mse")
    with pytest.raises(TypeError, match="routine must return a dict"):
        training.run(lambda model, seed: None, tiny_model())
    with pytest.raises(ValueError, match="built"):
        training.fit(keras.Sequential([keras.layers.Dense(2)]), tiny_data(), loss="mse")


# --- the key --------------------------------------------------------------------------


def key_of(**changes):
    data = changes.pop("data", tiny_data())
    model = changes.pop("model", None) or tiny_model()
    options = dict(train=data, epochs=3, batch_size=16)
    options.update(changes)
    seed = options.pop("seed", 1)
    return keys.training_key(training.core.keras_fit, {"model": model}, seed, options)


def test_the_key_follows_arguments_data_seed_and_initial_weights():
    base = key_of()
    assert key_of() == base  # nothing random in the key itself
    assert key_of(epochs=4) != base
    assert key_of(data=tiny_data(flip=True)) != base
    assert key_of(seed=2) != base
    assert key_of(model=tiny_model(seed=4)) != base


def test_auto_numbered_layer_names_do_not_change_the_key():
    first = tiny_model()
    keras.layers.Dense(3)  # moves Keras' name counter: the next model's layers differ
    second = tiny_model()
    assert [layer.name for layer in first.layers] != [
        layer.name for layer in second.layers
    ]
    assert key_of(model=first) == key_of(model=second)


def test_a_package_version_changes_the_key(monkeypatch):
    base = key_of()
    monkeypatch.setattr(keys, "environment_fingerprint", lambda names: "keras==99")
    assert key_of() != base


# --- damage and races -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_a_damaged_entry_is_discarded_with_a_warning_and_retrained(store_dir, damage):
    first = tiny_fit()
    path = store.entry_path(first.key)
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an npz file")
    else:  # same size, one weight byte changed: the checksum must catch it
        with np.load(path) as stored:
            arrays = {name: stored[name].copy() for name in stored.files}
        arrays["model/0"].flat[0] += 1.0
        np.savez(path, **arrays)
    with pytest.warns(store.StoreWarning, match="discarding damaged store entry"):
        again = tiny_fit()
    assert not again.restored
    for a, b in zip(weights(first.model), weights(again.model), strict=True):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tiny_fit().restored  # the retrained entry is whole again


RACER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from dlbook.training import store

    where, key = store.Path(sys.argv[1]), "0123456789abcdef" * 2
    with store.locked(key, where):
        if store.load(key, where) is None:
            time.sleep(1.0)
            store.save(key, {"m": [np.arange(1000.0)]}, {"by": sys.argv[2]}, where)
            print("trained")
        else:
            print("restored")
    """
)


def test_two_processes_asking_at_once_leave_one_valid_entry(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    said = sorted(r.communicate(timeout=120)[0].strip() for r in racers)
    assert said == ["restored", "trained"]  # the second waited, then read the first's
    key = "0123456789abcdef" * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.lock", f"{key}.npz"]
    weights, record = store.load(key, tmp_path)
    np.testing.assert_array_equal(weights["m"][0], np.arange(1000.0))


def test_clear_and_size(store_dir):
    tiny_fit()
    count, size = store.size(store_dir)
    assert count == 1 and size > 0
    assert store.clear(store_dir) == 1 and store.size(store_dir) == (0, 0)


# --- determinism of every training routine, with no store ----------------------------


def _classifier_data(n=60, shape=(6,), classes=2, seed=0):
    from dlbook import data

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = (x.reshape(n, -1)[:, 0] > 0).astype("int64") % classes
    return data.split(x, y, seed=seed)


def _run_fit_classifier():
    return weights(
        training.fit_classifier(tiny_model(), _tiny_splits(), epochs=2).model
    )


def _tiny_splits():
    from dlbook import data

    x, y = tiny_data(90)
    return data.split(x, y, seed=0)


def _run_last_layer():
    from dlbook import last_layer

    task = last_layer.prepare_task("binary")
    outcome = last_layer.train_and_score(
        task, "sigmoid", "binary_crossentropy", epochs=2
    )
    return [outcome.predictions, np.array(outcome.train_loss)]


def _run_forecaster():
    from dlbook import forecasting

    series = np.sin(np.arange(300) / 9.0) + np.arange(300) / 100.0
    w = forecasting.windows(series, lookback=12)
    train, val, test = forecasting.split_by_time(w, len(series))
    fit = forecasting.fit_forecaster("GRU", train, val, test, epochs=2, units=4)
    return [fit.test_prediction]


def _run_text():
    from dlbook import text

    rng = np.random.default_rng(0)
    parts = [
        (rng.integers(1, 30, size=(n, 8)), rng.integers(0, 2, size=n))
        for n in (40, 20, 20)
    ]
    fit = text.fit_text_classifier(
        "GRU", *parts, vocab_size=30, epochs=2, patience=1, fine_tune_learning_rate=1e-4
    )
    return [np.array([fit.val_accuracy, fit.test_accuracy, fit.epochs])]


def _run_memory():
    from dlbook import recurrent

    result = recurrent.memory_experiment(
        [6], cells=("GRU",), n_train=64, n_test=16, units=4, epochs=1
    )
    return weights(result.models[("GRU", 6)]) + [result.mse.to_numpy()]


def _run_fit_steps():
    from dlbook import transfer

    x, y = tiny_data()
    return weights(transfer.fit_steps(tiny_model(), x, y, steps=6, batch_size=8))


def _run_word2vec():
    from dlbook import word2vec

    rng = np.random.default_rng(0)  # a corpus large enough to survive subsampling
    sentences = [[f"w{i}" for i in rng.integers(0, 300, size=40)] for _ in range(60)]
    run = word2vec.train_word2vec(
        sentences, dim=4, window=2, negatives=2, epochs=2, min_count=1, batch_size=32
    )
    return [run.space.vectors, np.array(run.losses)]


def _run_architectures():
    from dlbook import architectures

    result = architectures.run(
        lambda: architectures.image_conv2d(8, 2),
        _classifier_data(shape=(8, 8, 1)),
        epochs=2,
    )
    return [np.array([result.test_accuracy, result.params])]


ROUTINES = {
    "training.fit_classifier": _run_fit_classifier,
    "last_layer.train_and_score": _run_last_layer,
    "forecasting.fit_forecaster": _run_forecaster,
    "text.fit_text_classifier": _run_text,
    "recurrent.memory_experiment": _run_memory,
    "transfer.fit_steps": _run_fit_steps,
    "word2vec.train_word2vec": _run_word2vec,
    "architectures.run": _run_architectures,
}


@pytest.mark.parametrize("name", sorted(ROUTINES))
def test_training_twice_without_a_store_gives_identical_results(no_store, name):
    training.reseed(0)
    first = ROUTINES[name]()
    training.reseed(0)
    second = ROUTINES[name]()
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
