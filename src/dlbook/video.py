"""Video with OpenCV: write a clip, read it back with ``cv2.VideoCapture``, find the
moving object by background subtraction and measure motion with optical flow.

The clip is generated (no video file ships offline that we may use): a CartPole
episode from Gymnasium, balanced by a two-line controller, so the true position of
the moving cart is known for every frame and the tracking can be scored.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dlbook.base.validate import array, positive_int
from dlbook.environments import make
from dlbook.vision import opencv, to_opencv


def cartpole_clip(
    path, steps: int = 200, seed: int | None = None, fps: int = 30, width: int = 300
):
    """Write ``steps`` frames of CartPole to the Motion-JPEG file ``path``; return the
    cart's true x position per frame, in pixels of the written frames. A hand-made
    controller keeps the pole up while it drives the cart back and forth (to a target
    that swings 1.5 m either side every 100 steps), so there is motion to find."""
    cv, steps = opencv(), positive_int("steps", steps)
    env = make("CartPole-v1", render=True, max_episode_steps=steps + 1)
    state, _ = env.reset(seed=seed)
    frame = env.render()
    scale = width / frame.shape[1]
    size = (width, round(frame.shape[0] * scale))
    writer = cv.VideoWriter(str(path), cv.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write a Motion-JPEG file at {path}")
    positions = []
    world = 2 * env.unwrapped.x_threshold  # metres across the rendered track
    for step in range(steps):
        writer.write(cv.resize(to_opencv(frame), size, interpolation=cv.INTER_AREA))
        positions.append((state[0] / world + 0.5) * size[0])
        x, speed, angle, turn = state
        target = 1.5 * np.sin(2 * np.pi * step / 100)
        # push under the leaning pole; lean it first towards the target
        action = int(angle + 0.5 * turn + 0.1 * (x - target) + 0.1 * speed > 0)
        state, _, terminated, truncated, _ = env.step(action)
        frame = env.render()
        if terminated or truncated:
            break
    writer.release()
    env.close()
    return np.asarray(positions)


def _frames(frames, least: int = 1) -> list:
    """``frames`` as a list of at least ``least`` images of one shape, or an error."""
    if frames is None or isinstance(frames, str | bytes):
        raise TypeError(f"frames must be a list of images, got {frames!r:.60}")
    frames = list(frames)
    if len(frames) < least:
        raise ValueError(f"frames must hold at least {least} images, got {len(frames)}")
    shapes = {array(f"frames[{i}]", f).shape for i, f in enumerate(frames)}
    if len(shapes) > 1 or len(next(iter(shapes))) not in (2, 3):
        raise ValueError(f"frames must be images of one shape, got shapes {shapes}")
    return frames


def read_clip(path) -> tuple[list[np.ndarray], float]:
    """All frames of the video at ``path`` (BGR ``uint8``) and its frame rate."""
    cv = opencv()
    if not isinstance(path, str | Path):
        raise TypeError(f"path must be a str or a Path, got {path!r:.60}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no video file at {path}")
    capture = cv.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"OpenCV cannot open the video {path}")
    fps = capture.get(cv.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, float(fps)


def moving_object(frames, history: int = 50) -> tuple[list[np.ndarray], np.ndarray]:
    """Foreground masks by a Gaussian-mixture background model (MOG2) learnt over the
    last ``history`` frames, and the x centre of the largest foreground blob per
    frame (NaN where there is none)."""
    cv = opencv()
    frames, history = _frames(frames), positive_int("history", history)
    subtractor = cv.createBackgroundSubtractorMOG2(history=history, detectShadows=False)
    kernel = cv.getStructuringElement(cv.MORPH_ELLIPSE, (3, 3))
    masks, centres = [], []
    for frame in frames:
        mask = cv.morphologyEx(subtractor.apply(frame), cv.MORPH_OPEN, kernel)
        found, _ = cv.findContours(mask, cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)
        if found:
            x, _, w, _ = cv.boundingRect(max(found, key=cv.contourArea))
            centres.append(x + w / 2)
        else:
            centres.append(np.nan)
        masks.append(mask)
    return masks, np.asarray(centres)


def flow_speeds(frames) -> np.ndarray:
    """Dense optical flow (Farneback) between consecutive frames: the mean speed, in
    pixels per frame, of the pixels that move by more than half a pixel."""
    cv = opencv()
    frames = _frames(frames, least=2)
    grey = [cv.cvtColor(frame, cv.COLOR_BGR2GRAY) for frame in frames]
    speeds = []
    for before, after in zip(grey, grey[1:], strict=False):
        flow = cv.calcOpticalFlowFarneback(
            before, after, None, 0.5, 3, 15, 3, 5, 1.2, 0
        )
        speed = np.linalg.norm(flow, axis=-1)
        moving = speed > 0.5
        speeds.append(float(speed[moving].mean()) if moving.any() else 0.0)
    return np.asarray(speeds)


def frames_per_second(step, frames) -> float:
    """How many frames per second ``step`` (a function of the frame list) processes."""
    if not callable(step):
        raise TypeError(f"step must be a function of the frame list, got {step!r:.60}")
    if not len(frames):
        raise ValueError("frames must hold at least one frame")
    start = time.perf_counter()
    step(frames)
    return len(frames) / (time.perf_counter() - start)
