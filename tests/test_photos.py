"""Figures of photographs become JPEGs on white (dlbook_site.photos)."""

import numpy as np
import pytest
from PIL import Image

from dlbook_site import photos


def test_to_jpeg_lays_transparency_on_white_and_is_deterministic(tmp_path):
    rgba = np.zeros((16, 32, 4), np.uint8)
    rgba[:, :16] = (200, 30, 30, 255)  # opaque red on the left, transparent right
    Image.fromarray(rgba).save(tmp_path / "figure.png")
    first = photos.to_jpeg(tmp_path / "figure.png", tmp_path / "a.jpg")
    second = photos.to_jpeg(tmp_path / "figure.png", tmp_path / "b.jpg")
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        pixels = np.asarray(image).astype(int)
    assert (pixels[:, 24:] > 245).all()  # transparent became white, not black
    assert abs(pixels[8, 4] - (200, 30, 30)).max() < 12


def test_quality_out_of_range_is_named(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "x.png")
    with pytest.raises(ValueError, match="quality"):
        photos.to_jpeg(tmp_path / "x.png", tmp_path / "x.jpg", quality=0)
