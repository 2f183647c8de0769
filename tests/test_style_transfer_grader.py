"""Tests of the style transfer page's independent grader (pixel statistics, no
network): colour and texture distances on images built by hand, the progress score
ranking a colour-matched photo between the photo and the painting, and bad input
rejected with an error naming the argument."""

import numpy as np
import pytest

from dlbook import style_transfer as st


def _photo(size=64):
    """A warm, smooth gradient with a dark disc: the stand-in for the photo."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([0.6 + 0.3 * x, 0.4 + 0.2 * y, 0.2 + 0.1 * x * y], -1)
    image[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.06] *= 0.3
    return image.astype(np.float32)


def _painting(size=64, seed=0):
    """A blue image with strong diagonal strokes: the stand-in for the painting."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    strokes = (
        0.5 + 0.4 * np.sin((x + y) / 2.0) + 0.05 * rng.standard_normal((size, size))
    )
    image = np.stack([0.1 * strokes, 0.2 * strokes, 0.4 + 0.5 * strokes], -1)
    return np.clip(image, 0, 1).astype(np.float32)


def _recolour(image, reference):
    """``image`` with each channel's mean and spread moved to ``reference``'s."""
    z = (image - image.mean((0, 1))) / (image.std((0, 1)) + 1e-6)
    out = z * reference.std((0, 1)) + reference.mean((0, 1))
    return np.clip(out, 0, 1).astype(np.float32)


def test_colour_distance_zero_on_itself_and_blind_to_layout():
    painting = _painting()
    assert st.colour_distance(painting, painting) == pytest.approx(0, abs=1e-9)
    shuffled = np.random.default_rng(1).permutation(painting.reshape(-1, 3))
    assert st.colour_distance(shuffled.reshape(painting.shape), painting) == (
        pytest.approx(0, abs=1e-9)
    )
    assert st.colour_distance(_photo(), painting) > 0.05


def test_texture_energies_see_orientation():
    # vertical stripes: all gradient energy is horizontal, in the first angle bin
    stripes = np.tile(
        (np.arange(64) % 4 < 2).astype(np.float32)[None, :, None], (64, 1, 3)
    )
    energies = st.texture_energies(stripes).reshape(len(st.SCALES), st.ORIENTATIONS)
    assert energies[0, 0] > 0 and np.allclose(energies[:, 1:], 0)
    assert st.texture_energies(np.full((64, 64, 3), 0.3, np.float32)).max() == 0


def test_texture_distance_prefers_the_paintings_strokes():
    painting = _painting()
    moved = np.roll(_painting(seed=1), 7, axis=1)  # same strokes, elsewhere
    assert st.texture_distance(moved, painting) < 0.5 * st.texture_distance(
        _photo(), painting
    )


def test_colour_matched_photo_ranks_between_photo_and_painting():
    photo, painting = _photo(), _painting()
    matched = _recolour(photo, painting)
    graded = st.style_progress(matched, photo, painting)
    assert graded["colour whole"] > 0.5 and graded["colour"].mean() > 0.5
    assert graded["edges kept"] > 0.9  # recolouring keeps every edge
    untouched = st.style_progress(photo, photo, painting)
    np.testing.assert_allclose(untouched["style"], 0, atol=1e-9)
    assert untouched["edges kept"] == pytest.approx(1)
    assert graded["colour"].shape == (16,)


def test_edges_of_an_unrelated_image_do_not_count_as_content():
    photo = _photo()
    noise = np.random.default_rng(2).random(photo.shape).astype(np.float32)
    assert abs(st.edge_correlation(noise, photo)) < 0.5
    assert st.edge_correlation(photo, photo) == pytest.approx(1)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda p, s: st.style_progress(p[:32], p, s), "photo"),
        (lambda p, s: st.style_progress(p, p, (s * 255).astype(np.uint8)), "painting"),
        (lambda p, s: st.style_progress(p, p, s[..., :2]), "painting"),
        (lambda p, s: st.style_progress(p, p, s, count=8), "count"),
        (lambda p, s: st.colour_distance(p, None), "reference"),
        (lambda p, s: st.texture_energies(p[:8, :8]), "image"),
        (lambda p, s: st.edge_correlation(p, p[:, :32]), "photo"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call(_photo(), _painting())
