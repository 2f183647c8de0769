import numpy as np
import pytest

from dlbook import convnet_internals, convnets, training


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [
        (28, 3, 1, "valid", 26),
        (28, 3, 2, "valid", 13),
        (28, 5, 2, "same", 14),
        (7, 7, 1, "valid", 1),
        (5, 3, 3, "same", 2),
    ],
)
def test_conv_output_size_matches_keras(size, kernel, stride, padding, expected):
    assert convnets.conv_output_size(size, kernel, stride, padding) == expected
    assert convnets.keras_output_size(size, kernel, stride, padding) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"kernel": 2.0}, "kernel"),
        ({"stride": -1}, "stride"),
        ({"padding": "full"}, "padding"),
        ({"kernel": 9}, "must not exceed"),
    ],
)
def test_conv_output_size_rejects_bad_arguments(kwargs, match):
    args = {"size": 8, "kernel": 3, "stride": 1, "padding": "valid", **kwargs}
    with pytest.raises(ValueError, match=match):
        convnets.conv_output_size(**args)


def test_cross_correlate_matches_a_keras_conv2d():
    import keras

    rng = np.random.default_rng(0)
    image, kernel = rng.random((6, 7)), rng.random((3, 3))
    layer = keras.layers.Conv2D(1, 3, use_bias=False)
    layer.build((None, 6, 7, 1))
    layer.set_weights([kernel[:, :, None, None]])
    theirs = np.asarray(layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]
    np.testing.assert_allclose(
        convnets.cross_correlate(image, kernel), theirs, rtol=1e-5
    )


def test_cross_correlate_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        convnets.cross_correlate(np.zeros((3, 3, 1)), np.zeros((2, 2)))


def test_max_pool_takes_window_maxima():
    image = np.arange(16).reshape(4, 4)
    np.testing.assert_array_equal(convnets.max_pool(image), [[5, 7], [13, 15]])
    assert convnets.max_pool(np.zeros((5, 5, 3)), size=2).shape == (2, 2, 3)


def test_shift_moves_pixels_and_fills_zeros():
    images = np.zeros((1, 5, 5))
    images[0, 2, 2] = 1
    moved = convnets.shift(images, dx=2, dy=-1)
    assert moved[0, 1, 4] == 1 and moved.sum() == 1
    assert convnets.shift(images, 3, 0)[0].sum() == 0  # moved out of the frame
    with pytest.raises(ValueError, match="smaller than the image"):
        convnets.shift(images, 5, 0)
    with pytest.raises(ValueError, match="images must be"):
        convnets.shift(np.zeros((5, 5)), 1, 0)


def test_models_have_the_documented_shapes():
    pooled = convnets.mnist_convnet()
    strided = convnets.mnist_convnet("strided")
    assert pooled.output_shape[-1] == 10 and pooled.count_params() == 104_202
    assert convnets.receptive_field(pooled) == {"conv1": 3, "conv2": 8, "conv3": 18}
    assert convnets.receptive_field(strided) == {"conv1": 3, "conv2": 5, "conv3": 9}
    with pytest.raises(ValueError, match="downsampling"):
        convnets.mnist_convnet("average")
    with pytest.raises(ValueError, match="conv must be"):
        convnets.mnist_convnet(conv="dilated")


