"""Image generation: a convolutional VAE, a DCGAN and a VAE-GAN for 28x28 digits, the
attributes measured from image moments that the latent-space editing moves, and the
smoothness of latent interpolations. The page that uses it is ``docs/generative.md``.

The VAE is a Keras model with its own ``train_step``, trained by
``training.fit``; the GAN and the VAE-GAN alternate steps with two
optimizers in routines run by ``training.run`` (:func:`gan_routine`,
:func:`vaegan_routine`), so all three are memoised in the trained-model store.
"""

from __future__ import annotations

import base64
import os
import zlib

import numpy as np

from dlbook.base import settings
from dlbook.base.seeding import check_seed, reseed, resolve_seed
from dlbook.base.validate import (
    array,
    in_range,
    labels,
    positive_int,
    same_length,
    shapes_agree,
    static_shape,
)

settings.apply_environment(os.environ)  # a quiet TensorFlow, before Keras loads it
import keras  # noqa: E402  (the VAE and its sampling layer subclass Keras classes)
import tensorflow as tf  # noqa: E402  (gradient tapes of the custom steps)

IMAGE_SHAPE = (28, 28, 1)


def _same_shape(first: str, a, second: str, b) -> None:
    """A ``ValueError`` unless tensors ``a`` and ``b`` may have one shape (static
    shapes only: safe inside a compiled step)."""
    if a is None or b is None:
        raise TypeError(f"{first} and {second} must be tensors, got None")
    if not shapes_agree(static_shape(a), static_shape(b)):
        raise ValueError(
            f"{first} and {second} must have the same shape, got "
            f"{static_shape(a)} and {static_shape(b)}"
        )


def _images(x, what: str = "x") -> np.ndarray:
    """``x`` as float32 ``(n, 28, 28, 1)`` (a batch of 28x28 images, channel optional)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{what} must be a batch of 28x28 images, got shape {x.shape}")
    return x


# --- the VAE ------------------------------------------------------------------------


def kl_per_dimension(z_mean, z_log_var):
    """KL divergence of N(z_mean, exp(z_log_var)) from N(0, 1) in each latent
    dimension, ``0.5 * (mean^2 + var - 1 - log var)``, shaped like ``z_mean``: 0
    exactly where the encoder says nothing (mean 0, variance 1), the prior."""
    ops = keras.ops
    _same_shape("z_mean", z_mean, "z_log_var", z_log_var)
    return 0.5 * (ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var)


def kl_divergence(z_mean, z_log_var):
    """KL divergence of N(z_mean, exp(z_log_var)) from N(0, I), one value per example:
    the sum over the latent axis of :func:`kl_per_dimension` (the VAE's prior term,
    in closed form)."""
    return keras.ops.sum(kl_per_dimension(z_mean, z_log_var), axis=-1)


def reconstruction_loss(x, x_hat):
    """Binary cross-entropy summed over the 784 pixels, one value per example (the
    VAE's likelihood term, as in the keras.io VAE)."""
    ops = keras.ops
    _same_shape("x", x, "x_hat", x_hat)
    x_hat = ops.clip(x_hat, 1e-7, 1.0 - 1e-7)
    terms = x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat)
    return -ops.sum(ops.reshape(terms, (ops.shape(x)[0], -1)), axis=-1)


class Sampling(keras.layers.Layer):
    """The reparameterisation trick: ``z = mean + exp(log_var / 2) * eps`` with
    ``eps ~ N(0, I)`` from a seeded generator, so the noise is an input of the
    network and gradients reach the mean and the variance."""

    def __init__(self, seed: int | None = None, **kwargs):
        seed = resolve_seed(seed)
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(keras.ops.shape(z_mean), seed=self.generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def vae_encoder(latent_dim: int = 2, name: str = "encoder", hidden: int = 16):
    """The keras.io VAE's encoder: two stride-2 3x3 convolutions (32, 64 filters), a
    ``hidden``-unit dense layer (16 in keras.io's), then the latent mean and
    log-variance."""
    from keras import layers

    latent_dim = positive_int("latent_dim", latent_dim)
    hidden = positive_int("hidden", hidden)
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(hidden, activation="relu")(layers.Flatten()(h))
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name=name)


def vae_decoder(latent_dim: int = 2, name: str = "decoder"):
    """The keras.io VAE's decoder (the mirror of :func:`vae_encoder`): a dense layer to
    7x7x64, two stride-2 transposed convolutions, a sigmoid 28x28 image. The GAN and
    the VAE-GAN use it as their generator."""
    from keras import layers

    latent_dim = positive_int("latent_dim", latent_dim)
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(7 * 7 * 64, activation="relu")(z)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    out = layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(h)
    return keras.Model(z, out, name=name)


