import numpy as np
import pytest

from dlbook import architectures, data
from dlbook.data import generated


def test_tones_are_balanced_seeded_and_shaped():
    tones = generated.tone_waveforms(40, length=256, seed=3)
    assert tones.x.shape == (40, 256, 1) and tones.x.dtype == np.float32
    assert list(np.bincount(tones.y)) == [10, 10, 10, 10]
    np.testing.assert_array_equal(
        generated.tone_waveforms(40, length=256, seed=3).x, tones.x
    )
    assert not np.array_equal(
        generated.tone_waveforms(40, length=256, seed=4).x, tones.x
    )
    with pytest.raises(ValueError, match="length"):
        generated.tone_waveforms(4, length=0)


def test_order_sequences_hold_each_marker_once_and_the_label_is_their_order():
    seqs = generated.order_sequences(300, length=12, seed=1)
    assert seqs.x.shape == (300, 12) and list(np.bincount(seqs.y)) == [150, 150]
    assert np.all((seqs.x == 1).sum(axis=1) == 1) and np.all(
        (seqs.x == 2).sum(axis=1) == 1
    )
    a_first = np.argmax(seqs.x == 1, axis=1) < np.argmax(seqs.x == 2, axis=1)
    np.testing.assert_array_equal(a_first.astype(int), seqs.y)
    with pytest.raises(ValueError, match="n_symbols"):
        generated.order_sequences(4, n_symbols=3)


def _digits(n=20):
    return (np.random.default_rng(0).random((n, 28, 28)) * 255).astype(np.uint8)


def test_clips_move_the_digit_by_step_pixels_per_frame_in_the_labelled_direction():
    clips = generated.moving_digit_clips(
        _digits(), 8, frames=4, size=20, step=3, seed=2
    )
    assert clips.x.shape == (8, 4, 20, 20, 1) and list(np.bincount(clips.y)) == [
        2,
        2,
        2,
        2,
    ]
    moves = {0: (0, 3), 1: (0, -3), 2: (3, 0), 3: (-3, 0)}
    for clip, label in zip(clips.x[..., 0], clips.y, strict=True):
        for f in range(3):
            np.testing.assert_array_equal(
                np.roll(clip[f], moves[label], axis=(0, 1)), clip[f + 1]
            )
    with pytest.raises(ValueError, match="size must hold"):
        generated.moving_digit_clips(_digits(), 4, size=10)


def test_one_frame_does_not_tell_the_direction():
    """A single-frame model stays at chance: the task needs motion."""
    clips = generated.moving_digit_clips(data.mnist_digits().x, 600, seed=5)
    splits = data.split(clips.x[:, 3], clips.y, seed=0)
    result = architectures.run(
        lambda: architectures.single_frame(28, 4), splits, epochs=6
    )
    assert result.test_accuracy <= result.chance + 0.12


def test_voxel_shapes_are_balanced_and_differ_by_class():
    volumes = generated.voxel_shapes(16, size=12, seed=0)
    assert (
        volumes.x.shape == (16, 12, 12, 12, 1)
        and list(np.bincount(volumes.y)) == [4] * 4
    )
    filled = (volumes.x[..., 0] > 0.5).sum(axis=(1, 2, 3))
    assert filled.min() > 5  # every volume holds a solid, not just noise
    with pytest.raises(ValueError, match="at least 8"):
        generated.voxel_shapes(4, size=4)


def test_builders_and_bad_arguments():
    assert architectures.waveform_conv1d(256, 4).output_shape == (None, 4)
    assert architectures.video_frames_gru(4, 20, 4).output_shape == (None, 4)
    assert architectures.volume_conv3d(12, 4).output_shape == (None, 4)
    with pytest.raises(ValueError, match="multiple of frame"):
        architectures.waveform_gru(100, 4, frame=16)
    with pytest.raises(ValueError, match="kind must be one of"):
        architectures.symbol_model("transformer", 10, 5)
