"""Bad input gets a clear error that names the argument (issue #36): never a silent
result, never a traceback from deep inside TensorFlow, NumPy or OpenCV.

First the defects found by hand, one test each; then a sweep over the public
functions of the chapter modules (``src/dlbook/*.py``), each called with one clearly
bad argument. ``NOT_SWEPT`` lists the public functions the sweep leaves out and why;
``test_every_public_function_is_swept_or_listed`` keeps the two lists complete when a
function is added. Nothing here trains a model.
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from dlbook import (
    architectures,
    attention,
    capsules,
    convnet_internals,
    convnets,
    data,
    dqn,
    encoding,
    environments,
    faces,
    forecasting,
    frechet,
    functional,
    generative,
    last_layer,
    layers,
    models,
    qlearning,
    recurrent,
    sample_quality,
    separable,
    seq2seq,
    series_direction,
    style_transfer,
    text,
    textgen,
    training,
    transfer,
    video,
    vision,
    word2vec,
    word_embeddings,
)

BAD = (ValueError, TypeError)


@lru_cache(maxsize=1)
def softmax_model():
    """A built, untrained 3 -> 4 softmax model."""
    import keras

    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="softmax")], name="tiny"
    )


@lru_cache(maxsize=1)
def convnet():
    return convnets.mnist_convnet(seed=0)


def zeros(*shape, dtype="float32"):
    return np.zeros(shape, dtype)


# --- the defects found by hand ----------------------------------------------------------


def test_accuracy_needs_one_label_per_prediction():
    x = zeros(64, 3)
    for score in (training.accuracy, training.binary_accuracy):
        with pytest.raises(
            ValueError, match=r"y must have one label per prediction \(64\), got 1"
        ):
            score(softmax_model(), x, np.array([1]))
        with pytest.raises(ValueError, match="y must be a 1-D array"):
            score(softmax_model(), x, np.zeros((64, 1)))
    # valid labels score as before
    predicted = np.argmax(np.asarray(softmax_model()(x)), axis=1)
    assert training.accuracy(softmax_model(), x, predicted) == 1.0


def test_as_uint8_rejects_nan_and_thresholds_reject_a_level_outside_0_255():
    with pytest.raises(ValueError, match="image as floats must lie in .0, 1., got NaN"):
        vision.as_uint8(np.full((4, 4), np.nan))
    grey = zeros(40, 40, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"level must be in \[0, 255\], got 300"):
        vision.thresholds(grey, level=300)


def test_text_rejects_a_str_for_a_list_of_texts_and_none():
    with pytest.raises(TypeError, match="texts must be a sequence of texts"):
        text.real_or_shuffled("hello world")
    with pytest.raises(TypeError, match="train_texts must be a sequence of texts"):
        text.word_indices(None)


def test_dqn_epsilon_step_gamma_and_td_target_shapes():
    with pytest.raises(ValueError, match="step must be a number >= 0"):
        dqn.epsilon(-1, 100)
    with pytest.raises(ValueError, match="step must be a number >= 0"):
        dqn.epsilon(np.array([0, np.nan]), 100)
    rewards, terminated, next_q = zeros(3), zeros(3), zeros(3, 2)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got 1.5"):
        dqn.td_targets(rewards, terminated, next_q, gamma=1.5)
    with pytest.raises(ValueError, match=r"rewards must have shape \(4,\)"):
        dqn.td_targets(rewards, terminated, zeros(4, 2))
    with pytest.raises(ValueError, match=r"terminated must have shape \(3,\)"):
        dqn.td_targets(rewards, zeros(1), next_q)
    with pytest.raises(
        ValueError, match="next_q_online must have next_q_target's shape"
    ):
        dqn.td_targets(rewards, terminated, next_q, zeros(3, 3))


def test_td_targets_check_static_shapes_only_when_traced():
    import tensorflow as tf

    spec = tf.TensorSpec((None,), tf.float32)
    q_spec = tf.TensorSpec((None, 2), tf.float32)
    traced = tf.function(lambda r, t, q: dqn.td_targets(r, t, q, gamma=0.5))
    y = traced.get_concrete_function(spec, spec, q_spec)(
        tf.ones(2), tf.zeros(2), tf.ones((2, 2))
    )
    np.testing.assert_allclose(y, [1.5, 1.5])
    with pytest.raises(ValueError, match="rewards must have shape"):
        traced.get_concrete_function(tf.TensorSpec((None, 1)), spec, q_spec)


def test_iou_rejects_boxes_of_negative_size():
    with pytest.raises(
        ValueError, match=r"a must be an \(x, y, w, h\) box with w, h >= 0"
    ):
        faces.iou((0, 0, -5, -5), (0, 0, 3, 3))
    with pytest.raises(ValueError, match="b must be an"):
        faces.iou((0, 0, 3, 3), (0, 0, 3))
    assert faces.iou((0, 0, 2, 2), (1, 0, 2, 2)) == pytest.approx(1 / 3)


def test_fit_checks_its_pairs_and_clipnorm_before_training():
    model, x, y = softmax_model(), zeros(8, 3), np.zeros(8, int)
    options = dict(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="clipnorm must be a positive number, got -1"):
        training.fit(model, (x, y), clipnorm=-1, **options)
    with pytest.raises(
        ValueError, match=r"val must be an \(inputs, targets\) pair, got a tuple of 1"
    ):
        training.fit(model, (x, y), val=(x,), **options)
    with pytest.raises(
        ValueError, match="train must have one target per input, got 8 inputs and 7"
    ):
        training.fit(model, (x, y[:7]), **options)
    with pytest.raises(
        ValueError, match=r"train must be an \(inputs, targets\) pair, got None"
    ):
        training.fit(model, None, **options)
    with pytest.raises(TypeError, match="model must be a Keras model, got None"):
        training.fit(None, (x, y), **options)
    with pytest.raises(ValueError, match="evaluate\\['test'\\] must be an"):
        training.fit(model, (x, y), evaluate={"test": x}, **options)
    with pytest.raises(ValueError, match="clipnorm must be a positive number"):
        training.core.compile_model(model, "mse", clipnorm=0.0)


def test_scaled_dot_product_attention_checks_depth_length_and_mask():
    q, k = zeros(2, 5, 3, 4), zeros(2, 6, 3, 4)
    with pytest.raises(ValueError, match="query and key must have the same depth"):
        layers.scaled_dot_product_attention(q, zeros(2, 6, 3, 5), k)
    with pytest.raises(ValueError, match="key and value must have the same length"):
        layers.scaled_dot_product_attention(q, k, zeros(2, 7, 3, 4))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, 5, 6\)"):
        layers.scaled_dot_product_attention(q, k, k, np.ones((2, 6, 5), bool))
    with pytest.raises(ValueError, match="same number of heads"):
        layers.scaled_dot_product_attention(q, zeros(2, 6, 2, 4), zeros(2, 6, 2, 4))
    with pytest.raises(ValueError, match="query must have shape"):
        layers.scaled_dot_product_attention(zeros(5, 3, 4), k, k)


def test_margin_loss_and_capsule_targets_check_shapes_and_labels():
    with pytest.raises(
        ValueError, match=r"y_true must have the shape of lengths \(2, 9\)"
    ):
        capsules.margin_loss(zeros(2, 10), zeros(2, 9))
    images = zeros(3, 28, 28, 1)
    for labels in ([0, 1, 10], [0, 1, -1]):
        with pytest.raises(ValueError, match=r"labels must be class labels in 0..9"):
            capsules.capsnet_targets(images, np.array(labels))
    with pytest.raises(TypeError, match="labels must hold integer labels"):
        capsules.capsnet_targets(images, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must be class labels in 0..9"):
        data.two_digit_multilabel(zeros(3, 28, 28), np.array([0, 1, 12]), n=4, seed=0)


def test_margin_loss_in_a_compiled_loss_checks_static_shapes_only():
    import tensorflow as tf

    traced = tf.function(capsules.margin_loss)
    spec = tf.TensorSpec((None, 10), tf.float32)
    assert traced.get_concrete_function(spec, spec) is not None
    with pytest.raises(ValueError, match="y_true must have the shape of lengths"):
        traced.get_concrete_function(tf.TensorSpec((None, 9)), spec)


def test_shift_wants_whole_pixels():
    with pytest.raises(TypeError, match="dx must be an integer, got 1.5"):
        convnets.shift(zeros(2, 5, 5), 1.5, 0)
    with pytest.raises(TypeError, match="dy must be an integer"):
        convnets.shift(zeros(2, 5, 5), 1, 0.5)


def test_split_and_standardize_name_a_missing_or_mismatched_part():
    with pytest.raises(TypeError, match="x must be a sequence, got None"):
        data.split(None, None)
    with pytest.raises(TypeError, match="train must be an array, got None"):
        data.standardize(None)
    with pytest.raises(
        ValueError, match=r"others\[0\] must have train's features \(3,\)"
    ):
        data.standardize(zeros(4, 3), zeros(2, 2))
    with pytest.raises(ValueError, match="train must hold finite numbers"):
        data.standardize(np.array([[1.0], [np.nan]]))


def test_valid_input_gives_the_same_results_as_before():
    """The checks only read: a few results computed by hand, through the new checks."""
    assert dqn.epsilon(250, 1000, 0.5, 0.1) == pytest.approx(0.55)
    y = dqn.td_targets(
        np.ones(2), np.array([0.0, 1.0]), np.array([[1.0, 3.0], [2.0, 0.0]])
    )
    np.testing.assert_allclose(y, [1 + 0.99 * 3, 1.0])
    moved = convnets.shift(np.arange(9.0).reshape(1, 3, 3), np.int64(1), 0)
    np.testing.assert_array_equal(moved[0], [[0, 0, 1], [0, 3, 4], [0, 6, 7]])
    train, other = data.standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    np.testing.assert_allclose(train.ravel(), [-1, 1])
    np.testing.assert_allclose(other.ravel(), [3])
    assert vision.as_uint8(np.array([[0.0, 1.0]])).tolist() == [[0, 255]]
    assert last_layer.binary_accuracy(np.array([1, 0]), np.array([[0.9], [0.6]])) == 0.5


# --- the sweep --------------------------------------------------------------------------


def _image_desc():
    return np.array([list("SFFF"), list("FHFH"), list("FFFH"), list("HFFG")])


SWEEP = {
    # architectures
    "architectures.waveform_conv1d": (
        lambda: architectures.waveform_conv1d(0, 3),
        "length",
    ),
    "architectures.waveform_gru": (
        lambda: architectures.waveform_gru(64, 3, frame=0),
        "frame",
    ),
    "architectures.symbol_model": (
        lambda: architectures.symbol_model("GRU", 0, 5),
        "length",
    ),
    "architectures.video_conv3d": (
        lambda: architectures.video_conv3d(0, 28, 4),
        "frames",
    ),
    "architectures.video_frames_gru": (
        lambda: architectures.video_frames_gru(8, 0, 4),
        "size",
    ),
    "architectures.single_frame": (lambda: architectures.single_frame(0, 4), "size"),
    "architectures.volume_conv3d": (lambda: architectures.volume_conv3d(-1, 4), "size"),
    "architectures.image_conv2d": (
        lambda: architectures.image_conv2d(8, 0),
        "n_classes",
    ),
    "architectures.run": (lambda: architectures.run(softmax_model, None), "splits"),
    "architectures.runs_table": (lambda: architectures.runs_table(None), "runs"),
    # attention
    "attention.head_size": (lambda: attention.head_size(64, 0), "heads"),
    "attention.padding_mask": (lambda: attention.padding_mask(None), "ids"),
    "attention.positional_encoding": (
        lambda: attention.positional_encoding(4, 3),
        "depth",
    ),
    "attention.draw_attention": (
        lambda: attention.draw_attention(None, zeros(3, 2), "ab", "abc"),
        "weights",
    ),
    # capsules
    "capsules.squash": (lambda: capsules.squash(None), "s must"),
    "capsules.margin_loss": (
        lambda: capsules.margin_loss(zeros(2, 10), zeros(2, 9)),
        "y_true",
    ),
    "capsules.capsnet": (lambda: capsules.capsnet(classes=0), "classes"),
    "capsules.fit_capsnet": (
        lambda: capsules.fit_capsnet(
            None, (zeros(3, 28, 28, 1), np.zeros(3, int)), None, 1
        ),
        "test",
    ),
    "capsules.capsnet_targets": (
        lambda: capsules.capsnet_targets(zeros(3, 28, 28, 1), np.array([0, 1, 10])),
        "labels",
    ),
    "capsules.perturbations": (
        lambda: capsules.perturbations(None, zeros(2, 16), 0, [0.0], [0]),
        "capsule",
    ),
    "capsules.random_shifts": (
        lambda: capsules.random_shifts(zeros(3, 28, 28)),
        "images",
    ),
    "capsules.affine": (lambda: capsules.affine(zeros(3, 28, 28)), "images"),
    "capsules.transformed_digits": (
        lambda: capsules.transformed_digits(zeros(3, 28, 28)),
        "x must",
    ),
    "capsules.transformed_accuracy": (
        lambda: capsules.transformed_accuracy({"a": len}, zeros(3, 28, 28, 1), [1]),
        "x and y",
    ),
    # convnet_internals
    "convnet_internals.conv_activations": (
        lambda: convnet_internals.conv_activations(convnet(), zeros(28, 28)),
        "image",
    ),
    "convnet_internals.occlusion_map": (
        lambda: convnet_internals.occlusion_map(convnet(), zeros(28, 28, 1), label=10),
        "label",
    ),
    "convnet_internals.grad_cam": (
        lambda: convnet_internals.grad_cam(convnet(), zeros(28, 28, 1), class_index=-1),
        "class_index",
    ),
    "convnet_internals.saliency_map": (
        lambda: convnet_internals.saliency_map(
            convnet(), zeros(28, 28, 1), class_index=10
        ),
        "class_index",
    ),
    "convnet_internals.randomised_copy": (
        lambda: convnet_internals.randomised_copy(convnet(), ["conv9"], seed=0),
        "layers",
    ),
    "convnet_internals.rank_correlation": (
        lambda: convnet_internals.rank_correlation(zeros(3, 3), zeros(2, 2)),
        "a and b",
    ),
    # convnets
    "convnets.conv_output_size": (lambda: convnets.conv_output_size(0, 3), "size"),
    "convnets.keras_output_size": (lambda: convnets.keras_output_size(28, 0), "kernel"),
    "convnets.output_size_table": (lambda: convnets.output_size_table(size=0), "size"),
    "convnets.cross_correlate": (
        lambda: convnets.cross_correlate(zeros(5), zeros(3, 3)),
        "image",
    ),
    "convnets.max_pool": (lambda: convnets.max_pool(zeros(5)), "image"),
    "convnets.draw_convolution_step": (
        lambda: convnets.draw_convolution_step(None, zeros(5, 5), np.ones((3, 3)), 9),
        "step",
    ),
    "convnets.convolution_animation": (
        lambda: convnets.convolution_animation(zeros(5), np.ones((3, 3))),
        "image",
    ),
    "convnets.mnist_convnet": (lambda: convnets.mnist_convnet(classes=0), "classes"),
    "convnets.mnist_dense": (lambda: convnets.mnist_dense(hidden=0), "hidden"),
    "convnets.shift": (lambda: convnets.shift(zeros(2, 5, 5), 1.5, 0), "dx"),
    "convnets.shift_accuracy": (
        lambda: convnets.shift_accuracy(None, zeros(2, 28, 28, 1), [0, 1], -1),
        "max_shift",
    ),
    "convnets.trace_layer": (
        lambda: convnets.trace_layer(softmax_model(), "conv9"),
        "layer must be one of",
    ),
    "convnets.linear_probe": (
        lambda: convnets.linear_probe(None, None, 0),
        "train_size",
    ),
    "convnets.probe_predictions": (
        lambda: convnets.probe_predictions(None, None, grid=0),
        "grid",
    ),
    "convnets.pool_to_grid": (
        lambda: convnets.pool_to_grid(zeros(1, 3, 3, 2), 4),
        "grid",
    ),
    "convnets.filter_patterns": (
        lambda: convnets.filter_patterns(None, "conv1", [0], steps=0),
        "steps",
    ),
    "convnets.responsive_filters": (
        lambda: convnets.responsive_filters(None, "conv1", count=0),
        "count",
    ),
    # dqn
    "dqn.epsilon": (lambda: dqn.epsilon(-1, 100), "step"),
    "dqn.td_targets": (
        lambda: dqn.td_targets(zeros(3), zeros(3), zeros(3, 2), gamma=1.5),
        "gamma",
    ),
    "dqn.q_network": (lambda: dqn.q_network(0, 2), "n_inputs"),
    "dqn.transition": (
        lambda: dqn.transition(
            environments.make("CartPole-v1"), dqn.ReplayBuffer(4, (4,), 0), zeros(4), 5
        ),
        "action",
    ),
    "dqn.dqn_routine": (
        lambda: dqn.dqn_routine(
            {},
            0,
            "CartPole-v1",
            0,
            False,
            1e-3,
            0.99,
            8,
            8,
            0,
            8,
            1,
            1,
            10,
            0.5,
            0.1,
            1,
            1,
            False,
        ),
        "total_steps",
    ),
    "dqn.train_dqn": (lambda: dqn.train_dqn(seed=0, gamma=1.5), "gamma"),
    # encoding
    "encoding.vectorizer": (lambda: encoding.vectorizer(None), "train_texts"),
    "encoding.vocabulary_split": (lambda: encoding.vocabulary_split(None), "layer"),
    "encoding.bags_with_own_budgets": (
        lambda: encoding.bags_with_own_budgets(["a b"], words=0),
        "words",
    ),
    "encoding.encode": (lambda: encoding.encode(None, "one text"), "texts"),
    "encoding.one_hot_words": (lambda: encoding.one_hot_words(None, None), "text"),
    "encoding.pad_rows": (lambda: encoding.pad_rows(zeros(3, 2), 0), "count"),
    "encoding.one_hot_characters": (
        lambda: encoding.one_hot_characters(None, "ab"),
        "text",
    ),
    "encoding.hashed_words": (lambda: encoding.hashed_words(["a"], 0), "buckets"),
    "encoding.collision_rate": (lambda: encoding.collision_rate(None, 8), "vocabulary"),
    "encoding.size_and_sparsity": (
        lambda: encoding.size_and_sparsity("x", None),
        "matrix",
    ),
    "encoding.hashed_bag": (lambda: encoding.hashed_bag(None, 8), "texts"),
    # environments
    "environments.make": (lambda: environments.make(None), "name"),
    "environments.random_policy": (
        lambda: environments.random_policy(0, 0),
        "n_actions",
    ),
    "environments.episode_returns": (
        lambda: environments.episode_returns("CartPole-v1", len, 0, 0),
        "episodes",
    ),
    "environments.first_observations": (
        lambda: environments.first_observations("CartPole-v1", 0, 0),
        "episodes",
    ),
    "environments.frames": (
        lambda: environments.frames("CartPole-v1", len, 0, max_steps=0),
        "max_steps",
    ),
    # faces
    "faces.haar_faces": (
        lambda: faces.haar_faces(zeros(10, 10, dtype=np.uint8)),
        "rgb",
    ),
    "faces.mtcnn_faces": (lambda: faces.mtcnn_faces(zeros(10, 10)), "rgb"),
    "faces.face_scenes": (lambda: faces.face_scenes([], [], per_scene=0), "per_scene"),
    "faces.iou": (lambda: faces.iou((0, 0, -5, -5), (0, 0, 3, 3)), "a must"),
    "faces.match": (lambda: faces.match([], [], threshold=0), "threshold"),
    "faces.score_detector": (lambda: faces.score_detector(len, []), "scenes"),
    "faces.align": (lambda: faces.align(zeros(10, 10, 3), {}, size=0), "size"),
    "faces.rotate": (lambda: faces.rotate(None, 10), "rgb"),
    "faces.crop": (lambda: faces.crop(zeros(10, 10, 3), (20, 20, 5, 5)), "box"),
    "faces.represent": (lambda: faces.represent(zeros(2, 8, 8)), "faces"),
    # forecasting
    "forecasting.windows": (lambda: forecasting.windows(np.arange(10), 0), "lookback"),
    "forecasting.split_by_time": (
        lambda: forecasting.split_by_time(forecasting.windows(np.arange(20.0), 3), 0),
        "n_points",
    ),
    "forecasting.naive_forecast": (
        lambda: forecasting.naive_forecast(zeros(5)),
        "x must",
    ),
    "forecasting.forecaster": (lambda: forecasting.forecaster("dense", 0), "lookback"),
    "forecasting.fit_forecaster": (
        lambda: forecasting.fit_forecaster("dense", None, None, None),
        "train",
    ),
    "forecasting.seasonal_naive": (
        lambda: forecasting.seasonal_naive(np.arange(60.0), np.array([10]), period=52),
        "target_index",
    ),
    "forecasting.fit_linear_ar": (
        lambda: forecasting.fit_linear_ar(forecasting.windows(np.arange(20.0), 3), [4]),
        "lags",
    ),
    # functional
    "functional.flat_digits": (lambda: functional.flat_digits(None), "splits"),
    "functional.query_task": (
        lambda: functional.query_task(zeros(3, 28, 28, 1), [1, 2]),
        "images and labels",
    ),
    "functional.image_targets": (
        lambda: functional.image_targets(zeros(3, 28, 28), [1]),
        "images and labels",
    ),
    "functional.digit_pairs": (
        lambda: functional.digit_pairs(zeros(4, 28, 28), [0, 1, 0, 1], 0),
        "count",
    ),
    "functional.conv_features": (
        lambda: functional.conv_features(__import__("keras").Input((28, 28))),
        "image",
    ),
    "functional.query_model": (lambda: functional.query_model((28, 28)), "image_shape"),
    "functional.three_headed_model": (
        lambda: functional.three_headed_model((28, 0, 1)),
        "image_shape",
    ),
    "functional.embedder": (lambda: functional.embedder(dim=0), "dim"),
    "functional.siamese_model": (lambda: functional.siamese_model(None), "image_shape"),
    "functional.deep_stack": (lambda: functional.deep_stack(0), "blocks"),
    "functional.difference_model": (lambda: functional.difference_model(0), "width"),
    "functional.mlp_sequential": (lambda: functional.mlp_sequential(0), "width"),
    "functional.mlp_functional": (lambda: functional.mlp_functional(0), "width"),
    "functional.mlp_subclassed": (lambda: functional.mlp_subclassed(0), "width"),
    "functional.principal_plane": (
        lambda: functional.principal_plane(zeros(5)),
        "points",
    ),
    "functional.draw_model": (
        lambda: functional.draw_model(softmax_model(), width=0),
        "width",
    ),
    # generative
    "generative.kl_divergence": (
        lambda: generative.kl_divergence(zeros(2, 2), zeros(2, 3)),
        "z_mean and z_log_var",
    ),
    "generative.reconstruction_loss": (
        lambda: generative.reconstruction_loss(zeros(2, 28, 28, 1), zeros(2, 28, 28)),
        "x and x_hat",
    ),
    "generative.vae_encoder": (lambda: generative.vae_encoder(0), "latent_dim"),
    "generative.kl_per_dimension": (
        lambda: generative.kl_per_dimension(zeros(2, 2), zeros(2, 3)),
        "z_mean and z_log_var",
    ),
    "generative.latent_usage": (
        lambda: generative.latent_usage(None, zeros(2, 5)),
        "x must",
    ),
    "generative.knn_correct": (
        lambda: generative.knn_correct(zeros(3, 2), [0, 1], zeros(1, 2), [0]),
        "z_train and y_train",
    ),
    "generative.latent_plane": (lambda: generative.latent_plane(zeros(5)), "z must"),
    "generative.project": (
        lambda: generative.project(zeros(3, 2), (zeros(3), zeros(2, 3))),
        "plane must",
    ),
    "generative.vae_decoder": (lambda: generative.vae_decoder(0), "latent_dim"),
    "generative.vae": (lambda: generative.vae(latent_dim=0), "latent_dim"),
    "generative.encode": (lambda: generative.encode(None, zeros(2, 5)), "x must"),
    "generative.decode": (lambda: generative.decode(None, zeros(5)), "z must"),
    "generative.sample": (lambda: generative.sample(None, 0, 0), "n must"),
    "generative.reconstruct": (
        lambda: generative.reconstruct(None, zeros(2, 5)),
        "x must",
    ),
    "generative.latent_grid": (lambda: generative.latent_grid(None, size=0), "size"),
    "generative.dcgan_generator": (lambda: generative.dcgan_generator(0), "latent_dim"),
    "generative.dcgan_discriminator": (
        lambda: generative.dcgan_discriminator(dropout=1.5),
        "dropout",
    ),
    "generative.gan_models": (
        lambda: generative.gan_models(latent_dim=0),
        "latent_dim",
    ),
    "generative.gan_steps": (
        lambda: generative.gan_steps(None, None, learning_rate=0),
        "learning_rate",
    ),
    "generative.gan_routine": (
        lambda: generative.gan_routine(
            {"generator": None, "discriminator": None}, 0, zeros(2, 5), 1
        ),
        "x must",
    ),
    "generative.train_gan": (lambda: generative.train_gan(zeros(2, 5), 1), "x must"),
    "generative.discriminator_loss": (
        lambda: generative.discriminator_loss(zeros(2, 1), None),
        "fake_logits",
    ),
    "generative.generator_loss": (
        lambda: generative.generator_loss(None),
        "fake_logits",
    ),
    "generative.watched_samples": (
        lambda: generative.watched_samples({"history": {}}, 1),
        "record",
    ),
    "generative.vaegan_models": (
        lambda: generative.vaegan_models(latent_dim=0),
        "latent_dim",
    ),
    "generative.vaegan_steps": (
        lambda: generative.vaegan_steps(None, None, None, learning_rate=-1),
        "learning_rate",
    ),
    "generative.vaegan_routine": (
        lambda: generative.vaegan_routine(
            {"encoder": None, "decoder": None, "discriminator": None}, 0, zeros(2, 5), 1
        ),
        "x must",
    ),
    "generative.train_vaegan": (
        lambda: generative.train_vaegan(zeros(2, 5), 1),
        "x must",
    ),
    "generative.slant": (lambda: generative.slant(-np.ones((1, 5, 5))), "images"),
    "generative.thickness": (lambda: generative.thickness(zeros(5)), "images"),
    "generative.attribute_direction": (
        lambda: generative.attribute_direction(zeros(3, 2), zeros(2)),
        "z must",
    ),
    "generative.interpolate": (
        lambda: generative.interpolate(None, zeros(1, 2), zeros(1, 2), steps=1),
        "steps",
    ),
    "generative.interpolation_smoothness": (
        lambda: generative.interpolation_smoothness(zeros(2, 3, 4), zeros(2, 3)),
        "paths",
    ),
    # last_layer
    "last_layer.binary_accuracy": (
        lambda: last_layer.binary_accuracy(zeros(64), [0.7]),
        "y_prob",
    ),
    "last_layer.categorical_accuracy": (
        lambda: last_layer.categorical_accuracy(np.eye(3), np.ones((1, 3))),
        "y_prob",
    ),
    "last_layer.exact_match": (
        lambda: last_layer.exact_match(np.ones((3, 2)), np.ones((3, 3))),
        "y_prob",
    ),
    "last_layer.mean_absolute_error": (
        lambda: last_layer.mean_absolute_error(zeros(3), zeros(1)),
        "y_pred",
    ),
    "last_layer.prepare_task": (lambda: last_layer.prepare_task("nope"), "task"),
    "last_layer.train_and_score": (
        lambda: last_layer.train_and_score(None, "sigmoid", "mse", epochs=0),
        "epochs",
    ),
    "last_layer.naive_softmax": (lambda: last_layer.naive_softmax("z"), "logits"),
    "last_layer.log_sum_exp": (
        lambda: last_layer.log_sum_exp(zeros(2, 2, 2)),
        "logits",
    ),
    "last_layer.stable_softmax": (
        lambda: last_layer.stable_softmax([np.inf, 0.0]),
        "logits",
    ),
    "last_layer.crossentropy_gradient": (
        lambda: last_layer.crossentropy_gradient(zeros(2, 3), zeros(2, 4)),
        "targets",
    ),
    "last_layer.labels_per_image": (
        lambda: last_layer.labels_per_image(zeros(3)),
        "y_prob",
    ),
    "last_layer.results_table": (
        lambda: last_layer.results_table([1], {}, []),
        "rows and outcomes",
    ),
    "last_layer.plot_learning_curves": (
        lambda: last_layer.plot_learning_curves([], [], ncols=0),
        "ncols",
    ),
    # layers
    "layers.check_mask": (
        lambda: layers.check_mask(np.ones((5, 7)), 5, 7),
        "attention_mask",
    ),
    "layers.scaled_dot_product_attention": (
        lambda: layers.scaled_dot_product_attention(
            zeros(2, 5, 3, 4), zeros(2, 6, 3, 5), zeros(2, 6, 3, 4)
        ),
        "query and key",
    ),
    "layers.causal_mask": (lambda: layers.causal_mask(0), "length"),
    # models
    "models.dense_network": (lambda: models.dense_network(0, 1, None), "n_inputs"),
    # qlearning
    "qlearning.q_table_model": (lambda: qlearning.q_table_model(0, 4), "n_states"),
    "qlearning.q_update": (
        lambda: qlearning.q_update(zeros(2, 2), 0, 0, 1.0, 1, False, 1.5, 0.9),
        "alpha",
    ),
    "qlearning.q_learning_routine": (
        lambda: qlearning.q_learning_routine(
            None, 0, "FrozenLake-v1", 0, 0.1, 0.9, 0.05, {}
        ),
        "episodes",
    ),
    "qlearning.train_q_table": (
        lambda: qlearning.train_q_table(seed=0, alpha=0),
        "alpha",
    ),
    "qlearning.draw_q_table": (
        lambda: qlearning.draw_q_table(None, zeros(4, 4), _image_desc()),
        "table",
    ),
    # recurrent
    "recurrent.rnn_params": (lambda: recurrent.rnn_params("LSTM", 0, 1), "units"),
    "recurrent.keras_rnn_params": (
        lambda: recurrent.keras_rnn_params("LSTM", 4, 0),
        "input_dim",
    ),
    "recurrent.param_table": (lambda: recurrent.param_table(units=0), "units"),
    "recurrent.recurrent_model": (
        lambda: recurrent.recurrent_model("LSTM", 4, (10, 1), 0),
        "n_outputs",
    ),
    "recurrent.input_gradient_norms": (
        lambda: recurrent.input_gradient_norms(None, zeros(4, 10, 1), zeros(3), "mse"),
        "x and y",
    ),
    "recurrent.gradient_profiles": (
        lambda: recurrent.gradient_profiles(None, zeros(4, 10, 1), zeros(4)),
        "models",
    ),
    "recurrent.early_to_last": (
        lambda: recurrent.early_to_last(
            __import__("pandas").DataFrame({"a": [1.0]}), 0
        ),
        "share",
    ),
    "recurrent.as_power": (lambda: recurrent.as_power(float("nan")), "ratio"),
    "recurrent.plot_gradient_profiles": (
        lambda: recurrent.plot_gradient_profiles({}),
        "panels",
    ),
    "recurrent.adding_problem": (lambda: recurrent.adding_problem(0, 10), "n must"),
    "recurrent.memory_experiment": (
        lambda: recurrent.memory_experiment([1]),
        "lengths",
    ),
    "recurrent.draw_unrolled": (lambda: recurrent.draw_unrolled(0), "steps"),
    # sample_quality
    "sample_quality.class_histogram": (
        lambda: sample_quality.class_histogram(zeros(10)),
        "probabilities",
    ),
    "sample_quality.distance_to_uniform": (
        lambda: sample_quality.distance_to_uniform([]),
        "histogram",
    ),
    "frechet.frechet_distance": (
        lambda: frechet.frechet_distance(zeros(5), zeros(5)),
        "features_a",
    ),
    "sample_quality.sharpness": (
        lambda: sample_quality.sharpness(zeros(2, 5)),
        "images",
    ),
    "sample_quality.score": (
        lambda: sample_quality.score(zeros(2, 5), None, None),
        "images",
    ),
    # separable
    "separable.conv2d_params": (lambda: separable.conv2d_params(0, 1, 1), "kernel"),
    "separable.separable_params": (
        lambda: separable.separable_params(3, 1, 1, depth_multiplier=0),
        "depth_multiplier",
    ),
    "separable.conv2d_mult_adds": (
        lambda: separable.conv2d_mult_adds(0, 1, 3, 1, 1),
        "out_h",
    ),
    "separable.separable_mult_adds": (
        lambda: separable.separable_mult_adds(1, 0, 3, 1, 1),
        "out_w",
    ),
    "separable.mobilenet_style_convnet": (
        lambda: separable.mobilenet_style_convnet(width=0),
        "width",
    ),
    "separable.draw_decomposition": (
        lambda: separable.draw_decomposition(c_in=9),
        "c_in",
    ),
    "separable.median_latency": (
        lambda: separable.median_latency(None, zeros(1, 2), repeats=0),
        "repeats",
    ),
    "separable.layer_speed_sweep": (
        lambda: separable.layer_speed_sweep(size=0),
        "size",
    ),
    # seq2seq
    "seq2seq.encode": (lambda: seq2seq.encode(["1+1"], ["2"], 0, 5), "source_length"),
    "seq2seq.decode_text": (lambda: seq2seq.decode_text([3, 99]), "tokens"),
    "seq2seq.transformer": (lambda: seq2seq.transformer(d_model=64, heads=3), "heads"),
    "seq2seq.lstm": (lambda: seq2seq.lstm(units=0), "units"),
    "seq2seq.train": (
        lambda: seq2seq.train(softmax_model(), (zeros(2, 3),), None, 1),
        "train_part",
    ),
    "seq2seq.greedy_decoder": (
        lambda: seq2seq.greedy_decoder(None, 0),
        "target_length",
    ),
    "seq2seq.exact_match": (
        lambda: seq2seq.exact_match(None, ["1+1"], ["2", "3"], 9),
        "answers",
    ),
    "seq2seq.leak": (lambda: seq2seq.leak(None, {"source": zeros(1, 9)}), "inputs"),
    "seq2seq.decoder_only": (lambda: seq2seq.decoder_only(length=0), "length"),
    "seq2seq.future_influence": (
        lambda: seq2seq.future_influence(None, [[1, 99]]),
        "tokens",
    ),
    "seq2seq.warmup_schedule": (lambda: seq2seq.warmup_schedule([0, 1]), "steps"),
    "seq2seq.attention_probe": (
        lambda: seq2seq.attention_probe(softmax_model(), "decoder_0_cross"),
        "layer",
    ),
    # style_transfer
    "style_transfer.check_image": (
        lambda: style_transfer.check_image("content", zeros(4, 4, 3)),
        "content",
    ),
    "style_transfer.gram_matrix": (
        lambda: style_transfer.gram_matrix(zeros(4, 4)),
        "features",
    ),
    "style_transfer.soften": (lambda: style_transfer.soften(None), "features"),
    "style_transfer.content_loss": (
        lambda: style_transfer.content_loss(zeros(1, 4, 4, 2), zeros(1, 4, 4, 3)),
        "features and target",
    ),
    "style_transfer.style_loss": (
        lambda: style_transfer.style_loss([zeros(2, 2)], []),
        "grams and target_grams",
    ),
    "style_transfer.total_variation": (
        lambda: style_transfer.total_variation(zeros(4, 4)),
        "image",
    ),
    "style_transfer.activation_entropy": (
        lambda: style_transfer.activation_entropy(None),
        "features",
    ),
    "style_transfer.colour_distance": (
        lambda: style_transfer.colour_distance(zeros(16, 16, 3), None),
        "reference",
    ),
    "style_transfer.texture_energies": (
        lambda: style_transfer.texture_energies(zeros(8, 8, 3)),
        "image",
    ),
    "style_transfer.texture_distance": (
        lambda: style_transfer.texture_distance(zeros(16, 16, 3), zeros(16, 16)),
        "reference",
    ),
    "style_transfer.edge_correlation": (
        lambda: style_transfer.edge_correlation(zeros(16, 16, 3), zeros(16, 8, 3)),
        "photo",
    ),
    "style_transfer.tiles": (
        lambda: style_transfer.tiles(zeros(16, 16, 3), 0),
        "count",
    ),
    "style_transfer.style_progress": (
        lambda: style_transfer.style_progress(
            zeros(64, 64, 3), zeros(64, 64, 3), zeros(64, 64)
        ),
        "painting",
    ),
    "style_transfer.vgg_like": (lambda: style_transfer.vgg_like(0), "size"),
    "style_transfer.feature_network": (
        lambda: style_transfer.feature_network("nope", 32),
        "network",
    ),
    "style_transfer.pixel_model": (lambda: style_transfer.pixel_model(0, 5), "height"),
    "style_transfer.style_routine": (
        lambda: style_transfer.style_routine({}, 0, zeros(4, 4, 3), zeros(4, 4, 3)),
        "content",
    ),
    "style_transfer.stylise": (
        lambda: style_transfer.stylise(zeros(4, 4, 3), None),
        "content",
    ),
    "style_transfer.style_distance": (
        lambda: style_transfer.style_distance(zeros(4, 4, 3), None, "vgg_random"),
        "image",
    ),
    "style_transfer.network_entropy": (
        lambda: style_transfer.network_entropy(zeros(4, 4, 3), "vgg_random"),
        "image",
    ),
    "style_transfer.square": (
        lambda: style_transfer.square(zeros(16, 16, 3), 0),
        "size",
    ),
    # text
    "text.word_indices": (lambda: text.word_indices(None), "train_texts"),
    "text.encode_for": (lambda: text.encode_for("nope", ["a"]), "kind"),
    "text.text_classifier": (lambda: text.text_classifier("LSTM", 0, 10), "vocab_size"),
    "text.fit_text_classifier": (
        lambda: text.fit_text_classifier("LSTM", None, None, None, 10),
        "train",
    ),
    "text.compare_text_classifiers": (
        lambda: text.compare_text_classifiers(["LSTM"], None, None, None, 10, seeds=()),
        "seeds",
    ),
    "series_direction.rise_windows": (
        lambda: series_direction.rise_windows(np.arange(50.0), 0, 1),
        "lookback",
    ),
    "series_direction.direction_classifier": (
        lambda: series_direction.direction_classifier("LSTM", 10),
        "kind",
    ),
    "series_direction.fit_direction": (
        lambda: series_direction.fit_direction("GRU", None, None, None),
        "train",
    ),
    "text.multi_width_conv1d": (
        lambda: text.multi_width_conv1d(None, length=0),
        "length",
    ),
    "text.real_or_shuffled": (lambda: text.real_or_shuffled("hello world"), "texts"),
    "text.compare_inputs": (lambda: text.compare_inputs(["LSTM"], None), "parts"),
    "text.compact_ids": (lambda: text.compact_ids(np.array([-1, 2])), "parts"),
    "text.embedding_learning_curve": (
        lambda: text.embedding_learning_curve(None, None, None, zeros(5), [1]),
        "matrix",
    ),
    # textgen
    "textgen.check_temperature": (lambda: textgen.check_temperature(0), "temperature"),
    "textgen.vocabulary": (lambda: textgen.vocabulary(""), "text"),
    "textgen.split_by_position": (
        lambda: textgen.split_by_position("abc", 1.5),
        "val_share",
    ),
    "textgen.next_char_windows": (
        lambda: textgen.next_char_windows(np.arange(10), 0),
        "length",
    ),
    "textgen.char_model": (lambda: textgen.char_model(0), "vocab_size"),
    "textgen.temperature_probabilities": (
        lambda: textgen.temperature_probabilities(zeros(3), -1),
        "temperature",
    ),
    "textgen.generate": (
        lambda: textgen.generate(None, textgen.Vocabulary("ab"), "", [1.0], 5),
        "prompt",
    ),
    "textgen.samples_by_temperature": (
        lambda: textgen.samples_by_temperature(
            None, textgen.Vocabulary("ab"), "a", [1.0], 5, 0
        ),
        "per_temperature",
    ),
    "textgen.staged_training": (
        lambda: textgen.staged_training(
            None, 0, None, None, [], 32, 1e-2, 1.0, "ab", "a", [1.0], 5
        ),
        "stages",
    ),
    "textgen.train_char_model": (
        lambda: textgen.train_char_model(
            None, None, None, textgen.Vocabulary("ab"), "a", (0,)
        ),
        "stages",
    ),
    "textgen.nats_with_context": (
        lambda: textgen.nats_with_context(None, np.arange(10), 1),
        "length",
    ),
    "textgen.context_positions": (
        lambda: textgen.context_positions(10, 1),
        "length",
    ),
    "textgen.stage_rates": (
        lambda: textgen.stage_rates((1e-2, -1.0), 2),
        "learning_rate",
    ),
    "textgen.ngram_baselines": (
        lambda: textgen.ngram_baselines("abc", "ab", (0,)),
        "orders",
    ),
    "textgen.real_word_share": (lambda: textgen.real_word_share(None, set()), "text"),
    "textgen.sample_measures": (
        lambda: textgen.sample_measures(None, set()),
        "samples",
    ),
    "textgen.repetition": (lambda: textgen.repetition("a b c", 0), "n must"),
    # transfer
    "transfer.grey_to_rgb": (lambda: transfer.grey_to_rgb(zeros(2, 5, 5, 1)), "images"),
    "transfer.few_label_split": (
        lambda: transfer.few_label_split([0, 1], 0, 1, 0),
        "per_class",
    ),
    "transfer.split_at_block": (lambda: transfer.split_at_block(None, ""), "block"),
    "transfer.repeated_batches": (
        lambda: transfer.repeated_batches(0, 1, 1, 0),
        "n must",
    ),
    "transfer.fit_steps": (
        lambda: transfer.fit_steps(None, zeros(3, 2), zeros(2), 1),
        "x and y",
    ),
    "transfer.softmax_head": (lambda: transfer.softmax_head(4, 1), "classes"),
    "transfer.scores": (
        lambda: transfer.scores(softmax_model(), zeros(4, 3), [0, 1]),
        "y must",
    ),
    "transfer.logistic_method": (
        lambda: transfer.logistic_method(zeros(3, 2), zeros(2)),
        "features and labels",
    ),
    "transfer.scratch_method": (
        lambda: transfer.scratch_method(None, zeros(3, 2), zeros(2)),
        "inputs and labels",
    ),
    "transfer.learning_curve": (
        lambda: transfer.learning_curve({}, [0], [1], [0], 1),
        "methods",
    ),
    "transfer.curve_table": (lambda: transfer.curve_table(None), "runs"),
    "transfer.gain": (lambda: transfer.gain(None, "a", "b"), "runs"),
    "transfer.outcomes": (lambda: transfer.outcomes(None, "a", 1), "runs"),
    "transfer.compare_methods": (
        lambda: transfer.compare_methods(None, "a", "b", 1),
        "runs",
    ),
    "transfer.split_gains": (lambda: transfer.split_gains(None, "a", "b", 1), "runs"),
    "transfer.plot_learning_curves": (
        lambda: transfer.plot_learning_curves(None, None, classes=0),
        "classes",
    ),
    "transfer.largest_shift": (
        lambda: transfer.largest_shift({}, {}),
        "before and after",
    ),
    "transfer.unfreeze_batchnorm": (
        lambda: transfer.unfreeze_batchnorm(None, ""),
        "block_prefix",
    ),
    "transfer.convnet_base": (
        lambda: transfer.convnet_base(softmax_model(), "nope"),
        "last",
    ),
    "transfer.bag_of_words_method": (
        lambda: transfer.bag_of_words_method(["a", "b"], [1]),
        "texts and labels",
    ),
    # video
    "video.cartpole_clip": (
        lambda: video.cartpole_clip("unused.avi", steps=0),
        "steps",
    ),
    "video.read_clip": (lambda: video.read_clip(None), "path"),
    "video.moving_object": (
        lambda: video.moving_object([zeros(4, 4, 3, dtype=np.uint8)], history=0),
        "history",
    ),
    "video.flow_speeds": (lambda: video.flow_speeds([]), "frames"),
    "video.frames_per_second": (lambda: video.frames_per_second(len, []), "frames"),
    # vision
    "vision.as_uint8": (lambda: vision.as_uint8(np.full((4, 4), np.nan)), "image"),
    "vision.to_opencv": (lambda: vision.to_opencv(None), "rgb"),
    "vision.from_opencv": (lambda: vision.from_opencv(zeros(4, 4, 4)), "bgr"),
    "vision.colour_spaces": (
        lambda: vision.colour_spaces(zeros(5, 5, dtype=np.uint8)),
        "bgr",
    ),
    "vision.blurs": (lambda: vision.blurs(zeros(5, 5, dtype=np.uint8), size=4), "size"),
    "vision.thresholds": (
        lambda: vision.thresholds(zeros(5, 5, dtype=np.uint8), level=300),
        "level",
    ),
    "vision.contour_table": (
        lambda: vision.contour_table(zeros(4, 4, 3, dtype=np.uint8)),
        "binary",
    ),
    "vision.draw_contours": (
        lambda: vision.draw_contours(zeros(4, 4, 3, dtype=np.uint8), [], count=-1),
        "count",
    ),
    "vision.morphology": (
        lambda: vision.morphology(zeros(5, 5, dtype=np.uint8), size=0),
        "size",
    ),
    "vision.geometric": (lambda: vision.geometric(None), "bgr"),
    "vision.equalise": (
        lambda: vision.equalise(zeros(5, 5, 3, dtype=np.uint8)),
        "grey",
    ),
    "vision.find_template": (
        lambda: vision.find_template(zeros(5, 5, dtype=np.uint8), None),
        "template",
    ),
    "vision.hog_features": (lambda: vision.hog_features(zeros(2, 5, 5)), "images"),
    # word2vec
    "word2vec.skipgram_examples": (
        lambda: word2vec.skipgram_examples(
            [np.array([0, 1])], np.array([1, 1]), 0, 1, np.random.default_rng(0)
        ),
        "window",
    ),
    "word2vec.skipgram_model": (lambda: word2vec.skipgram_model(0, 8), "vocab_size"),
    "word2vec.skipgram_epochs": (
        lambda: word2vec.skipgram_epochs(None, 0, [], np.ones(2), 1, 1, 0, 8, 0.01),
        "epochs",
    ),
    "word2vec.train_word2vec": (lambda: word2vec.train_word2vec(None), "sentences"),
    # word_embeddings
    "word_embeddings.analogy_accuracy": (
        lambda: word_embeddings.analogy_accuracy(None, []),
        "space",
    ),
    "word_embeddings.analogy_rank": (
        lambda: word_embeddings.analogy_rank(None, None),
        "space",
    ),
    "word_embeddings.analogy_outcomes": (
        lambda: word_embeddings.analogy_outcomes(None, []),
        "space",
    ),
    "word_embeddings.plot_map": (
        lambda: word_embeddings.plot_map(None, ["a"]),
        "space",
    ),
}

#: Public functions of the chapter modules the sweep leaves out, and why.
NOT_SWEPT = {
    "architectures.frame_features": "takes no argument",
    "vision.opencv": "takes no argument",
    "textgen.char_loss": "takes no argument",
    "capsules.layer_costs": "takes a model only",
    "separable.layer_costs": "takes a model only",
    "convnets.receptive_field": "takes a model only",
    "convnets.conv_layer_names": "takes a model only",
    "dqn.greedy_policy": "takes a model only",
    "functional.layer_graph": "takes a model only",
    "generative.latent_dim_of": "takes a model only",
    "sample_quality.feature_model": "takes a model only",
    "transfer.reinitialise": "takes two models only",
    "transfer.with_head": "takes two models only",
    "transfer.batchnorm_state": "takes a model only",
}


@pytest.mark.parametrize(("call", "names"), list(SWEEP.values()), ids=list(SWEEP))
def test_bad_input_gets_an_error_naming_the_argument(call, names):
    with pytest.raises(BAD, match=names):
        call()


def _public_functions() -> set[str]:
    root = Path(importlib.import_module("dlbook").__file__).parent
    names = set()
    for path in root.glob("*.py"):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        names |= {
            f"{path.stem}.{node.name}"
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
        }
    return names


def test_every_public_function_is_swept_or_listed():
    public = _public_functions()
    assert not set(SWEEP) & set(NOT_SWEPT)
    assert set(SWEEP) | set(NOT_SWEPT) == public, {
        "neither swept nor listed": sorted(public - set(SWEEP) - set(NOT_SWEPT)),
        "not public functions": sorted((set(SWEEP) | set(NOT_SWEPT)) - public),
    }
