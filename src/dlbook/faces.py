"""Face detection and the first steps of recognition: OpenCV's Haar cascade against
MTCNN (a convnet detector whose weights ship in its wheel), scored on scenes with
faces pasted at known places, and eye-based alignment.

Boxes are ``(x, y, width, height)`` in pixels, as both detectors give them.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from dlbook.base.seeding import resolve_seed
from dlbook.base.validate import (
    array,
    in_range,
    integer,
    number,
    positive_int,
    probability,
)
from dlbook.vision import opencv


def _rgb(name: str, rgb) -> None:
    """A ``ValueError`` naming ``name`` unless ``rgb`` is an ``(h, w, 3)`` image."""
    shape = array(name, rgb).shape
    if len(shape) != 3 or shape[2] != 3 or not shape[0] or not shape[1]:
        raise ValueError(f"{name} must be a colour (h, w, 3) image, got shape {shape}")


def haar_faces(rgb, scale: float = 1.1, neighbours: int = 5) -> np.ndarray:
    """Faces found by OpenCV's frontal-face Haar cascade (Viola-Jones): boxes of
    ``rgb`` (``uint8``). ``neighbours``: how many overlapping raw detections a face
    needs, the cascade's precision-recall knob."""
    cv = opencv()
    _rgb("rgb", rgb)
    in_range("scale", scale, 1, None, low_open=True)
    integer("neighbours", neighbours, minimum=0)
    cascade = cv.CascadeClassifier(
        cv.data.haarcascades + "haarcascade_frontalface_default.xml"
    )
    grey = cv.cvtColor(np.asarray(rgb, np.uint8), cv.COLOR_RGB2GRAY)
    boxes = cascade.detectMultiScale(grey, scaleFactor=scale, minNeighbors=neighbours)
    return np.asarray(boxes, int).reshape(-1, 4)


@lru_cache(maxsize=1)
def _mtcnn():
    from dlbook.data import require

    return require("mtcnn", "mtcnn").MTCNN()


def mtcnn_faces(rgb, min_confidence: float = 0.9):
    """Faces found by MTCNN (Zhang et al., 2016: three cascaded convnets) in ``rgb``
    (``uint8``): boxes, confidences and the five landmarks (eyes, nose, mouth
    corners) of each face of at least ``min_confidence``."""
    _rgb("rgb", rgb)
    probability("min_confidence", min_confidence)
    found = _mtcnn().detect_faces(np.asarray(rgb, np.uint8))
    kept = [face for face in found if face["confidence"] >= min_confidence]
    boxes = np.asarray([face["box"] for face in kept], int).reshape(-1, 4)
    return boxes, [float(f["confidence"]) for f in kept], [f["keypoints"] for f in kept]


def face_scenes(backgrounds, faces, per_scene: int = 3, seed: int | None = None):
    """Scenes with known face boxes: ``per_scene`` of the grey ``faces`` pasted onto
    each colour background (``uint8``) at random places and sizes (60–140 pixels),
    not overlapping. Returns a list of ``(image, boxes)``."""
    cv, per_scene = opencv(), positive_int("per_scene", per_scene)
    generator = np.random.default_rng(resolve_seed(seed))
    scenes, next_face = [], 0
    for background in backgrounds:
        canvas = np.asarray(background, np.uint8).copy()
        h, w = canvas.shape[:2]
        boxes = []
        while len(boxes) < per_scene:
            size = int(generator.integers(60, 141))
            x, y = (
                int(generator.integers(0, w - size)),
                int(generator.integers(0, h - size)),
            )
            if any(iou((x, y, size, size), box) > 0 for box in boxes):
                continue
            face = np.asarray(faces[next_face % len(faces)])
            next_face += 1
            face = cv.resize(
                (face * 255).astype(np.uint8),
                (size, size),
                interpolation=cv.INTER_CUBIC,
            )
            canvas[y : y + size, x : x + size] = face[..., None]
            boxes.append((x, y, size, size))
        scenes.append((canvas, np.asarray(boxes)))
    return scenes


def _box(name: str, box) -> tuple:
    """``box`` if it is four finite numbers ``(x, y, w, h)`` with ``w, h >= 0``, else an
    error naming ``name`` (a negative size would make a box of negative area)."""
    values = array(name, box, finite=True).ravel()
    if values.shape != (4,) or values[2] < 0 or values[3] < 0:
        raise ValueError(
            f"{name} must be an (x, y, w, h) box with w, h >= 0, got {box!r:.60}"
        )
    return box


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = _box("a", a)
    bx, by, bw, bh = _box("b", b)
    across = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    down = max(0, min(ay + ah, by + bh) - max(ay, by))
    overlap = across * down
    union = aw * ah + bw * bh - overlap
    return overlap / union if union > 0 else 0.0