class VAE(keras.Model):
    """Encoder, sampling layer and decoder; ``train_step`` minimises the summed pixel
    cross-entropy plus ``beta`` x the KL term (the negative ELBO once ``beta`` is 1)
    and tracks both terms per epoch, ``test_step`` the same on validation images.

    ``warmup_steps``: KL warm-up, ``beta`` rising linearly from 0 to 1 over that many
    gradient steps (0: the plain ELBO from the first step), so that the decoder learns
    to use the latent code before the KL term can push it back onto the prior."""

    def __init__(
        self, encoder, decoder, seed: int | None = None, warmup_steps: int = 0, **kw
    ):
        seed = resolve_seed(seed)
        super().__init__(**kw)
        self.encoder, self.decoder = encoder, decoder
        self.sampler = Sampling(seed)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int):
            raise TypeError(f"warmup_steps must be an integer, got {warmup_steps!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be at least 0, got {warmup_steps}")
        # a variable, so that its value is in the training's key
        self.warmup_steps = keras.Variable(
            float(warmup_steps), trainable=False, name="warmup_steps"
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "reconstruction", "kl", "beta")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        return self.decoder(self.sampler([z_mean, z_log_var]), training=training)

    def losses_of(self, x, training=False):
        """Mean reconstruction and KL terms of the batch ``x``."""
        z_mean, z_log_var = self.encoder(x, training=training)
        x_hat = self.decoder(self.sampler([z_mean, z_log_var]), training=training)
        reconstruction = keras.ops.mean(reconstruction_loss(x, x_hat))
        kl = keras.ops.mean(kl_divergence(z_mean, z_log_var))
        return reconstruction, kl

    def beta(self):
        """The KL term's weight at the optimizer's current step (see the class)."""
        ops = keras.ops
        step = ops.cast(self.optimizer.iterations, "float32") + 1.0
        ramp = step / ops.maximum(self.warmup_steps, 1.0)
        return ops.where(self.warmup_steps > 0, ops.minimum(ramp, 1.0), 1.0)

    def _track(self, reconstruction, kl, beta):
        for name, value in (
            ("loss", reconstruction + kl),
            ("reconstruction", reconstruction),
            ("kl", kl),
            ("beta", beta),
        ):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        beta = self.beta()
        with tf.GradientTape() as tape:
            reconstruction, kl = self.losses_of(x, training=True)
            loss = reconstruction + beta * kl
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._track(reconstruction, kl, beta)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        reconstruction, kl = self.losses_of(x, training=False)
        return self._track(reconstruction, kl, 1.0)


def vae(
    latent_dim: int = 2,
    seed: int | None = None,
    warmup_steps: int = 0,
    hidden: int = 16,
):
    """A built convolutional VAE (keras.io's architecture, with a ``hidden``-unit
    dense layer in the encoder) with a ``latent_dim``-D latent space and
    ``warmup_steps`` of KL warm-up; train it with
    ``training.fit(model, (x, x), loss=None, ...)``."""
    reseed(seed)
    model = VAE(
        vae_encoder(latent_dim, hidden=hidden),
        vae_decoder(latent_dim),
        seed=seed,
        warmup_steps=warmup_steps,
        name="vae",
    )
    model(np.zeros((1, *IMAGE_SHAPE), np.float32))
    return model


