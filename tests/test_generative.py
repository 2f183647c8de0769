import numpy as np
import pytest

from dlbook import generative, sample_quality


def _line(points, width=1):
    """A hand-drawn stroke through ``points`` (row, col), ``width`` pixels wide."""
    image = np.zeros((28, 28), np.float32)
    (r0, c0), (r1, c1) = points
    for t in np.linspace(0, 1, 200):
        r, c = round(r0 + t * (r1 - r0)), round(c0 + t * (c1 - c0))
        half = width // 2
        image[r - half : r + half + 1, c - half : c + half + 1] = 1.0
    return image


def test_sampling_layer_has_the_mean_and_variance_it_is_given():
    layer = generative.Sampling(seed=3)
    mean = np.full((20000, 2), [1.0, -2.0], np.float32)
    log_var = np.full((20000, 2), np.log([0.25, 4.0]), np.float32)
    z = np.asarray(layer([mean, log_var]))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 2.0], rtol=0.03)
    again = np.asarray(generative.Sampling(seed=3)([mean, log_var]))
    np.testing.assert_array_equal(z, again)  # seeded: the same draw


def test_kl_term_matches_the_closed_form_and_a_monte_carlo_estimate():
    mean = np.array([[0.0, 0.0], [1.0, -0.5]], np.float32)
    log_var = np.array([[0.0, 0.0], [np.log(0.5), np.log(2.0)]], np.float32)
    kl = np.asarray(generative.kl_divergence(mean, log_var))
    var = np.exp(log_var)
    by_hand = 0.5 * np.sum(var + mean**2 - 1 - log_var, axis=1)
    np.testing.assert_allclose(kl, by_hand, rtol=1e-5)
    assert kl[0] == 0
    rng = np.random.default_rng(0)
    z = mean[1] + np.sqrt(var[1]) * rng.normal(size=(200000, 2))
    log_q = -0.5 * np.sum((z - mean[1]) ** 2 / var[1] + np.log(2 * np.pi * var[1]), 1)
    log_p = -0.5 * np.sum(z**2 + np.log(2 * np.pi), axis=1)
    assert abs(np.mean(log_q - log_p) - kl[1]) < 0.02


def test_shapes_of_every_network():
    vae = generative.vae(latent_dim=2, seed=0)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    assert tuple(vae(x).shape) == (3, 28, 28, 1)
    assert generative.encode(vae, x).shape == (3, 2)
    assert generative.sample(vae, 5, seed=1).shape == (5, 28, 28)
    assert generative.latent_grid(vae, size=4).shape == (112, 112)
    gan = generative.gan_models(latent_dim=16, seed=0)
    logit, features = gan["discriminator"](x)
    assert tuple(logit.shape) == (3, 1) and tuple(features.shape) == (3, 7 * 7 * 64)
    assert generative.sample(gan["generator"], 4, seed=0).shape == (4, 28, 28)
    paths = generative.interpolate(
        gan["generator"], np.zeros((2, 16)), np.ones((2, 16)), 5
    )
    assert paths.shape == (2, 5, 28, 28)


def _weights(model):
    return [np.array(v.numpy()) for v in model.trainable_weights]


def _changed(before, model):
    return [
        not np.array_equal(b, a) for b, a in zip(before, _weights(model), strict=True)
    ]


def test_each_gan_step_updates_only_its_own_network():
    models = generative.gan_models(latent_dim=4, seed=0)
    g, d = models["generator"], models["discriminator"]
    d_step, g_step = generative.gan_steps(g, d, learning_rate=1e-3)
    rng = np.random.default_rng(0)
    real = rng.random((8, 28, 28, 1)).astype(np.float32)
    z = rng.normal(size=(8, 4)).astype(np.float32)
    g0, d0 = _weights(g), _weights(d)
    d_step(real, z)
    assert not any(_changed(g0, g)) and all(_changed(d0, d))
    d1 = _weights(d)
    g_step(z)
    assert not any(_changed(d1, d)) and all(_changed(g0, g))


def test_each_vaegan_step_updates_only_the_intended_networks():
    models = generative.vaegan_models(latent_dim=2, seed=0)
    e, g, d = models["encoder"], models["decoder"], models["discriminator"]
    ae_step, d_step = generative.vaegan_steps(e, g, d, learning_rate=1e-3)
    rng = np.random.default_rng(0)
    x = rng.random((8, 28, 28, 1)).astype(np.float32)
    eps, z = rng.normal(size=(2, 8, 2)).astype(np.float32)
    e0, g0, d0 = _weights(e), _weights(g), _weights(d)
    d_step(x, eps, z)
    assert (
        not any(_changed(e0, e)) and not any(_changed(g0, g)) and all(_changed(d0, d))
    )
    d1 = _weights(d)
    losses = ae_step(x, eps, z)
    assert set(losses) == {"kl", "pixels", "features", "adversarial"}
    assert not any(_changed(d1, d)) and all(_changed(e0, e)) and all(_changed(g0, g))


