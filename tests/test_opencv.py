import numpy as np
import pytest

from dlbook import faces, video, vision


def test_colour_order_round_trip_and_types():
    rgb = np.zeros((4, 5, 3), np.float32)
    rgb[..., 0] = 1.0  # pure red
    bgr = vision.to_opencv(rgb)
    assert bgr.dtype == np.uint8 and bgr.shape == (4, 5, 3)
    assert bgr[0, 0].tolist() == [0, 0, 255]  # red is OpenCV's last channel
    np.testing.assert_array_equal(vision.from_opencv(bgr), vision.as_uint8(rgb))
    grey = vision.to_opencv(np.full((3, 3), 0.5))
    assert grey.shape == (3, 3) and grey[0, 0] == 128


@pytest.mark.parametrize(
    ("image", "error", "words"),
    [
        (np.zeros((4, 4, 4)), ValueError, "shape"),
        (np.zeros((4,)), ValueError, "shape"),
        (np.zeros((4, 4), np.int64), TypeError, "uint8 or floats"),
        (np.full((4, 4), 2.0), ValueError, r"\[0, 1\]"),
    ],
)
def test_bad_images_are_rejected_clearly(image, error, words):
    with pytest.raises(error, match=words):
        vision.to_opencv(image)


def test_otsu_splits_a_two_level_image():
    grey = np.full((20, 20), 40, np.uint8)
    grey[:, 10:] = 200
    images, level = vision.thresholds(grey)
    assert 40 <= level < 200
    otsu = next(v for k, v in images.items() if k.startswith("Otsu"))
    assert (otsu[:, :10] == 0).all() and (otsu[:, 10:] == 255).all()


def test_blurs_reject_an_even_window():
    with pytest.raises(ValueError, match="odd"):
        vision.blurs(np.zeros((8, 8), np.uint8), size=4)


def test_contours_measure_a_drawn_square():
    binary = np.zeros((50, 50), np.uint8)
    binary[10:30, 5:25] = 255
    (row,) = vision.contour_table(binary, min_area=10)
    assert row["box"] == (5, 10, 20, 20)
    assert row["area"] == pytest.approx(19 * 19)  # the polygon through pixel centres


def test_template_is_found_where_it_was_cut():
    image = np.random.default_rng(0).integers(0, 255, (60, 80), dtype=np.uint8)
    corner, score, scores = vision.find_template(image, image[20:35, 30:50])
    assert corner == (30, 20) and score == pytest.approx(1.0, abs=1e-5)
    assert scores.shape == (60 - 15 + 1, 80 - 20 + 1)
    with pytest.raises(ValueError, match="fit inside"):
        vision.find_template(image[:10, :10], image)


def test_hog_features_shape_and_errors():
    features = vision.hog_features(np.zeros((3, 28, 28, 1), np.float32))
    assert features.shape == (3, 324)
    with pytest.raises(ValueError, match="28, 28"):
        vision.hog_features(np.zeros((3, 20, 20)))


def test_iou_and_match_by_hand():
    assert faces.iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert faces.iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    truth = [(0, 0, 10, 10), (50, 50, 10, 10)]
    found = [(1, 1, 10, 10), (0, 0, 9, 9), (80, 80, 5, 5)]
    assert faces.match(found, truth) == (1, 2, 1)  # one hit, one double, one stray
    with pytest.raises(ValueError, match="threshold"):
        faces.match(found, truth, threshold=0)


def test_face_scenes_paste_faces_where_the_boxes_say():
    backgrounds = [np.zeros((300, 400, 3), np.uint8)] * 2
    crops = np.ones((5, 25, 25), np.float32)  # white squares stand in for faces
    scenes = faces.face_scenes(backgrounds, crops, per_scene=3, seed=1)
    for image, boxes in scenes:
        assert boxes.shape == (3, 4)
        for x, y, w, h in boxes:
            assert w == h and 60 <= w <= 140
            assert (image[y : y + h, x : x + w] == 255).all()
        assert (image > 0).sum() == sum(w * h * 3 for _, _, w, h in boxes)  # no overlap
    again = faces.face_scenes(backgrounds, crops, per_scene=3, seed=1)
    np.testing.assert_array_equal(scenes[1][1], again[1][1])


def test_align_levels_the_eyes():
    image = np.zeros((200, 200, 3), np.uint8)
    left, right = (60, 120), (140, 80)  # a tilted pair of eyes
    for x, y in (left, right):
        image[y - 3 : y + 4, x - 3 : x + 4] = 255
    out = faces.align(image, {"left_eye": left, "right_eye": right}, size=100)
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert out.shape == (100, 100, 3)
    assert np.ptp(ys) <= 6  # both eyes on one row...
    assert abs(ys.mean() - 40) <= 2  # ...at 0.4 of the height
    assert abs(xs.min() - 30) <= 4 and abs(xs.max() - 70) <= 4  # 40 pixels apart


def test_clip_written_and_read_back(tmp_path):
    path = tmp_path / "clip.avi"
    positions = video.cartpole_clip(path, steps=30, seed=0, width=120)
    frames, fps = video.read_clip(path)
    assert len(frames) == len(positions) == 30 and fps == pytest.approx(30)
    assert frames[0].dtype == np.uint8 and frames[0].shape == (80, 120, 3)
    masks, centres = video.moving_object(frames)
    assert len(masks) == 30 and centres.shape == (30,)
    assert video.flow_speeds(frames).shape == (29,)
    with pytest.raises(FileNotFoundError, match="no video file"):
        video.read_clip(tmp_path / "missing.avi")
