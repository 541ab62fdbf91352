"""napari_hyperres.io.files: reading and writing TIFF / PNG / JPEG / BMP in RGB order, atomically."""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np
import pytest
import tifffile

from napari_hyperres.errors import ShapeError
from napari_hyperres.io.files import (
    SUPPORTED_SUFFIXES,
    check_writable,
    is_supported,
    read_image,
    write_image,
)


def test_supported_suffixes():
    assert {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"} == set(SUPPORTED_SUFFIXES)
    assert is_supported("a/B.PNG") and not is_supported("a.gif") and not is_supported("noext")


@pytest.mark.parametrize(
    "name, shape, dtype",
    [
        ("gray8.png", (20, 30), np.uint8),
        ("gray16.png", (20, 30), np.uint16),
        ("rgb8.png", (20, 30, 3), np.uint8),
        ("rgba16.png", (20, 30, 4), np.uint16),
        ("rgb.bmp", (20, 30, 3), np.uint8),
        ("stack16.tif", (4, 20, 30), np.uint16),
        ("rgb.tiff", (20, 30, 3), np.uint8),
        ("rgba.tif", (20, 30, 4), np.uint8),
        ("float.tif", (2, 20, 30), np.float32),
        ("signed.tif", (20, 30), np.int16),
    ],
)
def test_lossless_round_trip(tmp_path, rng, name, shape, dtype):
    image = (rng.random(shape) * (np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1)).astype(dtype)
    path = write_image(tmp_path / name, image)
    back = read_image(path)
    assert back.dtype == image.dtype and back.shape == image.shape
    assert np.array_equal(back, image)


def test_colour_is_rgb_on_both_sides(tmp_path):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "red.png", red)
    assert cv2.imread(str(tmp_path / "red.png"))[0, 0].tolist() == [0, 0, 255]  # OpenCV's BGR on disk
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [255, 0, 0]
    bgr_file = np.zeros((4, 4, 4), np.uint8)
    bgr_file[..., 0] = 200  # blue in OpenCV's order
    bgr_file[..., 3] = 77
    cv2.imwrite(str(tmp_path / "blue.png"), bgr_file)
    assert read_image(tmp_path / "blue.png")[0, 0].tolist() == [0, 0, 200, 77]


def test_jpeg_round_trip_is_close(tmp_path, rng):
    y, x = np.mgrid[0:32, 0:40]
    image = np.stack([x * 6, y * 7, (x + y) * 3], axis=-1).astype(np.uint8)
    path = write_image(tmp_path / "a.jpg", image)
    back = read_image(path)
    assert back.shape == image.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - image).mean() < 3
    low = read_image(write_image(tmp_path / "low.jpeg", image, jpeg_quality=5))
    assert np.abs(low.astype(int) - image).mean() > np.abs(back.astype(int) - image).mean()


def test_rgb_tiff_is_written_as_rgb(tmp_path):
    write_image(tmp_path / "rgb.tif", np.zeros((8, 8, 3), np.uint8))
    write_image(tmp_path / "gray.tif", np.zeros((3, 8, 8), np.uint8))
    with tifffile.TiffFile(tmp_path / "rgb.tif") as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
    with tifffile.TiffFile(tmp_path / "gray.tif") as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.MINISBLACK and len(tif.pages) == 3


def test_a_phone_photo_is_read_upright_by_its_exif_orientation(tmp_path):
    from PIL import Image  # (pillow comes with napari and scikit-image)

    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:, :16] = 255  # left half white, as the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(stored).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    shown = read_image(tmp_path / "phone.jpg")
    assert shown.shape == (32, 16, 3)  # upright: portrait
    assert shown[:16].mean() > 200 and shown[16:].mean() < 50  # the white half is now on top
    gray = tmp_path / "gray.jpg"
    Image.fromarray(stored[..., 0]).save(gray, quality=95)
    assert read_image(gray).shape == (16, 32)  # a gray JPEG stays one channel


def test_a_planar_rgb_tiff_reads_as_rgb_and_a_stack_of_three_stays_a_stack(tmp_path, rng):
    rgb = rng.integers(0, 65535, (20, 24, 3), dtype=np.uint16)
    planes = np.moveaxis(rgb, -1, 0)
    # planar RGB as other software writes it (no tifffile shape metadata)
    tifffile.imwrite(tmp_path / "planar.tif", planes, photometric="rgb", planarconfig="separate", metadata=None)
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif"), rgb)  # (Y, X, 3), not 3 gray pages
    for name, kwargs in (("stack.tif", {"photometric": "minisblack"}), ("default.tif", {})):
        tifffile.imwrite(tmp_path / name, planes, **kwargs)  # tifffile's default stores (3, Y, X) as planar RGB
        np.testing.assert_array_equal(read_image(tmp_path / name), planes)  # the shape it was written with


