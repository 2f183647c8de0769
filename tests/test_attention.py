"""dlbook.attention: padding masks, positional encodings, head sizes, drawings."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import attention


def test_padding_mask_blocks_padding_keys_for_every_query():
    mask = np.asarray(attention.padding_mask(np.array([[5, 3, 0, 0], [1, 2, 3, 0]])))
    assert mask.shape == (2, 1, 4)
    np.testing.assert_array_equal(mask[:, 0], [[1, 1, 0, 0], [1, 1, 1, 0]])


def test_positional_encoding_is_vaswanis_sinusoids():
    encoding = attention.positional_encoding(50, 16)
    assert encoding.shape == (50, 16) and encoding.dtype == np.float32
    np.testing.assert_allclose(encoding[0, 0::2], 0, atol=1e-7)
    np.testing.assert_allclose(encoding[0, 1::2], 1, atol=1e-7)
    np.testing.assert_allclose(encoding[7, 4], np.sin(7 / 10000 ** (4 / 16)), rtol=1e-6)
    np.testing.assert_allclose(encoding[7, 5], np.cos(7 / 10000 ** (4 / 16)), rtol=1e-6)
    # each sine-cosine pair has length 1: the positions differ by angle only
    np.testing.assert_allclose(
        encoding[:, 0::2] ** 2 + encoding[:, 1::2] ** 2, 1, atol=1e-6
    )
    assert len({tuple(row) for row in encoding.round(4)}) == 50
    with pytest.raises(ValueError, match="depth must be even"):
        attention.positional_encoding(4, 5)


def test_bad_arguments_are_rejected_clearly():
    with pytest.raises(ValueError, match="heads .3. must divide d_model .64."):
        attention.head_size(64, 3)
    with pytest.raises(ValueError, match=r"weights must have shape \(2, 3\)"):
        attention.draw_attention(None, np.zeros((3, 2)), "ab", "abc")