def encode(model, x, batch_size: int = 500) -> np.ndarray:
    """The latent means of images ``x`` under a VAE (or a VAE-GAN's encoder)."""
    encoder = getattr(model, "encoder", model)
    x = _images(x)
    means = [
        np.asarray(encoder(x[i : i + batch_size], training=False)[0])
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(means)


def decode(model, z, batch_size: int = 500) -> np.ndarray:
    """Images ``(n, 28, 28)`` decoded from latent points ``z`` (a VAE's decoder, or a
    generator given directly)."""
    from dlbook import training

    decoder = getattr(model, "decoder", model)
    z = np.asarray(z, np.float32)
    if z.ndim != 2:
        raise ValueError(f"z must be a (n, latent_dim) array, got shape {z.shape}")
    return training.predict(decoder, z, batch_size=batch_size)[..., 0]


def latent_dim_of(model) -> int:
    """The latent size of a VAE, a VAE-GAN's decoder or a generator."""
    decoder = getattr(model, "decoder", model)
    return int(decoder.inputs[0].shape[-1])


def sample(model, n: int, seed: int) -> np.ndarray:
    """``n`` images decoded from latent points drawn from N(0, I) with ``seed``."""
    n = positive_int("n", n)
    z = np.random.default_rng(check_seed(seed)).normal(size=(n, latent_dim_of(model)))
    return decode(model, z.astype(np.float32))


def reconstruct(model, x) -> np.ndarray:
    """Images ``(n, 28, 28)`` decoded from the latent means of ``x`` (no sampling)."""
    return decode(model, encode(model, x))


def latent_grid(model, size: int = 15, span: float = 2.0, plane=None) -> np.ndarray:
    """A ``(size * 28, size * 28)`` picture of a latent space: the images decoded on a
    ``size`` x ``size`` grid over [-span, span]^2 (first coordinate along columns,
    second along rows, upwards), as in the keras.io VAE example. The grid lies in
    the 2-D latent space itself, or in ``plane`` (``(centre, axes)`` from
    :func:`latent_plane`: the points ``centre + a * axes[0] + b * axes[1]``) for a
    latent space of more dimensions."""
    size = positive_int("size", size)
    span = in_range("span", span, 0, low_open=True)
    dim = latent_dim_of(model)
    if plane is None:
        if dim != 2:
            raise ValueError(
                f"latent_grid needs a 2-D latent space or a plane, got {dim}-D"
            )
        centre, axes = np.zeros(2), np.eye(2)
    else:
        centre, axes = (np.asarray(part, np.float64) for part in plane)
        if centre.shape != (dim,) or axes.shape != (2, dim):
            raise ValueError(
                f"plane must be (centre, axes) of shapes ({dim},) and (2, {dim}), "
                f"got {centre.shape} and {axes.shape}"
            )
    values = np.linspace(-span, span, size)
    ab = np.array([[a, b] for b in values[::-1] for a in values])
    z = (centre + ab @ axes).astype(np.float32)
    images = decode(model, z).reshape(size, size, 28, 28)
    return images.transpose(0, 2, 1, 3).reshape(size * 28, size * 28)


def latent_plane(z) -> tuple[np.ndarray, np.ndarray]:
    """The plane that shows most of a cloud of latent points ``z`` ``(n, d)``: its
    centre (the mean point) and two axes, the first two principal directions scaled
    to one standard deviation of the points along them. ``project`` the points onto
    it to draw them; decode on it with :func:`latent_grid`."""
    z = array("z", z, ndim=2, finite=True, dtype=np.float64)
    if len(z) < 3 or z.shape[1] < 2:
        raise ValueError(
            f"z must hold at least 3 points of 2 or more dimensions, got {z.shape}"
        )
    centre = z.mean(axis=0)
    _, singular, directions = np.linalg.svd(z - centre, full_matrices=False)
    scale = singular[:2] / np.sqrt(len(z) - 1)
    signs = np.sign(
        directions[:2, np.argmax(np.abs(directions[:2]), axis=1)].diagonal()
    )
    return centre, directions[:2] * (signs * scale)[:, None]


def project(z, plane) -> np.ndarray:
    """Coordinates ``(n, 2)`` of latent points ``z`` in ``plane`` (from
    :func:`latent_plane`): the least-squares ``(a, b)`` with ``z ≈ centre + a *
    axes[0] + b * axes[1]``, in standard deviations along each axis."""
    z = array("z", z, ndim=2, finite=True, dtype=np.float64)
    centre, axes = (np.asarray(part, np.float64) for part in plane)
    if axes.ndim != 2 or axes.shape != (2, z.shape[1]) or centre.shape != (z.shape[1],):
        raise ValueError(
            f"plane must be (centre, axes) of shapes ({z.shape[1]},) and "
            f"(2, {z.shape[1]}), got {centre.shape} and {axes.shape}"
        )
    return np.linalg.lstsq(axes.T, (z - centre).T, rcond=None)[0].T


# --- is the VAE healthy? ----------------------------------------------------------


def latent_usage(model, x, floor: float = 0.1) -> dict:
    """How much of its latent space a VAE uses on images ``x``: ``kl_per_dimension``,
    the KL of the encoder's Gaussian from the prior in each dimension averaged over
    the images (nats; a dimension the decoder ignores sits at about 0, the prior), and
    ``active``, how many dimensions reach ``floor`` nats. A collapsed VAE (posterior
    collapse) has almost none."""
    floor = in_range("floor", floor, 0, low_open=True)
    encoder = getattr(model, "encoder", model)
    x = _images(x)
    parts = [encoder(x[i : i + 500], training=False) for i in range(0, len(x), 500)]
    kl = np.concatenate(
        [np.asarray(kl_per_dimension(mean, log_var)) for mean, log_var in parts]
    ).mean(axis=0)
    return {"kl_per_dimension": kl, "active": int(np.sum(kl >= floor))}


def knn_correct(z_train, y_train, z_test, y_test, k: int = 5) -> np.ndarray:
    """For each test point, whether a ``k``-nearest-neighbour vote of the training
    points (Euclidean distance, ties to the nearer neighbours' class) gives its label:
    how well the classes are separated in a space of codes ``z``. Per item, so that
    two such scores compare with ``checks.compare``."""
    k = positive_int("k", k)
    z_train = array("z_train", z_train, ndim=2, finite=True, dtype=np.float64)
    z_test = array("z_test", z_test, ndim=2, finite=True, dtype=np.float64)
    same_length(z_train=z_train, y_train=y_train)
    same_length(z_test=z_test, y_test=y_test)
    if z_train.shape[1] != z_test.shape[1]:
        raise ValueError(
            f"z_train and z_test must have one width, got {z_train.shape[1]} and "
            f"{z_test.shape[1]}"
        )
    if k > len(z_train):
        raise ValueError(f"k must be at most len(z_train) = {len(z_train)}, got {k}")
    y_train = labels("y_train", y_train, int(np.max(y_train, initial=0)) + 1)
    y_test = np.asarray(y_test)
    distances = (
        np.sum(z_test**2, axis=1)[:, None]
        - 2 * z_test @ z_train.T
        + np.sum(z_train**2, axis=1)[None]
    )
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    predicted = []
    for votes in y_train[nearest]:
        counts = np.bincount(votes)
        # the most votes; a tie goes to the tied class of the nearest neighbour
        predicted.append(next(v for v in votes if counts[v] == counts.max()))
    return np.asarray(predicted) == y_test


# --- the GAN ------------------------------------------------------------------------


def dcgan_generator(latent_dim: int = 2, name: str = "generator"):
    """The DCGAN-style generator: the same network as :func:`vae_decoder` (dense to
    7x7x64, two stride-2 transposed convolutions), so GAN and VAE differ only in how
    they are trained."""
    return vae_decoder(latent_dim, name=name)


def dcgan_discriminator(dropout: float = 0.3, name: str = "discriminator"):
    """The DCGAN-style discriminator: two stride-2 4x4 convolutions (32, 64 filters)
    with leaky ReLU and ``dropout`` (which keeps it from winning too early), no
    pooling, one logit. The flattened 7x7x64 activations (layer
    ``features``) are what the VAE-GAN compares images in."""
    from keras import layers

    in_range("dropout", dropout, 0, 1, high_open=True)
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Conv2D(32, 4, strides=2, padding="same")(x)
    h = layers.Dropout(dropout)(layers.LeakyReLU(0.2)(h))
    h = layers.Conv2D(64, 4, strides=2, padding="same")(h)
    h = layers.LeakyReLU(0.2)(h)
    features = layers.Flatten(name="features")(h)
    h = layers.Dropout(dropout)(features)
    logit = layers.Dense(1, name="logit")(h)
    return keras.Model(x, [logit, features], name=name)


def gan_models(latent_dim: int = 2, seed: int | None = None) -> dict:
    """A fresh generator and discriminator, seeded: ``{"generator", "discriminator"}``."""
    reseed(seed)
    return {
        "generator": dcgan_generator(latent_dim),
        "discriminator": dcgan_discriminator(),
    }


def _bce_logits(labels: float, logits):
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(logits), labels), logits=logits
        )
    )