def match(found, truth, threshold: float = 0.3) -> tuple[int, int, int]:
    """True positives, false positives and missed faces: each true box is matched to
    at most one found box, greedily by overlap, when their IoU reaches
    ``threshold`` (0.3: detectors disagree on how much forehead and chin a face box
    holds)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    pairs = sorted(
        ((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_found, used_truth = set(), set()
    for overlap, i, j in pairs:
        if overlap >= threshold and i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    hits = len(used_found)
    return hits, len(found) - hits, len(truth) - hits


def score_detector(detect, scenes) -> dict:
    """Precision, recall and seconds per image of ``detect`` (image -> boxes) over
    ``scenes`` from :func:`face_scenes`."""
    if not callable(detect):
        raise TypeError(
            f"detect must be a function from an image to boxes, got {detect!r}"
        )
    if not len(scenes):
        raise ValueError("scenes must hold at least one (image, boxes) scene")
    hits = false = missed = 0
    start = time.perf_counter()
    for image, truth in scenes:
        tp, fp, fn = match(detect(image), truth)
        hits, false, missed = hits + tp, false + fp, missed + fn
    seconds = (time.perf_counter() - start) / len(scenes)
    return {
        "precision": hits / max(hits + false, 1),
        "recall": hits / max(hits + missed, 1),
        "false detections": false,
        "seconds per image": seconds,
    }


def align(rgb, keypoints, size: int = 112) -> np.ndarray:
    """The face rotated so that its eyes are level, scaled so that they are
    ``0.4 * size`` apart and cropped to ``size`` x ``size`` around them: the step
    that makes a face's representation independent of head tilt."""
    cv, size = opencv(), positive_int("size", size)
    left = np.asarray(keypoints["left_eye"], float)
    right = np.asarray(keypoints["right_eye"], float)
    dx, dy = right - left
    angle = np.degrees(np.arctan2(dy, dx))
    scale = 0.4 * size / max(np.hypot(dx, dy), 1e-6)
    centre = (left + right) / 2
    matrix = cv.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += np.array([size / 2, 0.4 * size]) - centre
    return cv.warpAffine(np.asarray(rgb, np.uint8), matrix, (size, size))


def rotate(rgb, angle: float) -> np.ndarray:
    """``rgb`` rotated by ``angle`` degrees about its centre (corners filled black)."""
    cv = opencv()
    _rgb("rgb", rgb)
    number("angle", angle)
    h, w = rgb.shape[:2]
    matrix = cv.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv.warpAffine(np.asarray(rgb, np.uint8), matrix, (w, h))


def crop(rgb, box, size: int = 112) -> np.ndarray:
    """The detector's box cut out of ``rgb`` and resized to ``size`` x ``size``: the
    face as it comes without alignment."""
    cv, size = opencv(), positive_int("size", size)
    x, y, w, h = (int(v) for v in box)
    patch = np.asarray(rgb, np.uint8)[max(y, 0) : y + h, max(x, 0) : x + w]
    if patch.size == 0:
        raise ValueError(f"box {tuple(box)} lies outside the image {rgb.shape[:2]}")
    return cv.resize(patch, (size, size), interpolation=cv.INTER_AREA)


@lru_cache(maxsize=1)
def _feature_network():
    from dlbook.pretrained import efficientnet_lite

    return efficientnet_lite.efficientnet_lite0(
        include_top=False, weights="imagenet", pooling="avg"
    )


def represent(faces) -> np.ndarray:
    """Unit-length feature vectors of face crops (``(n, h, w, 3)`` ``uint8``) from
    EfficientNet-Lite0's ImageNet features: a general-purpose stand-in, since no
    face-trained embedding (FaceNet, ArcFace) ships offline."""
    from dlbook import training
    from dlbook.pretrained import efficientnet_lite

    shape = array("faces", faces).shape
    if len(shape) != 4 or shape[-1] != 3 or not shape[0]:
        raise ValueError(f"faces must be colour crops (n, h, w, 3), got shape {shape}")
    batch = efficientnet_lite.preprocess(np.asarray(faces))
    features = training.predict(_feature_network(), batch)
    return features / np.linalg.norm(features, axis=1, keepdims=True)