@pytest.mark.parametrize("planar", [True, False])
@pytest.mark.parametrize("channels", [2, 3])
def test_gray_channels_stored_as_samples_read_as_a_channel_axis(tmp_path, rng, planar, channels):
    """Fluorescence channels stored as the samples of a min-is-black TIFF (some microscope software):
    before, three came back as RGB (refused by ``microscopy``, denoised as colour by ``denoise``) and
    two as an image two pixels wide; now ``(C, Y, X)`` with a ``C`` axis in the metadata."""
    from napari_hyperres.io.tiff_meta import read_tiff_metadata

    planes = rng.integers(100, 4000, (channels, 20, 24), dtype=np.uint16)
    stored = planes if planar else np.moveaxis(planes, 0, -1)
    tifffile.imwrite(tmp_path / "c.tif", stored, photometric="minisblack", planarconfig="separate" if planar else "contig",
                     metadata=None, resolution=(5.0, 5.0))
    np.testing.assert_array_equal(read_image(tmp_path / "c.tif"), planes)
    metadata = read_tiff_metadata(tmp_path / "c.tif")
    assert metadata.axes == "CYX" and metadata.channel_axis(planes.shape) == 0
    assert metadata.write_options(planes.shape, planes.dtype)["resolution"] == (5.0, 5.0)


@pytest.mark.parametrize("planar", [True, False])
def test_gray_samples_in_a_file_tifffile_shaped_are_channels_too(tmp_path, rng, planar):
    """``tifffile.imwrite(path, yxc, photometric="minisblack", planarconfig="contig")`` (tifffile's
    shape note kept): before, read back as ``(Y, X, 3)``, which every task took for RGB."""
    from napari_hyperres.io.tiff_meta import read_tiff_metadata

    planes = rng.integers(100, 4000, (3, 20, 24), dtype=np.uint16)
    stored = planes if planar else np.moveaxis(planes, 0, -1)
    tifffile.imwrite(tmp_path / "c.tif", stored, photometric="minisblack", planarconfig="separate" if planar else "contig")
    assert tifffile.TiffFile(tmp_path / "c.tif").is_shaped
    np.testing.assert_array_equal(read_image(tmp_path / "c.tif"), planes)
    assert read_tiff_metadata(tmp_path / "c.tif").axes == "CYX"


@pytest.mark.parametrize(
    "name, shape, dtype, message",
    [
        ("a.jpg", (8, 8), np.uint16, "JPG holds uint8"),
        ("a.png", (8, 8), np.float32, "PNG holds uint8 or uint16"),
        ("a.png", (3, 8, 8), np.uint8, "write stacks as .tif"),
        ("a.jpg", (8, 8, 4), np.uint8, "has no alpha channel and this image has one; write .png or .tif"),
        ("a.bmp", (8, 8), np.uint16, "BMP holds uint8"),
        ("a.png", (8, 8, 2), np.uint8, "channel"),
        ("a.gif", (8, 8), np.uint8, "unsupported output type '.gif'"),
        ("a.tif", (8, 8), np.complex64, "TIFF"),
    ],
)
def test_formats_refuse_what_they_cannot_hold(tmp_path, name, shape, dtype, message):
    with pytest.raises(ShapeError, match=message):
        check_writable(tmp_path / name, shape, dtype)
    with pytest.raises(ShapeError, match=message):
        write_image(tmp_path / name, np.zeros(shape, dtype))
    assert not any(tmp_path.iterdir())  # nothing written, not even a temporary file


def test_write_is_atomic_and_replaces_only_when_asked(tmp_path, rng):
    path = tmp_path / "a.png"
    write_image(path, np.zeros((8, 8), np.uint8))
    with pytest.raises(FileExistsError, match="exists: left as it is"):  # a reliability review: the default replaced
        write_image(path, np.full((8, 8), 9, np.uint8))                 # the input of write_image(p, restore(read_image(p)))
    assert read_image(path).max() == 0
    write_image(path, np.full((8, 8), 9, np.uint8), overwrite=True)
    assert read_image(path).max() == 9
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_write_that_must_not_replace_leaves_a_file_made_meanwhile(tmp_path, monkeypatch):
    """``overwrite=False`` decides when the file is complete: a file made meanwhile by another writer
    stays, whether or not the file system has hard links."""
    from napari_hyperres.core import atomic

    path = tmp_path / "a.tif"
    write_image(path, np.zeros((4, 4), np.uint16), overwrite=False)  # new: written
    with pytest.raises(FileExistsError, match=r"exists: left as it is \(made by an earlier run, or by another one writing"):
        write_image(path, np.ones((4, 4), np.uint16), overwrite=False)
    assert read_image(path).max() == 0 and [p.name for p in tmp_path.iterdir()] == ["a.tif"]

    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    with pytest.raises(FileExistsError):
        write_image(path, np.ones((4, 4), np.uint16), overwrite=False)
    write_image(tmp_path / "b.tif", np.ones((4, 4), np.uint16), overwrite=False)
    assert read_image(path).max() == 0 and read_image(tmp_path / "b.tif").max() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg"])
