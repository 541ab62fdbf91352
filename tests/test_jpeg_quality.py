"""napari_hyperres.core.jpeg_quality: a JPEG file's quality read exactly from its quantisation tables."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from conftest import smooth_image

from napari_hyperres.core.jpeg_quality import ZIGZAG, ijg_table, read_jpeg_quality
from napari_hyperres.errors import ShapeError

pytestmark = pytest.mark.usefixtures("one_thread")

QUALITIES = [1, 5, 10, 23, 37, 50, 51, 64, 75, 90, 95, 99, 100]

def _photo(height: int = 40, width: int = 48, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` or ``(H, W)`` test picture."""
    image = smooth_image(height, width, channels, seed=seed)[0].numpy().transpose(1, 2, 0)
    image = np.round(image * 255).astype(np.uint8)
    return image if channels == 3 else image[..., 0]



# --- JPEG quality from quantisation tables ---------------------------------------------------------
@pytest.mark.parametrize("quality", QUALITIES)
@pytest.mark.parametrize("gray", [False, True], ids=["color", "gray"])
def test_quality_opencv(tmp_path, quality, gray):
    path = tmp_path / "cv.jpg"
    assert cv2.imwrite(str(path), _photo(channels=1 if gray else 3), [cv2.IMWRITE_JPEG_QUALITY, quality])
    found = read_jpeg_quality(path)
    assert (found.quality, found.exact, found.mean_abs_error) == (quality, True, 0.0)


@pytest.mark.parametrize("quality", QUALITIES)
@pytest.mark.parametrize("gray", [False, True], ids=["color", "gray"])
def test_quality_pillow(tmp_path, quality, gray):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "pil.jpeg"
    Image.fromarray(_photo(channels=1 if gray else 3)).save(path, quality=quality)
    found = read_jpeg_quality(path)
    assert (found.quality, found.exact) == (quality, True)


def _dqt16_jpeg(quality: int) -> bytes:
    """A JPEG header whose luminance table is stored with 16-bit precision (then a bare scan marker)."""
    zigzag = ijg_table(quality)[ZIGZAG].astype(">u2").tobytes()
    segment = b"\x10" + zigzag  # precision 1, table 0
    return b"\xff\xd8" + b"\xff\xdb" + (2 + len(segment)).to_bytes(2, "big") + segment + b"\xff\xda\x00\x02\xff\xd9"


def test_quality_16_bit_table(tmp_path):
    path = tmp_path / "dqt16.jpg"
    path.write_bytes(_dqt16_jpeg(42))
    assert read_jpeg_quality(path).quality == 42


def test_png_is_a_shape_error_naming_the_file(tmp_path):
    path = tmp_path / "picture.png"
    assert cv2.imwrite(str(path), _photo())
    with pytest.raises(ShapeError, match=r"picture\.png: not a JPEG file"):
        read_jpeg_quality(path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_jpeg_quality(tmp_path / "absent.jpg")


@pytest.mark.parametrize("source", ["opencv", "dqt16"])
def test_every_truncation_is_a_shape_error_or_exact(tmp_path, source):
    """Cut the file after each byte of its header: a ShapeError naming the file, or the right quality."""
    if source == "opencv":
        ok, encoded = cv2.imencode(".jpg", _photo(), [cv2.IMWRITE_JPEG_QUALITY, 37])
        data, quality = encoded.tobytes(), 37
    else:
        data, quality = _dqt16_jpeg(42), 42
    scan = data.find(b"\xff\xda")
    path = tmp_path / "cut.jpg"
    results = set()
    for length in range(scan + 4):
        path.write_bytes(data[:length])
        try:
            results.add(read_jpeg_quality(path).quality)
        except ShapeError as exc:
            assert str(exc).startswith(f"{path}: ")
            results.add("error")
    assert results == {"error", quality}



def test_jpeg_bytes_in_memory_match_file(tmp_path):
    """Pillow writing to a buffer then to disk: the same quality (no dependence on the file suffix)."""
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="JPEG", quality=58)
    path = tmp_path / "photo.jfif"
    path.write_bytes(buffer.getvalue())
    assert read_jpeg_quality(path).quality == 58


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "full"), (cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, "subsampled"),
     (cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422, "subsampled")],
)
def test_chroma_sampling_is_read_from_the_frame_header(tmp_path, flag, expected):
    from napari_hyperres.core.jpeg_quality import read_jpeg_chroma

    path = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(path), _photo(), [cv2.IMWRITE_JPEG_QUALITY, 40, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, flag])
    assert read_jpeg_chroma(path) == expected
    gray = tmp_path / "gray.jpg"
    assert cv2.imwrite(str(gray), _photo(channels=1))
    assert read_jpeg_chroma(gray) is None
    png = tmp_path / "photo.png"
    assert cv2.imwrite(str(png), _photo())
    assert read_jpeg_chroma(png) is None


def test_a_4_4_4_jpeg_has_its_chroma_restored_at_full_resolution(tmp_path, tiny_weights):
    import dataclasses

    from napari_hyperres.cli.main import main
    from napari_hyperres.core.tasks import DEJPEG
    from napari_hyperres.engine import Restorer
    from napari_hyperres.io.files import read_image

    path = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(path), _photo(), [cv2.IMWRITE_JPEG_QUALITY, 30,
                                                   cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    assert DEJPEG.for_file(path).chroma == "full" and DEJPEG.for_file(tmp_path / "x.png") is DEJPEG
    weights = str(tiny_weights["dejpeg"])
    assert main(["restore", str(path), str(tmp_path / "out.png"), "--task", "dejpeg", "--level", "30",
                 "--weights", weights, "--device", "cpu", "--quiet"]) == 0
    image = read_image(path)
    full = Restorer(dataclasses.replace(DEJPEG, chroma="full"), weights=weights, device="cpu").restore(image, 30)
    subsampled = Restorer(DEJPEG, weights=weights, device="cpu").restore(image, 30)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), full)
    assert not np.array_equal(full, subsampled)