def _optimizer(learning_rate: float):
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)


def _needs_logits(**logits) -> None:
    for name, value in logits.items():
        if value is None:
            raise TypeError(f"{name} must be a tensor of logits, got {value!r}")


def discriminator_loss(real_logits, fake_logits):
    """The discriminator's side of the GAN game, ``-[log D(x) + log(1 - D(G(z)))]``
    averaged over each batch: the cross-entropy of calling real images real (label
    1) and generated ones fake (label 0), from the discriminator's logits."""
    _needs_logits(real_logits=real_logits, fake_logits=fake_logits)
    return _bce_logits(1.0, real_logits) + _bce_logits(0.0, fake_logits)


def generator_loss(fake_logits, saturating: bool = False):
    """The generator's loss on the discriminator's logits for its images.

    ``saturating=False`` (what the book trains with): the non-saturating
    ``-log D(G(z))``, whose gradient with respect to a logit is ``-(1 - D)``, large
    exactly when the discriminator rejects the fake (``D`` near 0). ``True``: the
    minimax game's own ``log(1 - D(G(z)))``, gradient ``-D``, which vanishes there."""
    _needs_logits(fake_logits=fake_logits)
    if saturating:
        return -_bce_logits(0.0, fake_logits)
    return _bce_logits(1.0, fake_logits)


