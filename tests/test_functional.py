import numpy as np
import pytest

from dlbook import functional, training


def digits(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1)).astype("float32"), np.arange(n) % 10


def test_query_task_is_balanced_and_needs_both_inputs():
    images, labels = digits(100)
    x, y = functional.query_task(images, labels, seed=1)
    assert set(x) == {"image", "query"} and x["query"].shape == (100, 10)
    assert y.mean() == 0.5
    asked = x["query"].argmax(axis=1)
    assert np.all((asked == labels) == (y == 1))  # a match exactly when labelled so


def test_image_targets():
    images, labels = digits(10)
    t = functional.image_targets(images, labels)
    np.testing.assert_allclose(t["ink"], images.reshape(10, -1).mean(axis=1), rtol=1e-6)
    assert list(t["even"]) == [float(d % 2 == 0) for d in labels]


def test_digit_pairs_are_balanced_and_drawn_from_the_given_images_only():
    train_images, train_labels = digits(40, seed=0)
    test_images, test_labels = digits(40, seed=1)
    pairs, same = functional.digit_pairs(train_images, train_labels, 200, seed=2)
    assert same.mean() == 0.5 and pairs["left"].shape == (200, 28, 28, 1)
    lookup = {
        image.tobytes(): label
        for image, label in zip(train_images, train_labels, strict=True)
    }
    left = [lookup[i.tobytes()] for i in pairs["left"]]
    right = [lookup[i.tobytes()] for i in pairs["right"]]
    assert np.all((np.array(left) == np.array(right)) == (same == 1))
    test_pairs, _ = functional.digit_pairs(test_images, test_labels, 100, seed=3)
    seen = {i.tobytes() for i in train_images}
    assert not any(i.tobytes() in seen for side in test_pairs.values() for i in side)
    with pytest.raises(ValueError, match="count"):
        functional.digit_pairs(train_images, train_labels, 0)
    with pytest.raises(ValueError, match="two classes"):
        functional.digit_pairs(train_images[:3], np.zeros(3), 4)


def test_model_builders_name_their_inputs_and_outputs():
    query = functional.query_model()
    assert sorted(t.name for t in query.inputs) == ["image", "query"]
    heads = functional.three_headed_model()
    out = heads(np.zeros((2, 28, 28, 1), "float32"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "digit": (2, 10),
        "ink": (2, 1),
        "even": (2, 1),
    }
    siamese = functional.siamese_model()
    assert sorted(t.name for t in siamese.inputs) == ["left", "right"]
    shared = [layer for layer in siamese.layers if layer.name == "embedder"]
    assert len(shared) == 1  # one set of weights reads both images


def test_siamese_is_symmetric_and_difference_is_not():
    training.reseed(0)
    siamese = functional.siamese_model()
    a, b = digits(4, 0)[0], digits(4, 1)[0]
    np.testing.assert_allclose(
        training.predict(siamese, {"left": a, "right": b}),
        training.predict(siamese, {"left": b, "right": a}),
        rtol=1e-5,
    )
    difference = functional.difference_model()
    x, z = np.ones((2, 4), "float32"), np.zeros((2, 4), "float32")
    forward = training.predict(difference, {"first": x, "second": z})
    backward = training.predict(difference, {"second": z, "first": x})
    np.testing.assert_array_equal(forward, backward)


def test_deep_stack_counts_layers_and_rejects_bad_sizes():
    plain = functional.deep_stack(3)
    residual = functional.deep_stack(3, residual=True)
    assert plain.name == "plain_8" and residual.name == "residual_8"
    dense = [layer for layer in residual.layers if type(layer).__name__ == "Dense"]
    assert len(dense) == 8
    x = np.random.default_rng(0).random((3, 784)).astype("float32")
    before_head = residual.layers[-2].output
    import keras

    # zero-initialised branches: at the start every block is the identity
    trunk = keras.Model(residual.input, before_head)
    first = keras.Model(residual.input, residual.layers[1].output)
    np.testing.assert_allclose(trunk(x), first(x), rtol=1e-6)
    with pytest.raises(ValueError, match="blocks"):
        functional.deep_stack(0)


def test_the_three_ways_compute_the_same_function():
    three = [
        functional.mlp_sequential(),
        functional.mlp_functional(),
        functional.mlp_subclassed(),
    ]
    weights = three[0].get_weights()
    x = np.random.default_rng(0).random((5, 784)).astype("float32")
    outs = []
    for model in three:
        model.set_weights(weights)
        outs.append(np.asarray(model(x)))
    for out in outs[1:]:
        np.testing.assert_array_equal(outs[0], out)


def test_layer_graph_and_drawing():
    query = functional.query_model()
    names, edges = functional.layer_graph(query)
    assert names[0] in ("image", "query") and ("image", names[2]) in edges or edges
    concat = next(n for n in names if n.startswith("concatenate"))
    assert len([e for e in edges if e[1] == concat]) == 2  # two branches meet
    fig = functional.draw_model(query)
    assert len(fig.axes[0].texts) == len(names)


def test_principal_plane_keeps_the_widest_spread():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 5)) * np.array([10.0, 5.0, 0.1, 0.1, 0.1])
    flat = functional.principal_plane(points)
    assert flat.shape == (200, 2)
    assert flat[:, 0].std() > 8 and flat[:, 1].std() > 4
    with pytest.raises(ValueError, match="points"):
        functional.principal_plane(np.zeros(5))
