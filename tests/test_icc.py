"""Colour profiles (napari_hyperres.io.icc): an input's ICC profile is embedded in its restored output.

OpenCV drops profiles: a Display P3 or Adobe RGB photo restored without its profile is shown
as sRGB, duller. The files here are written and read back by Pillow and tifffile (other
software than the one under test), so a malformed segment or chunk fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_hyperres.cli.main import main
from napari_hyperres.io.files import write_image
from napari_hyperres.io.icc import embed_icc_profile, read_icc_profile

Image = pytest.importorskip("PIL.Image")
ImageCms = pytest.importorskip("PIL.ImageCms")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def photo(tmp_path, srgb_profile):
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=60, icc_profile=srgb_profile)  # as a camera or an editor writes it
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_a_restored_photo_keeps_its_colour_profile(tmp_path, photo, srgb_profile, tiny_weights, suffix):
    assert read_icc_profile(photo) == srgb_profile
    out = tmp_path / f"out{suffix}"
    assert main(["restore", str(photo), str(out), "--task", "denoise", "--level", "10",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"]) == 0
    if suffix == ".tif":
        with tifffile.TiffFile(out) as tif:
            assert bytes(tif.pages[0].tags[34675].value) == srgb_profile
    else:
        with Image.open(out) as image:
            image.load()  # the whole file decodes: the inserted segment or chunk is well formed
            assert image.info.get("icc_profile") == srgb_profile and image.size == (64, 48)
    assert read_icc_profile(out) == srgb_profile


def test_a_profile_larger_than_one_jpeg_segment_is_split_and_joined_again(tmp_path):
    big = bytes(16) + b"RGB " + bytes(range(256)) * 600  # 153,620 bytes: three APP2 segments
    image = np.zeros((16, 16, 3), np.uint8)
    path = write_image(tmp_path / "big.jpg", image, icc_profile=big)
    assert read_icc_profile(path) == big
    with Image.open(path) as decoded:
        assert decoded.info["icc_profile"] == big


def test_a_profile_for_other_channels_is_not_embedded(tmp_path, srgb_profile):
    gray = np.zeros((16, 16), np.uint8)
    assert read_icc_profile(write_image(tmp_path / "gray.png", gray, icc_profile=srgb_profile)) is None  # RGB profile, gray image
    assert embed_icc_profile(b"BM....", ".bmp", srgb_profile) == b"BM...."


def test_a_file_without_a_profile_or_with_a_broken_one_gives_none(tmp_path, srgb_profile):
    plain = write_image(tmp_path / "plain.jpg", np.zeros((16, 16, 3), np.uint8))
    assert read_icc_profile(plain) is None
    data = bytearray(write_image(tmp_path / "two.jpg", np.zeros((16, 16, 3), np.uint8),
                                 icc_profile=bytes(16) + b"RGB " + bytes(70000)).read_bytes())
    data[data.index(b"ICC_PROFILE\x00") + 13] = 3  # claims three pieces; the file holds two
    (tmp_path / "broken.jpg").write_bytes(bytes(data))
    assert read_icc_profile(tmp_path / "broken.jpg") is None
    (tmp_path / "junk.png").write_bytes(b"not a png")
    assert read_icc_profile(tmp_path / "junk.png") is None