def gan_steps(generator, discriminator, learning_rate: float = 2e-4):
    """The two compiled steps of a GAN, each with its own Adam optimizer:
    ``discriminator_step(real, z)`` lowers :func:`discriminator_loss` and changes
    only the discriminator; ``generator_step(z)`` lowers the non-saturating
    :func:`generator_loss` and changes only the generator. The discriminator step
    returns its loss and its mean probability ``D`` of real and of generated images,
    the generator step its loss."""
    d_optimizer, g_optimizer = _optimizer(learning_rate), _optimizer(learning_rate)

    @tf.function
    def discriminator_step(real, z):
        fake = generator(z, training=False)
        with tf.GradientTape() as tape:
            real_logit = discriminator(real, training=True)[0]
            fake_logit = discriminator(fake, training=True)[0]
            loss = discriminator_loss(real_logit, fake_logit)
        weights = discriminator.trainable_weights
        d_optimizer.apply_gradients(
            zip(tape.gradient(loss, weights), weights, strict=True)
        )
        return (
            loss,
            tf.reduce_mean(tf.sigmoid(real_logit)),
            tf.reduce_mean(tf.sigmoid(fake_logit)),
        )

    @tf.function
    def generator_step(z):
        with tf.GradientTape() as tape:
            fake_logit = discriminator(generator(z, training=True), training=False)[0]
            loss = generator_loss(fake_logit)
        weights = generator.trainable_weights
        g_optimizer.apply_gradients(
            zip(tape.gradient(loss, weights), weights, strict=True)
        )
        return loss

    return discriminator_step, generator_step


def _batches(n: int, batch_size: int, rng):
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def _pack(images) -> str:
    """Images in [0, 1] as 8-bit grey levels, compressed and base64-encoded: a short
    JSON string for a routine's record (see :func:`watched_samples`)."""
    levels = np.rint(np.clip(np.asarray(images), 0, 1) * 255).astype(np.uint8)
    return base64.b64encode(zlib.compress(levels.tobytes(), 9)).decode("ascii")


def _loop_setup(x, epochs: int, batch_size: int, seed: int):
    """The checked images, epochs and batch size of a custom loop, and its NumPy
    generator seeded with ``seed`` (every draw of the loop comes from it)."""
    x = _images(x)
    epochs, batch_size = (
        positive_int("epochs", epochs),
        positive_int("batch_size", batch_size),
    )
    if batch_size > len(x):
        raise ValueError(
            f"batch_size must be at most len(x) = {len(x)}, got {batch_size}"
        )
    return x, epochs, batch_size, np.random.default_rng(check_seed(seed))


def watched_samples(record: dict, epoch: int) -> np.ndarray:
    """The images ``(n, 28, 28)`` in [0, 1] that a GAN routine generated from its
    fixed noise batch after ``epoch`` (counted from 1), read back from its record."""
    packed = record.get("watched") if isinstance(record, dict) else None
    if not packed:
        raise ValueError("record must be a GAN routine's record with watched samples")
    epoch = positive_int("epoch", epoch)
    if epoch > len(packed):
        raise ValueError(f"epoch must be at most {len(packed)}, got {epoch}")
    levels = np.frombuffer(
        zlib.decompress(base64.b64decode(packed[epoch - 1])), np.uint8
    )
    return levels.reshape(-1, 28, 28).astype(np.float32) / 255


