"""Tests of dlbook.style_transfer: the Gram matrix and total variation on cases worked
by hand, the pixel optimisation lowering its loss (and repeating itself exactly), and
bad images rejected with an error naming the argument."""

import numpy as np
import pytest

from dlbook import style_transfer as st


def test_gram_matrix_by_hand():
    # two positions, two channels: f = [[1, 2], [3, 4]] -> f^T f / 2
    features = np.array([[[1.0, 2.0], [3.0, 4.0]]], np.float32)  # (1, 2, 2)
    expected = np.array([[10.0, 14.0], [14.0, 20.0]]) / 2
    np.testing.assert_allclose(st.gram_matrix(features).numpy(), expected)
    np.testing.assert_allclose(st.gram_matrix(features[None]).numpy(), expected)


def test_total_variation_known_images():
    flat = np.full((4, 4, 3), 0.5, np.float32)
    assert float(st.total_variation(flat)) == 0.0
    # vertical stripes 0, 1, 0, 1: every right neighbour differs by 1, no down one
    stripes = np.tile(
        np.array([0.0, 1.0, 0.0, 1.0], np.float32)[None, :, None], (4, 1, 3)
    )
    assert float(st.total_variation(stripes)) == pytest.approx(1.0)


def test_soften_and_entropy():
    features = np.zeros((1, 4, 4, 2), np.float32)
    features[0, 0, 0, 0] = 50.0  # one peak in channel 0; channel 1 is flat
    soft = st.soften(features).numpy()
    np.testing.assert_allclose(soft.mean(axis=(0, 1, 2)), [1.0, 1.0], rtol=1e-5)
    peaky = st.activation_entropy(features[..., :1])
    spread = st.activation_entropy(np.ones((1, 4, 4, 1), np.float32))
    assert peaky == pytest.approx(0.0) and spread == pytest.approx(1.0)


def test_style_loss_zero_on_itself():
    grams = [st.gram_matrix(np.random.default_rng(0).random((1, 3, 3, 4)))]
    assert float(st.style_loss(grams, grams)) == 0.0


def _tiny_run():
    rng = np.random.default_rng(0)
    content = rng.random((16, 16, 3)).astype(np.float32)
    style = rng.random((16, 16, 3)).astype(np.float32)
    image, result = st.stylise(content, style, "vgg_random", steps=6, record_every=1)
    return image, result.record["history"]


def test_loss_decreases_and_repeats(no_store):
    image, history = _tiny_run()
    total = np.add(history["style_loss"], history["content_loss"])
    total = total + np.array(history["tv_loss"])
    assert total[-1] < total[0]
    assert image.shape == (16, 16, 3) and image.min() >= 0 and image.max() <= 1
    again, history_again = _tiny_run()
    np.testing.assert_array_equal(image, again)
    assert history == history_again


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("content", np.zeros((16, 16), np.float32)),
        ("content", np.zeros((16, 16, 4), np.float32)),
        ("content", np.zeros((16, 8, 3), np.float32)),
        ("content", np.full((16, 16, 3), 2.0, np.float32)),
        ("style", np.zeros((8, 8, 3), np.float32)),
    ],
)
def test_bad_images_rejected(argument, value, no_store):
    images = {
        "content": np.zeros((16, 16, 3), np.float32),
        "style": np.zeros((16, 16, 3), np.float32),
        argument: value,
    }
    with pytest.raises(ValueError, match=argument):
        st.stylise(images["content"], images["style"], "vgg_random", steps=1)


def test_bad_network_rejected():
    with pytest.raises(ValueError, match="network"):
        st.feature_network("resnet", 32)


def test_gram_matrix_shape_symmetric_and_positive():
    features = (
        np.random.default_rng(3).standard_normal((1, 5, 7, 12)).astype(np.float32)
    )
    gram = st.gram_matrix(features).numpy()
    assert gram.shape == (12, 12)
    np.testing.assert_allclose(gram, gram.T, rtol=1e-6)
    assert np.linalg.eigvalsh(gram.astype(np.float64)).min() > -1e-5


def test_style_distance_of_an_image_to_itself_is_zero():
    image = np.random.default_rng(4).random((16, 16, 3)).astype(np.float32)
    other = np.random.default_rng(5).random((16, 16, 3)).astype(np.float32)
    assert st.style_distance(image, image, "vgg_random") == 0.0
    assert st.style_distance(other, image, "vgg_random") > 0.0
