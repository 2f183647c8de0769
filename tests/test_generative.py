import numpy as np
import pytest

from dlbook import frechet, generative, sample_quality


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


def test_kl_per_dimension_is_the_closed_form_and_sums_to_the_kl_term():
    mean = np.array([[0.0, 3.0, -1.0]], np.float32)
    log_var = np.array([[0.0, 0.0, np.log(0.25)]], np.float32)
    per_dim = np.asarray(generative.kl_per_dimension(mean, log_var))
    var = np.exp(log_var)
    np.testing.assert_allclose(
        per_dim, 0.5 * (mean**2 + var - 1 - log_var), rtol=1e-6, atol=1e-7
    )
    assert per_dim[0, 0] == 0  # the prior itself: nothing used
    np.testing.assert_allclose(per_dim[0, 1], 4.5, rtol=1e-6)  # a shift of 3 sds
    np.testing.assert_allclose(
        np.asarray(generative.kl_divergence(mean, log_var)), per_dim.sum(axis=1)
    )


def test_reconstruction_term_is_summed_over_pixels_not_averaged():
    x = np.zeros((2, 28, 28, 1), np.float32)
    x[1, ::2] = 1.0
    x_hat = np.full_like(x, 0.5)
    loss = np.asarray(generative.reconstruction_loss(x, x_hat))
    np.testing.assert_allclose(loss, [784 * np.log(2)] * 2, rtol=1e-5)


def test_elbo_bounds_the_log_likelihood_with_the_posterior_kl_as_the_gap():
    """A model where everything has a closed form: z ~ N(0, 1), x | z ~ N(z, s2), so
    p(x) = N(0, 1 + s2) and p(z | x) = N(x / (1 + s2), s2 / (1 + s2)). For a Gaussian
    q, the ELBO (reconstruction by the reparameterised draws of ``Sampling``, KL by
    ``kl_divergence``) is log p(x) minus KL(q || posterior), equal at the posterior."""
    s2, x, n = 0.5, 1.3, 400_000
    log_px = -0.5 * (np.log(2 * np.pi * (1 + s2)) + x**2 / (1 + s2))
    post_mean, post_var = x / (1 + s2), s2 / (1 + s2)
    for q_mean, q_var in ((0.2, 1.0), (post_mean, post_var), (1.5, 0.1)):
        mean = np.full((n, 1), q_mean, np.float32)
        log_var = np.full((n, 1), np.log(q_var), np.float32)
        z = np.asarray(generative.Sampling(seed=1)([mean, log_var]), np.float64)[:, 0]
        reconstruction = np.mean(-0.5 * (np.log(2 * np.pi * s2) + (x - z) ** 2 / s2))
        kl_prior = float(np.asarray(generative.kl_divergence(mean[:1], log_var[:1]))[0])
        elbo = reconstruction - kl_prior
        kl_post = 0.5 * (
            np.log(post_var / q_var)
            + (q_var + (q_mean - post_mean) ** 2) / post_var
            - 1
        )
        assert elbo <= log_px + 0.01
        assert elbo == pytest.approx(log_px - kl_post, abs=0.01)
    assert kl_post > 0.5  # the last q is far from the posterior: a loose bound


def test_kl_warmup_weight_rises_to_one_then_stays():
    model = generative.vae(latent_dim=2, seed=0, warmup_steps=4)
    model.compile(optimizer="adam")
    weights = []
    for step in range(6):
        model.optimizer.iterations.assign(step)
        weights.append(float(model.beta()))
    np.testing.assert_allclose(weights, [0.25, 0.5, 0.75, 1, 1, 1])
    plain = generative.vae(latent_dim=2, seed=0)
    plain.compile(optimizer="adam")
    assert float(plain.beta()) == 1.0
    with pytest.raises(ValueError, match="warmup_steps"):
        generative.vae(latent_dim=2, warmup_steps=-1)


def test_vae_fit_tracks_the_full_negative_elbo_and_its_validation(no_store):
    from dlbook import training

    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    model = generative.vae(latent_dim=3, seed=0, warmup_steps=100)
    fit = training.fit(model, (x, x), val=(x[:32], x[:32]), loss=None, epochs=1)
    history = {name: values[0] for name, values in fit.history.items()}
    assert history["loss"] == pytest.approx(
        history["reconstruction"] + history["kl"], rel=1e-4
    )  # the full -ELBO, whatever the KL weight
    assert 0 < history["beta"] < 0.05 and history["val_beta"] == 1.0
    assert history["val_loss"] == pytest.approx(
        history["val_reconstruction"] + history["val_kl"], rel=1e-4
    )