def test_attributes_on_hand_drawn_images():
    upright = _line(((4, 14), (24, 14)))
    leaning = _line(((4, 18), (24, 10)))  # top to the right: 8 columns over 20 rows
    assert abs(generative.slant(upright)[0]) < 1e-9
    np.testing.assert_allclose(generative.slant(leaning), [0.4], atol=0.02)
    mirrored = leaning[:, ::-1]
    np.testing.assert_allclose(generative.slant(mirrored), [-0.4], atol=0.02)
    thin, thick = _line(((4, 14), (24, 14)), 1), _line(((4, 14), (24, 14)), 3)
    widths = generative.thickness(np.stack([thin, thick]))
    np.testing.assert_allclose(widths, [1.0, 3.0], rtol=0.15)
    with pytest.raises(ValueError, match="blank"):
        generative.slant(np.zeros((28, 28)))


def test_attribute_direction_and_smoothness_by_hand():
    z = np.array([[0.0, 0], [1, 0], [2, 0], [3, 0]])
    direction = generative.attribute_direction(z, [0, 1, 2, 3], share=0.25)
    np.testing.assert_allclose(direction, [3, 0])
    even = np.linspace(0, 1, 5)[None, :, None, None] * np.ones((1, 5, 28, 28))
    jump = np.concatenate([np.zeros((1, 4, 28, 28)), np.ones((1, 1, 28, 28))], axis=1)
    classes = np.array([[1, 1, 2, 1, 1]])
    smooth = generative.interpolation_smoothness(even, np.ones((1, 5), int))
    assert smooth["largest_step_share"] == pytest.approx(0.25)
    assert smooth["flip_backs"] == 0 and smooth["class_changes"] == 0
    rough = generative.interpolation_smoothness(jump, classes)
    assert rough["largest_step_share"] == pytest.approx(1.0)
    assert rough["flip_backs"] == 1 and rough["class_changes"] == 2


def test_sample_quality_measures_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert sample_quality.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    b = rng.normal(size=(4000, 3)) * 2 + [1, 0, 0]
    # N(0, I) vs N(m, 4I): |m|^2 + 3 (1 + 4 - 2 * 2) = 1 + 3
    assert sample_quality.frechet_distance(a, b) == pytest.approx(4, rel=0.1)
    one_hot = np.eye(10)[[3] * 10]
    assert sample_quality.distance_to_uniform(
        sample_quality.class_histogram(one_hot)
    ) == (pytest.approx(0.9))
    assert sample_quality.distance_to_uniform(np.full(10, 0.1)) == pytest.approx(0)
    sharp = _line(((4, 14), (24, 14)))[None]
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(sharp[0], 1.5)[None]
    assert sample_quality.sharpness(sharp) > sample_quality.sharpness(blurred)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="latent_dim"):
        generative.vae_encoder(0)
    with pytest.raises(ValueError, match="x must be a batch of 28x28"):
        generative.train_gan(np.zeros((4, 10, 10)), epochs=1)
    with pytest.raises(ValueError, match="share"):
        generative.attribute_direction(np.zeros((4, 2)), np.zeros(4), share=0.9)
    with pytest.raises(ValueError, match="steps"):
        generative.interpolate(
            generative.dcgan_generator(2), np.zeros((1, 2)), np.ones((1, 2)), 1
        )
    with pytest.raises(ValueError, match="features_a"):
        sample_quality.frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))


def test_gan_and_vaegan_trainings_are_deterministic(no_store):
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    runs = [
        generative.train_gan(
            x,
            epochs=1,
            latent_dim=4,
            seed=5,
            batch_size=32,
            snapshot_epochs=(1,),
            snapshots=2,
        )
        for _ in range(2)
    ]
    for a, b in zip(*(m["generator"].get_weights() for m, _ in runs), strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1].record == runs[1][1].record and not runs[0][1].restored
    assert np.array(runs[0][1].record["snapshots"]["1"]).shape == (2, 28, 28)
    vg = [generative.train_vaegan(x, epochs=1, seed=5, batch_size=32) for _ in range(2)]
    for a, b in zip(*(m["decoder"].get_weights() for m, _ in vg), strict=True):
        np.testing.assert_array_equal(a, b)
    assert vg[0][1].record == vg[1][1].record