def gan_routine(
    models,
    seed: int,
    x,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-4,
    watch: int = 200,
):
    """The GAN training loop, run by ``training.run`` (``models`` from
    :func:`gan_models`): each batch one discriminator step, then one generator step on
    fresh noise, all noise and shuffling drawn from NumPy generators seeded with
    ``seed``. Records per epoch both losses, the discriminator's mean probability
    of real and of generated images, and the ``watch`` images generated from one
    fixed noise batch (read them with :func:`watched_samples`), from which mode
    collapse is measured over training."""
    generator, discriminator = models["generator"], models["discriminator"]
    x, epochs, batch_size, rng = _loop_setup(x, epochs, batch_size, seed)
    watch = positive_int("watch", watch)
    latent = latent_dim_of(generator)
    fixed = rng.normal(size=(watch, latent)).astype(np.float32)
    d_step, g_step = gan_steps(generator, discriminator, learning_rate)
    names = ("discriminator_loss", "generator_loss", "d_real", "d_fake")
    history: dict[str, list] = {name: [] for name in names}
    watched = []
    for _ in range(epochs):
        values = []
        for index in _batches(len(x), batch_size, rng):
            z = rng.normal(size=(2, batch_size, latent)).astype(np.float32)
            d_loss, d_real, d_fake = d_step(x[index], z[0])
            g_loss = g_step(z[1])
            values.append([float(v) for v in (d_loss, g_loss, d_real, d_fake)])
        for name, value in zip(names, np.mean(values, axis=0), strict=True):
            history[name].append(float(value))
        watched.append(_pack(np.asarray(generator(fixed, training=False))[..., 0]))
    return {"history": history, "watched": watched}


def train_gan(x, epochs: int, latent_dim: int = 2, seed: int | None = None, **options):
    """Build a GAN with ``seed`` and train it on ``x`` through the store; returns
    ``(models, result)`` with ``result.record["history"]`` and the images of each
    epoch (:func:`watched_samples`)."""
    from dlbook import training

    models = gan_models(latent_dim, seed=seed)
    result = training.run(
        gan_routine, models, seed=seed, x=_images(x), epochs=epochs, **options
    )
    return models, result


# --- the VAE-GAN --------------------------------------------------------------------


def vaegan_models(
    latent_dim: int = 2, seed: int | None = None, hidden: int = 16, start=None
) -> dict:
    """A VAE-GAN, seeded: ``{"encoder", "decoder", "discriminator"}`` (the encoder
    of :func:`vae_encoder` with ``hidden`` units, the decoder that is also the
    generator, the GAN's critic). ``start``: a trained :class:`VAE` of the same
    sizes whose encoder and decoder weights the VAE-GAN starts from (the GAN terms
    then join a decoder that already uses its code); else all three start fresh."""
    reseed(seed)
    models = {
        "encoder": vae_encoder(latent_dim, hidden=hidden),
        "decoder": vae_decoder(latent_dim),
        "discriminator": dcgan_discriminator(),
    }
    if start is not None:
        if not isinstance(start, VAE):
            raise TypeError(f"start must be a trained VAE, got {type(start).__name__}")
        for name in ("encoder", "decoder"):
            mine, theirs = models[name], getattr(start, name)
            shapes = [w.shape for w in mine.get_weights()]
            if shapes != [w.shape for w in theirs.get_weights()]:
                raise ValueError(
                    f"start must have the VAE-GAN's sizes (latent_dim={latent_dim}, "
                    f"hidden={hidden}): its {name} does not"
                )
            mine.set_weights(theirs.get_weights())
    return models


