"""The generative page's losses against closed forms and numerical oracles: the ELBO's
two terms, the GAN's two losses and their gradients, the Fréchet distance, and the
record a GAN routine keeps of its samples."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, stats

from dlbook import frechet, generative


@pytest.mark.parametrize(
    ("mean", "var"), [(0.0, 1.0), (1.5, 1.0), (0.0, 0.2), (-0.7, 3.0), (2.0, 0.05)]
)
def test_kl_per_dimension_equals_the_integral_of_q_log_q_over_p(mean, var):
    """The closed form against a numerical integral of q(z) log(q(z) / p(z))."""
    q, p = stats.norm(mean, np.sqrt(var)), stats.norm(0.0, 1.0)
    integral, _ = integrate.quad(
        lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), mean - 12, mean + 12
    )
    closed = generative.kl_per_dimension(
        np.array([[mean]], np.float32), np.array([[np.log(var)]], np.float32)
    )
    np.testing.assert_allclose(np.asarray(closed)[0, 0], integral, rtol=1e-4, atol=1e-6)


def test_kl_of_a_diagonal_gaussian_is_the_sum_of_its_dimensions_and_never_negative():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(50, 6)).astype(np.float32)
    log_var = rng.normal(size=(50, 6)).astype(np.float32)
    per_dim = np.asarray(generative.kl_per_dimension(mean, log_var))
    total = np.asarray(generative.kl_divergence(mean, log_var))
    assert per_dim.min() >= 0
    np.testing.assert_allclose(total, per_dim.sum(axis=1), rtol=1e-5)
    # the multivariate closed form with a diagonal covariance
    var = np.exp(log_var.astype(np.float64))
    by_matrix = 0.5 * (var.sum(1) + (mean**2).sum(1) - 6 - np.log(var).sum(1))
    np.testing.assert_allclose(total, by_matrix, rtol=1e-4)


def test_reconstruction_term_is_the_bernoulli_negative_log_likelihood():
    rng = np.random.default_rng(2)
    x = (rng.random((3, 28, 28, 1)) < 0.3).astype(np.float32)
    x_hat = rng.uniform(0.05, 0.95, size=x.shape).astype(np.float32)
    loss = np.asarray(generative.reconstruction_loss(x, x_hat))
    by_scipy = -stats.bernoulli(x_hat.astype(np.float64)).logpmf(x).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(loss, by_scipy, rtol=1e-4)


def _gradient(loss, logits):
    logits = tf.constant(logits, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = loss(logits)
    return float(value), np.asarray(tape.gradient(value, logits))


def test_generator_losses_push_the_fakes_logit_up_and_only_one_vanishes():
    """Both generator losses fall as the discriminator's logit for a fake rises; the
    saturating one's gradient vanishes where the discriminator rejects the fake."""
    logits = np.array([[-8.0], [0.0], [3.0]], np.float32)
    d = 1 / (1 + np.exp(-logits.astype(np.float64)))
    _, non_saturating = _gradient(generative.generator_loss, logits)
    _, saturating = _gradient(
        lambda logit: generative.generator_loss(logit, saturating=True), logits
    )
    assert (non_saturating < 0).all() and (saturating < 0).all()
    np.testing.assert_allclose(non_saturating, -(1 - d) / 3, rtol=1e-5)
    np.testing.assert_allclose(saturating, -d / 3, rtol=1e-4, atol=1e-9)
    # D rejects the fake (logit -8): a thousand times the push without saturation
    assert non_saturating[0, 0] / saturating[0, 0] > 1000


def test_generator_losses_are_the_two_forms_of_the_minimax_term():
    logits = np.array([[-2.0], [0.5]], np.float32)
    d = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert float(generative.generator_loss(logits)) == pytest.approx(
        -np.log(d).mean(), rel=1e-5
    )
    assert float(generative.generator_loss(logits, saturating=True)) == pytest.approx(
        np.log(1 - d).mean(), rel=1e-5
    )


def test_discriminator_loss_is_two_log_two_at_chance_and_pushes_logits_apart():
    zero = np.zeros((4, 1), np.float32)
    assert float(generative.discriminator_loss(zero, zero)) == pytest.approx(
        2 * np.log(2), rel=1e-6
    )
    real = tf.constant(np.zeros((4, 1), np.float32))
    fake = tf.constant(np.zeros((4, 1), np.float32))
    with tf.GradientTape() as tape:
        tape.watch([real, fake])
        loss = generative.discriminator_loss(real, fake)
    g_real, g_fake = (np.asarray(g) for g in tape.gradient(loss, [real, fake]))
    assert (g_real < 0).all() and (g_fake > 0).all()  # real up, fake down
    confident = generative.discriminator_loss(
        np.full((4, 1), 9.0, np.float32), np.full((4, 1), -9.0, np.float32)
    )
    assert float(confident) < 1e-3


