import numpy as np
import pytest

from dlbook import capsules


def test_squash_keeps_direction_and_maps_norms_into_0_1():
    s = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
    s *= np.geomspace(1e-3, 1e3, 50, dtype="float32")[:, None]
    v = np.asarray(capsules.squash(s))
    s_norm, v_norm = np.linalg.norm(s, axis=1), np.linalg.norm(v, axis=1)
    np.testing.assert_allclose(v / v_norm[:, None], s / s_norm[:, None], atol=1e-5)
    assert np.all(v_norm >= 0) and np.all(v_norm < 1)
    np.testing.assert_allclose(
        v_norm, s_norm**2 / (1 + s_norm**2), rtol=1e-4, atol=1e-8
    )
    order = np.argsort(s_norm)
    assert np.all(np.diff(v_norm[order]) >= -1e-6)  # longer in, longer out
    assert np.all(np.asarray(capsules.squash(np.zeros((2, 4), "float32"))) == 0)


def test_routing_shapes_and_couplings_sum_to_one_over_parents():
    layer = capsules.Routing(capsules=10, dim=16, iterations=3)
    u = np.random.default_rng(1).normal(size=(5, 12, 8)).astype("float32")
    v = layer(u)
    assert tuple(v.shape) == (5, 10, 16)
    assert tuple(layer.predictions(u).shape) == (5, 10, 12, 16)
    c = layer.couplings(u)
    assert c.shape == (3, 5, 10, 12)
    np.testing.assert_allclose(c.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_allclose(c[0], 0.1, rtol=1e-6)  # the first round is uniform
    assert np.all(np.linalg.norm(np.asarray(v), axis=-1) < 1)


def agreeing_case(iterations):
    """Four inputs: their predictions for parent 0 all point the same way, those for
    parent 1 point in four different directions."""
    layer = capsules.Routing(capsules=2, dim=2, iterations=iterations)
    layer.build((None, 4, 2))
    W = np.zeros((4, 2, 2, 2), "float32")
    directions = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], "float32")
    for i in range(4):
        W[i, 0] = [[1, 0], [0, 0]]  # parent 0: (u_0, 0) for u = (1, 0)
        W[i, 1, :, 0] = directions[i]  # parent 1: one of four directions
    layer.W.assign(W)
    u = np.tile(np.array([[1.0, 0.0]], "float32"), (1, 4, 1))
    return layer, u


def test_more_iterations_concentrate_couplings_on_the_agreeing_parent():
    to_agreeing = []
    for iterations in (1, 2, 3, 5):
        layer, u = agreeing_case(iterations)
        c = layer.couplings(u)[-1, 0]  # last round, (parents, inputs)
        to_agreeing.append(float(c[0].mean()))
    assert to_agreeing[0] == pytest.approx(0.5)
    assert all(b > a for a, b in zip(to_agreeing, to_agreeing[1:], strict=False))
    layer, u = agreeing_case(5)
    lengths = np.linalg.norm(np.asarray(layer(u))[0], axis=-1)
    assert lengths[0] > lengths[1]


def test_margin_loss_by_hand():
    y = np.array([[1, 0], [1, 0], [0, 1]], "float32")
    lengths = np.array([[0.8, 0.3], [0.95, 0.05], [0.5, 0.2]], "float32")
    expected = [
        (0.9 - 0.8) ** 2 + 0.5 * (0.3 - 0.1) ** 2,
        0.0,  # present above 0.9, absent below 0.1: no loss
        0.5 * (0.5 - 0.1) ** 2 + (0.9 - 0.2) ** 2,
    ]
    got = np.asarray(capsules.margin_loss(y, lengths))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_mask_keeps_the_label_in_training_and_the_longest_otherwise():
    caps = np.zeros((1, 3, 2), "float32")
    caps[0, 0] = [0.1, 0.0]
    caps[0, 2] = [0.6, 0.0]
    label = np.array([[1, 0, 0]], "float32")
    mask = capsules.Mask()
    np.testing.assert_allclose(
        mask([caps, label], training=True), [[0.1, 0, 0, 0, 0, 0]]
    )
    np.testing.assert_allclose(
        mask([caps, label], training=False), [[0, 0, 0, 0, 0.6, 0]]
    )