def vaegan_steps(
    encoder,
    decoder,
    discriminator,
    learning_rate: float = 2e-4,
    feature_weight: float = 1.0,
    adversarial_weight: float = 1.0,
):
    """The two compiled steps of a VAE-GAN (Larsen et al., 2016), three Adam optimizers.

    ``autoencoder_step(x, eps, z_prior)``: the encoder lowers KL + reconstruction, the
    decoder lowers reconstruction + ``adversarial_weight`` x the non-saturating GAN
    loss on its reconstructions and prior samples; reconstruction is the summed pixel
    cross-entropy plus ``feature_weight`` x the squared distance between the
    discriminator's ``features`` of ``x`` and of its reconstruction (Larsen's
    learned similarity). The discriminator is left unchanged.
    ``discriminator_step(x, eps, z_prior)``: the discriminator's cross-entropy on
    real (1) and fake (0) images, the fakes half reconstructions, half prior samples;
    only it changes.
    Each step returns its losses as a dict.
    """
    optimizers = [_optimizer(learning_rate) for _ in range(3)]

    def parts(x, eps, z_prior, training):
        z_mean, z_log_var = encoder(x, training=training)
        z = z_mean + tf.exp(0.5 * z_log_var) * eps
        x_rec, x_prior = (
            decoder(z, training=training),
            decoder(z_prior, training=training),
        )
        return z_mean, z_log_var, x_rec, x_prior

    @tf.function
    def autoencoder_step(x, eps, z_prior):
        with tf.GradientTape(persistent=True) as tape:
            z_mean, z_log_var, x_rec, x_prior = parts(x, eps, z_prior, True)
            _, real_features = discriminator(x, training=False)
            rec_logit, rec_features = discriminator(x_rec, training=False)
            prior_logit = discriminator(x_prior, training=False)[0]
            kl = tf.reduce_mean(kl_divergence(z_mean, z_log_var))
            pixels = tf.reduce_mean(reconstruction_loss(x, x_rec))
            features = tf.reduce_mean(
                tf.reduce_sum(tf.square(real_features - rec_features), axis=-1)
            )
            reconstruction = pixels + feature_weight * features
            adversarial = generator_loss(rec_logit) + generator_loss(prior_logit)
            encoder_loss = kl + reconstruction
            decoder_loss = reconstruction + adversarial_weight * adversarial
        for model, loss, optimizer in (
            (encoder, encoder_loss, optimizers[0]),
            (decoder, decoder_loss, optimizers[1]),
        ):
            weights = model.trainable_weights
            optimizer.apply_gradients(
                zip(tape.gradient(loss, weights), weights, strict=True)
            )
        del tape
        return {
            "kl": kl,
            "pixels": pixels,
            "features": features,
            "adversarial": adversarial,
        }

    @tf.function
    def discriminator_step(x, eps, z_prior):
        _, _, x_rec, x_prior = parts(x, eps, z_prior, False)
        with tf.GradientTape() as tape:
            loss = (
                _bce_logits(1.0, discriminator(x, training=True)[0])
                + 0.5 * _bce_logits(0.0, discriminator(x_rec, training=True)[0])
                + 0.5 * _bce_logits(0.0, discriminator(x_prior, training=True)[0])
            )
        weights = discriminator.trainable_weights
        optimizers[2].apply_gradients(
            zip(tape.gradient(loss, weights), weights, strict=True)
        )
        return {"discriminator": loss}

    return autoencoder_step, discriminator_step


def vaegan_routine(
    models,
    seed: int,
    x,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-4,
    feature_weight: float = 1.0,
    adversarial_weight: float = 1.0,
):
    """The VAE-GAN training loop, run by ``training.run`` (``models`` from
    :func:`vaegan_models`): each batch one discriminator step, then one
    encoder-and-decoder step on the same images and noise, all drawn from NumPy
    generators seeded with ``seed``; records every loss term per epoch."""
    encoder, decoder, discriminator = (
        models["encoder"],
        models["decoder"],
        models["discriminator"],
    )
    x, epochs, batch_size, rng = _loop_setup(x, epochs, batch_size, seed)
    latent = latent_dim_of(decoder)
    ae_step, d_step = vaegan_steps(
        encoder,
        decoder,
        discriminator,
        learning_rate,
        feature_weight,
        adversarial_weight,
    )
    history: dict[str, list] = {}
    for _ in range(epochs):
        sums: dict[str, list] = {}
        for index in _batches(len(x), batch_size, rng):
            noise = rng.normal(size=(2, batch_size, latent)).astype(np.float32)
            losses = {**d_step(x[index], noise[0], noise[1])}
            losses.update(ae_step(x[index], noise[0], noise[1]))
            for name, value in losses.items():
                sums.setdefault(name, []).append(float(value))
        for name, values in sums.items():
            history.setdefault(name, []).append(float(np.mean(values)))
    return {"history": history}


def train_vaegan(
    x,
    epochs: int,
    latent_dim: int = 2,
    seed: int | None = None,
    hidden: int = 16,
    start=None,
    **options,
):
    """Build a VAE-GAN with ``seed`` (from ``start``, a trained VAE, if given: see
    :func:`vaegan_models`) and train it on ``x`` through the store; returns
    ``(models, result)``."""
    from dlbook import training

    models = vaegan_models(latent_dim, seed=seed, hidden=hidden, start=start)
    result = training.run(
        vaegan_routine, models, seed=seed, x=_images(x), epochs=epochs, **options
    )
    return models, result


# --- attributes measured from the images -----------------------------------------


def _moments(images):
    images = np.asarray(images, np.float64)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images must be (n, height, width), got shape {images.shape}")
    if np.any(images < 0):
        raise ValueError("images must hold non-negative ink values")
    mass = images.sum(axis=(1, 2))
    if np.any(mass == 0):
        raise ValueError("images must not be blank (no ink: no moments)")
    rows, cols = np.indices(images.shape[1:], dtype=np.float64)
    r_mean = (images * rows).sum(axis=(1, 2)) / mass
    c_mean = (images * cols).sum(axis=(1, 2)) / mass
    dr = rows[None] - r_mean[:, None, None]
    dc = cols[None] - c_mean[:, None, None]
    mu02 = (images * dr**2).sum(axis=(1, 2)) / mass  # spread along rows (vertical)
    mu11 = (images * dr * dc).sum(axis=(1, 2)) / mass
    return images, mass, mu02, mu11