def test_outputs_record_how_they_were_made(tmp_path, suffix):
    """A batch review found no trace in a restored file of the task, level, weights or precision. The
    record reads back equal, leaves an ImageJ hyperstack an ImageJ hyperstack, and is the same bytes twice."""
    import tifffile

    from napari_hyperres.io.provenance import read_provenance, record
    from napari_hyperres.io.tiff_meta import read_tiff_metadata

    made = record(task="microscopy", level=[12.5, 40.0], unit="photons", weights="microscopy.lite", precision="float32")
    image = (np.arange(2 * 3 * 16 * 16).reshape(2, 3, 16, 16) % 251).astype(np.uint8) if suffix == ".tif" else np.zeros((16, 16, 3), np.uint8)
    options = {}
    if suffix == ".tif":
        tifffile.imwrite(tmp_path / "source.tif", image, imagej=True, metadata={"axes": "ZCYX", "spacing": 0.3})
        options["tiff_metadata"] = read_tiff_metadata(tmp_path / "source.tif")
    path = write_image(tmp_path / f"out{suffix}", image, provenance=made, **options)
    assert read_provenance(path) == made and made["software"].startswith("napari-hyperres ")
    np.testing.assert_array_equal(read_image(path), image) if suffix != ".jpg" else None
    first = path.read_bytes()
    write_image(path, image, provenance=made, overwrite=True, **options)
    assert path.read_bytes() == first
    if suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            assert tif.is_imagej and tif.series[0].axes == "ZCYX" and tif.imagej_metadata["spacing"] == pytest.approx(0.3)
    assert read_provenance(write_image(tmp_path / f"plain{suffix}", image, **options)) is None


@pytest.mark.parametrize("axes, shape, kind", [("ZYX", (5, 32, 32), "imagej"), ("ZCYX", (4, 2, 32, 32), "imagej"),
                                               ("CZYX", (2, 4, 32, 32), "ome"), ("TYX", (3, 32, 32), "imagej")])
def test_a_level_sweep_saves_with_the_pixel_size_of_its_file(tmp_path, axes, shape, kind):
    """A microscopy review: a Level sweep of a plane (levels, then one size-1 axis per axis of the file or of
    one channel) was saved with axes QQYX and no pixel size, from ImageJ and OME files alike."""
    import tifffile

    from napari_hyperres.io.tiff_meta import read_tiff_metadata

    data = np.zeros(shape, np.uint16)
    if kind == "imagej":
        tifffile.imwrite(tmp_path / "in.tif", data, imagej=True, resolution=(10.0, 10.0),
                         metadata={"axes": axes, "spacing": 0.3, "unit": "micron", "finterval": 2.0})
    else:
        tifffile.imwrite(tmp_path / "in.tif", data, ome=True, metadata={"axes": axes, "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1})
    source = read_tiff_metadata(tmp_path / "in.tif")
    lead = len(shape) - 2
    sweeps = [(3,) + (1,) * lead + (32, 32)] + ([(3,) + (1,) * (lead - 1) + (32, 32)] if "C" in axes else [])
    for sweep in sweeps:
        out = write_image(tmp_path / "sweep.tif", np.zeros(sweep, np.uint16), tiff_metadata=source.for_sweep(sweep), overwrite=True)
        saved = read_tiff_metadata(out)
        if kind == "ome":
            assert saved.ome["PhysicalSizeX"] == pytest.approx(0.1) and saved.axes == "TYX"
            continue
        assert saved.resolution == pytest.approx((10.0, 10.0))
        if "T" in axes:  # the levels cannot be frames: an unnamed axis, the pixel size kept
            assert saved.imagej is None
        else:
            assert saved.axes == "TYX" and saved.imagej["spacing"] == pytest.approx(0.3) and "finterval" not in saved.imagej


def test_save_suggests_a_tiff_for_a_level_sweep_of_a_photo():
    from napari_hyperres.ui.widget_save import save_suffix

    assert save_suffix("photo.jpg", 3, True) == ".png" and save_suffix("scan.png", 2, False) == ".png"
    assert save_suffix("photo.jpg", 4, True) == ".tif" and save_suffix("scan.png", 3, False) == ".tif"  # a sweep's levels
    assert save_suffix("cells.tiff", 3, False) == ".tiff" and save_suffix(None, 2, False) == ".tif"


def test_write_creates_folders(tmp_path):
    path = write_image(tmp_path / "new" / "deeper" / "a.tif", np.zeros((4, 4), np.uint16))
    assert read_image(path).dtype == np.uint16


def test_read_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(tmp_path / "missing.png")


@pytest.mark.parametrize("name", ["broken.png", "broken.jpg", "broken.tif"])
def test_read_damaged_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"not an image at all" * 10)
    with pytest.raises(ShapeError, match=name):
        read_image(path)


def test_read_truncated_tiff(tmp_path, rng):
    good = write_image(tmp_path / "good.tif", rng.integers(0, 65535, (3, 64, 64), dtype=np.uint16))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ShapeError, match="cut.tif"):
        read_image(cut)