def test_latent_usage_counts_the_dimensions_away_from_the_prior():
    model = generative.vae(latent_dim=3, seed=0)
    for layer in ("z_mean", "z_log_var"):
        kernel, bias = model.encoder.get_layer(layer).get_weights()
        if layer == "z_mean":
            bias = np.array([3.0, 0.5, 0.0], np.float32)
        model.encoder.get_layer(layer).set_weights([np.zeros_like(kernel), bias])
    x = np.random.default_rng(0).random((10, 28, 28)).astype(np.float32)
    usage = generative.latent_usage(model, x, floor=0.1)
    np.testing.assert_allclose(usage["kl_per_dimension"], [4.5, 0.125, 0.0], atol=1e-6)
    assert usage["active"] == 2
    with pytest.raises(ValueError, match="floor"):
        generative.latent_usage(model, x, floor=0)


def test_knn_correct_by_hand():
    z_train = np.array([[0.0, 0], [0.1, 0], [0, 0.1], [5, 5], [5.1, 5], [5, 5.1]])
    y_train = np.array([0, 0, 0, 1, 1, 1])
    z_test = np.array([[0.05, 0.05], [5.0, 5.0], [4.9, 5.0]])
    right = generative.knn_correct(z_train, y_train, z_test, [0, 1, 0], k=3)
    np.testing.assert_array_equal(right, [True, True, False])
    # a 2-2 tie goes to the class of the nearest neighbour
    tie = generative.knn_correct(
        [[0.0], [3.0], [1.0], [4.0]], [0, 0, 1, 1], [[0.9]], [1], k=4
    )
    np.testing.assert_array_equal(tie, [True])
    with pytest.raises(ValueError, match="k must be at most"):
        generative.knn_correct(z_train, y_train, z_test, [0, 1, 0], k=7)


def test_latent_plane_projects_and_grids_a_plane_of_a_wider_space():
    rng = np.random.default_rng(0)
    ab = rng.normal(size=(500, 2)) * [3.0, 1.0]
    basis = np.linalg.qr(rng.normal(size=(16, 2)))[0].T  # two orthonormal rows
    centre = rng.normal(size=16)
    z = centre + ab @ basis
    plane = generative.latent_plane(z)
    np.testing.assert_allclose(plane[0], z.mean(axis=0))
    flat = generative.project(z, plane)
    np.testing.assert_allclose(flat.std(axis=0, ddof=1), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(
        np.abs(np.corrcoef(flat[:, 0], ab[:, 0])[0, 1]), 1, rtol=1e-4
    )
    np.testing.assert_allclose(
        np.linalg.norm(plane[1], axis=1), ab.std(axis=0, ddof=1), rtol=0.05
    )
    model = generative.vae(latent_dim=16, seed=0)
    assert generative.latent_grid(model, size=3, plane=plane).shape == (84, 84)
    with pytest.raises(ValueError, match="2-D latent space or a plane"):
        generative.latent_grid(model, size=3)


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
    both = generative.interpolation_smoothness(
        np.concatenate([even, jump]),
        np.concatenate([np.ones((1, 5), int), classes]),
        per_path=True,
    )
    np.testing.assert_allclose(both["largest_step_share"], [0.25, 1.0])
    np.testing.assert_array_equal(both["flip_backs"], [0, 1])


def test_sample_quality_measures_by_hand():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    b = rng.normal(size=(4000, 3)) * 2 + [1, 0, 0]
    # N(0, I) vs N(m, 4I): |m|^2 + 3 (1 + 4 - 2 * 2) = 1 + 3
    assert frechet.frechet_distance(a, b) == pytest.approx(4, rel=0.1)
    one_hot = np.eye(10)[[3] * 10]
    assert sample_quality.distance_to_uniform(
        sample_quality.class_histogram(one_hot)
    ) == (pytest.approx(0.9))
    assert sample_quality.distance_to_uniform(np.full(10, 0.1)) == pytest.approx(0)
    sharp = _line(((4, 14), (24, 14)))[None]
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(sharp[0], 1.5)[None]
    assert sample_quality.sharpness(sharp) > sample_quality.sharpness(blurred)
    each = sample_quality.sharpness(np.concatenate([sharp, blurred]), per_image=True)
    assert each.shape == (2,) and each[0] > each[1]
    assert each.mean() == pytest.approx(
        sample_quality.sharpness(np.concatenate([sharp, blurred]))
    )


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
        frechet.frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))


def test_gan_and_vaegan_trainings_are_deterministic(no_store):
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    runs = [
        generative.train_gan(
            x,
            epochs=1,
            latent_dim=4,
            seed=5,
            batch_size=32,
            watch=2,
        )
        for _ in range(2)
    ]
    for a, b in zip(*(m["generator"].get_weights() for m, _ in runs), strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1].record == runs[1][1].record and not runs[0][1].restored
    assert generative.watched_samples(runs[0][1].record, 1).shape == (2, 28, 28)
    assert set(runs[0][1].record["history"]) == {
        "discriminator_loss",
        "generator_loss",
        "d_real",
        "d_fake",
    }
    vg = [generative.train_vaegan(x, epochs=1, seed=5, batch_size=32) for _ in range(2)]
    for a, b in zip(*(m["decoder"].get_weights() for m, _ in vg), strict=True):
        np.testing.assert_array_equal(a, b)
    assert vg[0][1].record == vg[1][1].record