def test_the_best_discriminator_is_the_density_ratio():
    """For real and fake densities p and q at one point, the logit minimising
    p * (-log D) + q * (-log (1 - D)) gives D = p / (p + q) (Goodfellow et al.)."""
    for p, q in ((0.7, 0.3), (0.2, 0.5), (0.5, 0.5)):
        logit = tf.Variable(0.0)
        optimizer = tf.keras.optimizers.SGD(0.5)
        for _ in range(400):
            with tf.GradientTape() as tape:
                loss = p * generative.generator_loss(
                    tf.reshape(logit, (1, 1))
                ) - q * generative.generator_loss(
                    tf.reshape(logit, (1, 1)), saturating=True
                )
            optimizer.apply_gradients([(tape.gradient(loss, logit), logit)])
        assert float(tf.sigmoid(logit)) == pytest.approx(p / (p + q), abs=1e-3)


def _frechet_by_eigenproblem(a, b):
    """The textbook form: the trace of the root of S_a S_b from S_a's square root."""
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(s_a)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.clip(np.linalg.eigvalsh(root @ s_b @ root), 0, None)
    mean_gap = np.sum((a.mean(0) - b.mean(0)) ** 2)
    return mean_gap + np.trace(s_a) + np.trace(s_b) - 2 * np.sqrt(middle).sum()


@pytest.mark.parametrize(("n_a", "n_b", "width"), [(300, 200, 20), (40, 60, 90)])
def test_frechet_distance_agrees_with_the_eigenproblem_form(n_a, n_b, width):
    """Fewer samples than features (the page's 1,000 digits in 1,152 features) and
    more: the QR-and-SVD route gives the textbook value."""
    rng = np.random.default_rng(width)
    mix = rng.normal(size=(width, width))
    a = rng.normal(size=(n_a, width)) @ mix
    b = rng.normal(size=(n_b, width)) @ mix * 0.7 + 0.4
    np.testing.assert_allclose(
        frechet.frechet_distance(a, b), _frechet_by_eigenproblem(a, b), rtol=1e-6
    )
    assert frechet.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_of_two_known_gaussians():
    """N(0, I) against N(m, 4 I) in 3-D: |m|^2 + 3 (1 + 4 - 2 * 2) = 1 + 3."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 2 + [1, 0, 0]
    assert frechet.frechet_distance(a, b) == pytest.approx(4, rel=0.03)
    with pytest.raises(ValueError, match="finite"):
        frechet.frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_watched_samples_read_back_what_was_packed():
    images = np.random.default_rng(4).random((5, 28, 28)).astype(np.float32)
    record = {"watched": [generative._pack(images), generative._pack(1 - images)]}
    np.testing.assert_allclose(
        generative.watched_samples(record, 1), images, atol=0.5 / 255 + 1e-7
    )
    np.testing.assert_allclose(
        generative.watched_samples(record, 2), 1 - images, atol=0.5 / 255 + 1e-7
    )
    with pytest.raises(ValueError, match="epoch"):
        generative.watched_samples(record, 3)
    with pytest.raises(ValueError, match="record"):
        generative.watched_samples({"history": {}}, 1)


def test_a_vaegan_started_from_a_vae_has_its_weights_and_sizes_are_checked():
    vae = generative.vae(latent_dim=3, hidden=8, seed=1)
    models = generative.vaegan_models(latent_dim=3, seed=2, hidden=8, start=vae)
    for name in ("encoder", "decoder"):
        for mine, theirs in zip(
            models[name].get_weights(), getattr(vae, name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)
    fresh = generative.vaegan_models(latent_dim=3, seed=2, hidden=8)
    assert not np.array_equal(
        fresh["decoder"].get_weights()[0], models["decoder"].get_weights()[0]
    )
    with pytest.raises(ValueError, match="start"):
        generative.vaegan_models(latent_dim=3, hidden=16, start=vae)
    with pytest.raises(TypeError, match="start"):
        generative.vaegan_models(latent_dim=3, start=models["decoder"])