def test_read_unsupported_suffix(tmp_path):
    path = tmp_path / "a.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShapeError, match="unsupported file type '.gif'"):
        read_image(path)


def test_fiji_display_and_ome_channel_names_survive_a_restore(tmp_path, rng, tiny_weights):
    """A two-colour ImageJ hyperstack reopened in Fiji as grey channels one at a time (mode composite,
    LUTs, display ranges and slice labels were dropped), and OME channel names were lost (a review)."""
    from napari_hyperres.cli.main import main

    stack = rng.integers(100, 4000, (2, 2, 32, 40), dtype=np.uint16)
    luts = [np.zeros((3, 256), np.uint8) for _ in range(2)]
    luts[0][1], luts[1][0] = np.arange(256), np.arange(256)  # green, red
    display = {"mode": "composite", "LUTs": luts, "Ranges": (100.0, 3000.0, 200.0, 3500.0),
               "Labels": ["z0 GFP", "z0 RFP", "z1 GFP", "z1 RFP"], "Info": "Objective=60x/1.4"}
    tifffile.imwrite(tmp_path / "ij.tif", stack, imagej=True, metadata={"axes": "ZCYX", **display})
    tifffile.imwrite(tmp_path / "in.ome.tif", stack, ome=True,
                     metadata={"axes": "ZCYX", "PhysicalSizeX": 0.2, "Channel": {"Name": ["GFP", "RFP"]}})
    for name in ("ij.tif", "in.ome.tif"):
        assert main(["restore", str(tmp_path / name), str(tmp_path / f"out_{name}"), "--task", "denoise", "--level", "10",
                     "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"]) == 0
    with tifffile.TiffFile(tmp_path / "out_ij.tif") as tif:
        written = tif.imagej_metadata
        assert written["mode"] == "composite" and written["Labels"] == display["Labels"] and written["Info"] == display["Info"]
        assert tuple(written["Ranges"]) == display["Ranges"]
        assert all(np.array_equal(a, b) for a, b in zip(written["LUTs"], luts, strict=True))
    with tifffile.TiffFile(tmp_path / "out_in.ome.tif") as tif:
        assert 'Name="GFP"' in tif.ome_metadata and 'Name="RFP"' in tif.ome_metadata


def test_a_tiff_of_several_series_says_only_the_first_is_read(tmp_path):
    """A reliability review: a TIFF holding 3 series was restored as its first, the others dropped without a word."""
    import tifffile

    from napari_hyperres import read_image

    path = tmp_path / "series.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.zeros((32, 32), np.uint16))
        tif.write(np.ones((16, 16), np.uint8))
    with pytest.warns(UserWarning, match=r"series.tif holds 2 image series; only the first, \(32, 32\), is read \(the others, \(16, 16\)"):
        image = read_image(path)
    assert image.shape == (32, 32)


@pytest.mark.parametrize("unit", ["micron", "\\u00B5m"])  # ImageJ files are ASCII: µ is written escaped
def test_an_imagej_files_voxel_size_reaches_its_zarr_output_whatever_it_calls_the_micron(tmp_path, unit):
    """Reading the change: ImageJ writes the micrometre escaped (\\u00B5m), which the lower-cased comparison missed."""
    import tifffile

    from napari_hyperres.io.tiff_meta import read_tiff_metadata

    tifffile.imwrite(tmp_path / "in.tif", np.zeros((3, 16, 16), np.uint16), imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                     metadata={"axes": "ZYX", "spacing": 0.3, "unit": unit})
    assert read_tiff_metadata(tmp_path / "in.tif").ngff()["scale"] == pytest.approx([0.3, 0.065, 0.065])
