"""Classical image processing with OpenCV, as small functions the OpenCV page shows
and runs: colour order, filters, thresholds, edges, contours, morphology, geometry,
histograms, template matching, and HOG features for a classical digit classifier.

OpenCV works on ``uint8`` arrays in **BGR** channel order; the rest of the book (and
matplotlib) uses RGB floats. :func:`to_opencv` and :func:`from_opencv` are the only
crossings, so the order is never guessed.
"""

from __future__ import annotations

import numpy as np

from dlbook.base.validate import array, in_range, integer, number, positive_int


def opencv():
    """The OpenCV module, or a clear error saying what to install (4.x: the 5.x
    wheels dropped ``CascadeClassifier`` and ``HOGDescriptor``)."""
    from dlbook.data import require

    module = require("cv2", "'opencv-python-headless>=4.9,<5'")
    if not hasattr(module, "CascadeClassifier"):
        raise ImportError(
            f"OpenCV {module.__version__} has no CascadeClassifier: install "
            "'opencv-python-headless>=4.9,<5'"
        )
    return module


def as_uint8(image, name: str = "image") -> np.ndarray:
    """``image`` (grey or RGB/BGR; ``uint8``, or floats in [0, 1]) as ``uint8``, with a
    clear error for any other shape, type or range."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(
            f"{name} must be a grey (h, w) or colour (h, w, 3) image, got shape "
            f"{array.shape}"
        )
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 or floats in [0, 1], got {array.dtype}")
    if array.size and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} as floats must lie in [0, 1], got NaN or infinity")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(f"{name} as floats must lie in [0, 1]")
    return np.round(array * 255).astype(np.uint8)


def _image(name: str, image, channels=(1, 3)) -> np.ndarray:
    """``image`` as an array, if it is a grey ``(h, w)`` (``1`` in ``channels``) or a
    colour ``(h, w, 3)`` image (``3`` in ``channels``), else an error naming ``name``
    (rather than OpenCV's own, which names neither the argument nor the shape)."""
    image = array(name, image)
    grey, colour = image.ndim == 2, image.ndim == 3 and image.shape[2] == 3
    if not ((grey and 1 in channels) or (colour and 3 in channels)) or not image.size:
        wanted = " or ".join(
            {1: "a grey (h, w)", 3: "a colour (h, w, 3)"}[c] for c in channels
        )
        raise ValueError(f"{name} must be {wanted} image, got shape {image.shape}")
    return image


def to_opencv(rgb) -> np.ndarray:
    """An RGB image (floats in [0, 1] or ``uint8``) as OpenCV wants it: ``uint8``,
    BGR order. Grey images stay grey."""
    image = as_uint8(rgb, "rgb")
    return image if image.ndim == 2 else np.ascontiguousarray(image[..., ::-1])


def from_opencv(bgr) -> np.ndarray:
    """An OpenCV image (``uint8``, BGR) in RGB order, for matplotlib."""
    image = as_uint8(bgr, "bgr")
    return image if image.ndim == 2 else np.ascontiguousarray(image[..., ::-1])


def colour_spaces(bgr) -> dict[str, np.ndarray]:
    """The grey image and the hue, saturation and lightness channels of ``bgr``."""
    cv = opencv()
    _image("bgr", bgr, channels=(3,))
    hsv = cv.cvtColor(bgr, cv.COLOR_BGR2HSV)
    lab = cv.cvtColor(bgr, cv.COLOR_BGR2LAB)
    return {
        "grey": cv.cvtColor(bgr, cv.COLOR_BGR2GRAY),
        "hue (HSV)": hsv[..., 0],
        "saturation (HSV)": hsv[..., 1],
        "lightness (Lab)": lab[..., 0],
    }


def blurs(image, size: int = 9) -> dict[str, np.ndarray]:
    """Four smoothing filters with a ``size`` x ``size`` window: the box mean, the
    Gaussian, the median (removes salt-and-pepper noise) and the bilateral (smooths
    flat regions, keeps edges)."""
    cv, size = opencv(), positive_int("size", size)
    _image("image", image)
    if size % 2 == 0:
        raise ValueError(f"size must be odd (a window has a centre), got {size}")
    return {
        "box": cv.blur(image, (size, size)),
        "Gaussian": cv.GaussianBlur(image, (size, size), 0),
        "median": cv.medianBlur(image, size),
        "bilateral": cv.bilateralFilter(image, size, 75, 75),
    }


def thresholds(grey, level: int = 127) -> tuple[dict[str, np.ndarray], float]:
    """Binary images of ``grey`` by a global ``level``, by Otsu's level (the one that
    best separates the histogram into two classes) and by adaptive thresholds (each
    pixel against the mean or Gaussian-weighted mean of its 31 x 31 neighbourhood).
    Returns the images and Otsu's level."""
    cv = opencv()
    _image("grey", grey, channels=(1,))
    in_range("level", level, 0, 255)
    _, fixed = cv.threshold(grey, level, 255, cv.THRESH_BINARY)
    otsu_level, otsu = cv.threshold(grey, 0, 255, cv.THRESH_BINARY + cv.THRESH_OTSU)
    adaptive = {
        f"adaptive {kind}": cv.adaptiveThreshold(
            grey, 255, method, cv.THRESH_BINARY, 31, 5
        )
        for kind, method in (
            ("mean", cv.ADAPTIVE_THRESH_MEAN_C),
            ("Gaussian", cv.ADAPTIVE_THRESH_GAUSSIAN_C),
        )
    }
    images = {f"global {level}": fixed, f"Otsu ({otsu_level:.0f})": otsu, **adaptive}
    return images, float(otsu_level)


def contour_table(binary, min_area: float = 50.0):
    """The outer contours of a binary image with their areas and bounding boxes,
    largest first (contours under ``min_area`` pixels dropped)."""
    cv = opencv()
    _image("binary", binary, channels=(1,))
    number("min_area", min_area)
    found, _ = cv.findContours(binary, cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)
    rows = [
        {"area": cv.contourArea(c), "box": cv.boundingRect(c), "contour": c}
        for c in found
        if cv.contourArea(c) >= min_area
    ]
    return sorted(rows, key=lambda row: -row["area"])


def draw_contours(bgr, rows, count: int = 5) -> np.ndarray:
    """A copy of ``bgr`` with the ``count`` largest contours and their boxes drawn."""
    cv = opencv()
    _image("bgr", bgr)
    integer("count", count, minimum=0)
    canvas = bgr.copy()
    for row in rows[:count]:
        x, y, w, h = row["box"]
        cv.drawContours(canvas, [row["contour"]], -1, (0, 200, 255), 2)
        cv.rectangle(canvas, (x, y), (x + w, y + h), (255, 80, 0), 2)
    return canvas


def morphology(binary, size: int = 5) -> dict[str, np.ndarray]:
    """Erosion (shrinks white shapes), dilation (grows them), opening (erosion then
    dilation: removes specks) and closing (dilation then erosion: fills holes)."""
    cv = opencv()
    _image("binary", binary, channels=(1,))
    size = positive_int("size", size)
    kernel = cv.getStructuringElement(cv.MORPH_ELLIPSE, (size, size))
    return {
        "eroded": cv.erode(binary, kernel),
        "dilated": cv.dilate(binary, kernel),
        "opened": cv.morphologyEx(binary, cv.MORPH_OPEN, kernel),
        "closed": cv.morphologyEx(binary, cv.MORPH_CLOSE, kernel),
    }


def geometric(bgr, angle: float = 20.0) -> dict[str, np.ndarray]:
    """Resizing to half size, rotating by ``angle`` degrees about the centre, and a
    perspective warp that maps a trapezoid of the image onto the full frame."""
    cv = opencv()
    h, w = _image("bgr", bgr).shape[:2]
    number("angle", angle)
    rotation = cv.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    trapezoid = np.float32(
        [[0.2 * w, 0.1 * h], [0.8 * w, 0.1 * h], [w, 0.9 * h], [0, 0.9 * h]]
    )
    warp = cv.getPerspectiveTransform(trapezoid, corners)
    return {
        "half size": cv.resize(bgr, (w // 2, h // 2), interpolation=cv.INTER_AREA),
        f"rotated {angle:g} degrees": cv.warpAffine(bgr, rotation, (w, h)),
        "perspective": cv.warpPerspective(bgr, warp, (w, h)),
    }


def equalise(grey) -> dict[str, np.ndarray]:
    """Global histogram equalisation and CLAHE (equalisation in 8 x 8 tiles with a
    clip limit, so noise in flat regions is not blown up)."""
    cv = opencv()
    if _image("grey", grey, channels=(1,)).dtype != np.uint8:
        raise TypeError(f"grey must be a uint8 image, got {np.asarray(grey).dtype}")
    clahe = cv.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return {
        "original": grey,
        "equalised": cv.equalizeHist(grey),
        "CLAHE": clahe.apply(grey),
    }


def find_template(image, template) -> tuple[tuple[int, int], float, np.ndarray]:
    """Where ``template`` matches ``image`` best by normalised cross-correlation:
    the top-left corner, the score there (1 = identical) and the whole score map."""
    cv = opencv()
    _image("image", image)
    _image("template", template)
    if template.shape[0] > image.shape[0] or template.shape[1] > image.shape[1]:
        raise ValueError(
            f"template {template.shape[:2]} must fit inside image {image.shape[:2]}"
        )
    scores = cv.matchTemplate(image, template, cv.TM_CCOEFF_NORMED)
    _, best, _, corner = cv.minMaxLoc(scores)
    return corner, float(best), scores


def hog_features(images) -> np.ndarray:
    """Histogram-of-oriented-gradients features of 28 x 28 grey digits (``(n, 28,
    28)`` or ``(n, 28, 28, 1)``, floats in [0, 1] or ``uint8``): 9 orientation bins in
    7 x 7 cells, 14 x 14 blocks, one vector of 324 numbers per digit."""
    cv = opencv()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must be (n, 28, 28), got shape {images.shape}")
    hog = cv.HOGDescriptor((28, 28), (14, 14), (7, 7), (7, 7), 9)
    return np.stack([hog.compute(as_uint8(image)).ravel() for image in images])