def test_clear_errors_for_wrong_ranks_and_sizes():
    with pytest.raises(ValueError, match="inputs must be feature maps"):
        capsules.PrimaryCapsules(4, 8)(np.zeros((2, 28, 28), "float32"))
    with pytest.raises(ValueError, match="inputs must be capsules"):
        capsules.Routing(10, 16)(np.zeros((2, 6, 6, 8), "float32"))
    layer = capsules.Routing(10, 16)
    layer(np.zeros((2, 12, 8), "float32"))
    with pytest.raises(ValueError, match=r"inputs must be capsules \(batch, 12, 8\)"):
        layer.predictions(np.zeros((2, 12, 4), "float32"))
    with pytest.raises(ValueError, match="iterations"):
        capsules.Routing(10, 16, iterations=0)
    with pytest.raises(ValueError, match="dim"):
        capsules.PrimaryCapsules(4, 0)
    with pytest.raises(ValueError, match="lengths"):
        capsules.margin_loss(np.zeros((2, 10)), np.zeros((2, 10, 16), "float32"))
    with pytest.raises(ValueError, match="images"):
        capsules.capsnet_targets(np.zeros((3, 28, 28)), np.zeros(3, int))
    with pytest.raises(ValueError, match="capsule"):
        capsules.perturbations(None, np.zeros((2, 16)), 0, [0.0], [0])


def test_primary_capsules_and_costs_by_hand():
    net = capsules.capsnet(conv_filters=4, primary_types=2, primary_dim=8, seed=0)
    caps = net.primary(np.zeros((1, 28, 28, 1), "float32"))
    assert tuple(caps.shape) == (1, 6 * 6 * 2, 8)
    costs = capsules.layer_costs(net.classifier).set_index("layer")["multiply-adds"]
    assert costs["conv1"] == 20 * 20 * 81 * 4
    assert costs["primary_caps"] == 6 * 6 * 81 * 4 * 16
    edges = 72 * 10 * 16
    assert costs["digit_caps"] == edges * 8 + edges * 5  # predictions + 3 sums + 2 dots
    assert capsules.layer_costs(net.model).set_index("layer").loc[
        "decoder", "parameters"
    ] == (net.decoder.count_params())


def test_affine_shifts_exactly_and_random_shifts_stay_within_range():
    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    moved = capsules.affine(images, shift=(2, -1))  # 2 right, 1 up
    expected = np.zeros_like(images)
    expected[:, :-1, 2:] = images[:, 1:, :-2]
    np.testing.assert_allclose(moved, expected, atol=1e-5)
    np.testing.assert_allclose(capsules.affine(images), images, atol=1e-6)
    one = np.zeros((40, 28, 28, 1), "float32")
    one[:, 14, 14] = 1
    rows, cols = np.nonzero(capsules.random_shifts(one, 2, seed=3)[..., 0])[1:]
    assert (
        rows.min() >= 12 and rows.max() <= 16 and cols.min() >= 12 and cols.max() <= 16
    )
    assert len(set(zip(rows, cols, strict=True))) > 5


def tiny(seed):
    return capsules.capsnet(
        conv_filters=2,
        primary_types=2,
        primary_dim=4,
        digit_dim=4,
        iterations=2,
        decoder_units=(8,),
        seed=seed,
    )


def test_training_is_deterministic(no_store):
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 28, 28, 1)).astype("float32"), np.arange(48) % 10
    fits = [
        capsules.fit_capsnet(
            tiny(1), (x, y), (x[:16], y[:16]), epochs=2, batch_size=16, seed=1
        )
        for _ in range(2)
    ]
    assert not fits[0].restored and not fits[1].restored
    for a, b in zip(
        fits[0].model.get_weights(), fits[1].model.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert fits[0].history == fits[1].history
    first = fits[0].history["loss"]
    assert len(first) == 2 and np.isfinite(first).all()