def slant(images) -> np.ndarray:
    """How far each image leans right, from its second central moments: the shear
    ``-mu11 / mu02`` (columns moved per row, rows counted downwards), 0 for upright,
    positive when the top leans right (the deskewing measure of MNIST preprocessing)."""
    _, _, mu02, mu11 = _moments(images)
    return -mu11 / mu02


def thickness(images, threshold: float = 0.5) -> np.ndarray:
    """Mean stroke thickness in pixels: the ink (zeroth moment, on the images
    thresholded at ``threshold``) divided by the length of the strokes' skeleton
    (Morpho-MNIST's measure). A 1-pixel line gives 1, a 3-pixel line about 3."""
    from skimage.morphology import skeletonize

    images, _, _, _ = _moments(images)
    ink = images >= threshold
    if not np.all(ink.any(axis=(1, 2))):
        raise ValueError(f"every image needs ink above threshold {threshold}")
    lengths = np.array([skeletonize(one).sum() for one in ink], np.float64)
    return ink.sum(axis=(1, 2)) / np.maximum(lengths, 1.0)


def attribute_direction(z, values, share: float = 0.25) -> np.ndarray:
    """The latent direction of an attribute, as the notes' smile vector: the mean
    latent point of the ``share`` of images with the highest ``values`` minus that of
    the ``share`` with the lowest."""
    z, values = np.asarray(z, np.float64), np.asarray(values, np.float64)
    if len(z) != len(values) or z.ndim != 2:
        raise ValueError("z must be (n, latent_dim) and values (n,), same n")
    if not 0 < share <= 0.5:
        raise ValueError(f"share must be in (0, 0.5], got {share}")
    count = max(1, int(round(share * len(values))))
    order = np.argsort(values, kind="stable")
    return z[order[-count:]].mean(axis=0) - z[order[:count]].mean(axis=0)


# --- latent interpolations ------------------------------------------------------------


def interpolate(model, z_from, z_to, steps: int = 12) -> np.ndarray:
    """Images ``(pairs, steps, 28, 28)`` decoded on the straight lines from each point
    of ``z_from`` to the matching point of ``z_to``, ends included."""
    steps = positive_int("steps", steps)
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    a, b = np.asarray(z_from, np.float32), np.asarray(z_to, np.float32)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError("z_from and z_to must be (pairs, latent_dim) of one shape")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    path = a[:, None] + t * (b - a)[:, None]
    images = decode(model, path.reshape(-1, a.shape[1]))
    return images.reshape(len(a), steps, 28, 28)


def interpolation_smoothness(paths, classes, per_path: bool = False) -> dict:
    """How smoothly images change along interpolation ``paths`` ``(pairs, steps, 28,
    28)`` with the classifier's ``classes`` ``(pairs, steps)`` of each image:

    ``largest_step_share``: the largest pixel change of one step over the path's total
    (``1/(steps-1)`` for even change, 1 when all change happens in one jump);
    ``mean_step``: mean RMS pixel change per step; ``class_changes``: class changes
    along the path; ``flip_backs``: whether the class returns to a class it had left
    (A to B to A), the sign of a latent space that is not continuous between the
    ends. Each averaged over the paths, or with ``per_path=True`` one value per path
    (arrays), so that two models walked between the same ends compare path by path."""
    paths, classes = np.asarray(paths, np.float64), np.asarray(classes)
    if paths.ndim != 4 or classes.shape != paths.shape[:2]:
        raise ValueError(
            "paths must be (pairs, steps, h, w) and classes (pairs, steps)"
        )
    steps = np.sqrt(np.mean(np.diff(paths, axis=1) ** 2, axis=(2, 3)))
    total = np.maximum(steps.sum(axis=1), 1e-12)
    flips = []
    for row in classes:
        runs = [row[0]] + [
            c for prev, c in zip(row[:-1], row[1:], strict=True) if c != prev
        ]
        flips.append(len(runs) != len(set(runs)))
    scores = {
        "largest_step_share": steps.max(axis=1) / total,
        "mean_step": steps.mean(axis=1),
        "class_changes": np.sum(classes[:, 1:] != classes[:, :-1], axis=1).astype(
            float
        ),
        "flip_backs": np.asarray(flips, float),
    }
    if per_path:
        return scores
    return {name: float(np.mean(values)) for name, values in scores.items()}