def _corner_model():
    """A model whose answer depends only on the top-left 8x8 corner of the image."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Cropping2D(((0, 20), (0, 20))),
            keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    return model


def test_occlusion_map_marks_exactly_the_part_the_model_reads():
    heat = convnet_internals.occlusion_map(
        _corner_model(), np.ones((28, 28, 1), np.float32), 0, 6, 2
    )
    assert heat.shape == (12, 12)
    outside = np.ones_like(heat, dtype=bool)
    outside[:4, :4] = False
    np.testing.assert_allclose(heat[outside], heat[-1, -1], rtol=1e-6)
    assert np.all(np.abs(heat[~outside] - heat[-1, -1]) > 1e-6)


def test_grad_cam_and_activations_shapes():
    model = convnets.mnist_convnet()
    image = np.random.default_rng(1).random((28, 28, 1)).astype("float32")
    cam, gradient = convnet_internals.grad_cam(model, image, class_index=3)
    assert gradient > 0
    assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1 + 1e-6
    maps = convnet_internals.conv_activations(model, image)
    assert {k: v.shape for k, v in maps.items()} == {
        "conv1": (26, 26, 32),
        "conv2": (11, 11, 64),
        "conv3": (3, 3, 128),
    }
    with pytest.raises(ValueError, match="layer must be one of"):
        convnet_internals.grad_cam(model, image, 0, layer="conv9")


def test_filter_patterns_increase_the_filter_response():
    import keras

    model = convnets.mnist_convnet()
    extractor = keras.Model(model.inputs[0], model.get_layer("conv1").output)
    index = convnets.responsive_filters(model, "conv1", count=1)[0]
    pattern = convnets.filter_patterns(model, "conv1", [index], steps=10)[0]
    grey = np.full((1, 28, 28, 1), 0.5, np.float32)
    before = float(np.mean(extractor(grey)[..., index]))
    after = float(np.mean(extractor(pattern[None, :, :, None])[..., index]))
    assert pattern.shape == (28, 28) and after > before


def test_train_classifier_rejects_bad_epochs():
    with pytest.raises(ValueError, match="epochs"):
        training.fit_classifier(convnets.mnist_dense(), None, epochs=0)


def test_seeded_models_start_from_the_same_weights():
    first = convnets.mnist_convnet(seed=5).get_weights()[0]
    convnets.mnist_dense()  # consume randomness in between
    second = convnets.mnist_convnet(seed=5).get_weights()[0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, convnets.mnist_convnet(seed=6).get_weights()[0])


def test_grad_cam_on_the_logit_does_not_saturate_where_the_probability_does():
    import keras

    model = convnets.mnist_convnet(seed=0)
    last = model.layers[-1]
    image = np.random.default_rng(2).random((28, 28, 1)).astype("float32")
    # make the network certain of class 3: a large bias on that class's score
    bias = np.zeros(10, "float32")
    bias[3] = 40.0
    last.bias.assign(bias)
    assert float(keras.ops.max(model(image[None]))) > 0.999999
    _, from_logit = convnet_internals.grad_cam(model, image, 3)
    _, from_probability = convnet_internals.grad_cam(
        model, image, 3, score="probability"
    )
    assert from_logit > 0 and from_probability < 1e-6 * from_logit
    with pytest.raises(ValueError, match="score must be"):
        convnet_internals.grad_cam(model, image, 3, score="softmax")


def test_occlusion_log_drop_is_zero_where_the_model_does_not_read():
    heat = convnet_internals.occlusion_map(
        _corner_model(), np.ones((28, 28, 1), np.float32), 0, 6, 2, score="log drop"
    )
    outside = np.ones_like(heat, dtype=bool)
    outside[:4, :4] = False
    np.testing.assert_allclose(heat[outside], 0.0, atol=1e-6)
    assert np.all(np.abs(heat[~outside]) > 1e-6)
    with pytest.raises(ValueError, match="score must be"):
        convnet_internals.occlusion_map(
            _corner_model(), np.ones((28, 28, 1)), 0, score="p"
        )


def test_saliency_is_zero_outside_the_part_the_model_reads():
    image = np.random.default_rng(3).random((28, 28, 1)).astype("float32")
    saliency = convnet_internals.saliency_map(_corner_model(), image, 1)
    assert saliency.shape == (28, 28)
    assert np.all(saliency[10:, :] == 0) and np.all(saliency[:, 10:] == 0)
    assert saliency[:8, :8].max() > 0


def _functional_model():
    import keras

    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="first")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="second")(x)
    x = keras.layers.Add(name="join")(
        [x, keras.layers.Conv2D(4, 5, name="skip")(inputs)]
    )
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="top")(x)
    return keras.Model(inputs, outputs)


def test_grad_cam_and_saliency_read_a_functional_model_at_a_named_layer():
    model = _functional_model()
    image = np.random.default_rng(4).random((12, 12, 3)).astype("float32")
    cam, gradient = convnet_internals.grad_cam(model, image, 2, layer="join")
    assert cam.shape == (12, 12) and gradient > 0
    assert convnet_internals.saliency_map(model, image, 2).shape == (12, 12)
    with pytest.raises(ValueError, match="layer must be one of"):
        convnet_internals.grad_cam(model, image, 2, layer="nowhere")


def test_randomised_copy_redraws_only_the_named_layers():
    model = _functional_model()
    copy = convnet_internals.randomised_copy(model, ["top", "second"], seed=0)
    for layer, copied in zip(model.layers, copy.layers, strict=True):
        for kept, drawn in zip(layer.get_weights(), copied.get_weights(), strict=True):
            same = np.array_equal(kept, drawn)
            if layer.name in ("top", "second") and kept.ndim > 1:  # kernels
                assert not same, layer.name
            elif layer.name not in ("top", "second"):
                assert same, layer.name
    again = convnet_internals.randomised_copy(model, ["top"], seed=0)
    np.testing.assert_array_equal(
        again.get_layer("top").get_weights()[0], copy.get_layer("top").get_weights()[0]
    )
    with pytest.raises(ValueError, match="layers must be names"):
        convnet_internals.randomised_copy(model, ["nowhere"], seed=0)


def test_rank_correlation_of_maps():
    a = np.arange(16.0).reshape(4, 4)
    assert convnet_internals.rank_correlation(a, a**3) == pytest.approx(1.0)
    assert convnet_internals.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert convnet_internals.rank_correlation(a, np.ones((4, 4))) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        convnet_internals.rank_correlation(a, a[:2])


def test_pool_to_grid_averages_cells_and_keeps_a_native_grid():
    maps = np.arange(2 * 4 * 4 * 3, dtype=float).reshape(2, 4, 4, 3)
    two = convnets.pool_to_grid(maps, 2)
    assert two.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(two[:, 0, 1], maps[:, :2, 2:].mean(axis=(1, 2)))
    np.testing.assert_allclose(convnets.pool_to_grid(maps, 4), maps)
    np.testing.assert_allclose(
        convnets.pool_to_grid(maps, 1)[:, 0, 0], maps.mean(axis=(1, 2))
    )
    three = convnets.pool_to_grid(np.ones((1, 26, 26, 1)), 3)  # 26 does not divide by 3
    np.testing.assert_allclose(three, 1.0)
