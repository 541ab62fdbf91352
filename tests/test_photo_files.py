"""What a photographer's files keep through a restore (a fifth review, 2026-12-06): the camera's EXIF
and print resolution, full-resolution chroma in a JPEG output, the quality of a JPEG saved twice.

Files are written and read back by Pillow (other software than the one under test), so a malformed
segment or chunk fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_hyperres.cli.main import main
from napari_hyperres.core.jpeg_quality import read_jpeg_chroma, read_jpeg_quality
from napari_hyperres.io.exif import read_photo_metadata

Image = pytest.importorskip("PIL.Image")

pytestmark = pytest.mark.usefixtures("one_thread")

MAKE, DATE, ORIENTATION, EXIF_IFD, PIXEL_X, PIXEL_Y = 0x010F, 0x0132, 0x0112, 0x8769, 0xA002, 0xA003
X_RESOLUTION, Y_RESOLUTION = 0x011A, 0x011B


def camera_jpeg(path, orientation: int = 1, size=(64, 48)) -> None:
    """A colour JPEG as a camera writes it: make, date, orientation, pixel size in the EXIF IFD, 300 dpi."""
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    rgb = np.stack([x * 4 % 256, y * 5 % 256, 255 - x * 3 % 256], axis=-1).astype(np.uint8)
    exif = Image.Exif()
    exif[MAKE], exif[DATE], exif[ORIENTATION] = "Canon", "2026:11:30 10:11:12", orientation
    exif[X_RESOLUTION], exif[Y_RESOLUTION] = 300.0, 300.0  # the EXIF's own dpi, beside the JFIF header's
    exif.get_ifd(EXIF_IFD).update({PIXEL_X: size[0], PIXEL_Y: size[1]})
    Image.fromarray(rgb).save(path, quality=40, exif=exif, dpi=(300, 300))


def restore(args: list[str], weights) -> int:
    return main(["restore", *args, "--weights", str(weights), "--device", "cpu", "--quiet"])


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_restored_photo_keeps_its_camera_date_and_dpi_and_says_it_is_upright(tmp_path, tiny_weights, suffix):
    src, out = tmp_path / "photo.jpg", tmp_path / f"out{suffix}"
    camera_jpeg(src, orientation=6)  # a phone held upright: stored sideways, read_image turns it
    assert restore([str(src), str(out), "--task", "denoise", "--level", "10"], tiny_weights["denoise"]) == 0
    with Image.open(out) as image:
        image.load()  # the whole file decodes: the inserted segments or chunks are well formed
        exif = image.getexif()
        assert exif[MAKE] == "Canon" and exif[DATE] == "2026:11:30 10:11:12"
        assert exif[ORIENTATION] == 1, "the pixels are upright now; a viewer must not turn them again"
        assert image.size == (48, 64)  # turned: 64 × 48 stored sideways
        assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)


def test_an_enlarged_photo_records_its_new_size_and_resolution(tmp_path, tiny_weights):
    src, out = tmp_path / "photo.jpg", tmp_path / "big.png"
    camera_jpeg(src)
    assert restore([str(src), str(out), "--task", "sr", "--level", "2"], tiny_weights["sr"]) == 0
    with Image.open(out) as image:
        ifd = image.getexif().get_ifd(EXIF_IFD)
        assert (ifd[PIXEL_X], ifd[PIXEL_Y]) == image.size == (128, 96)
        assert tuple(round(v) for v in image.info["dpi"]) == (600, 600)  # the same print size
        assert float(image.getexif()[X_RESOLUTION]) == float(image.getexif()[Y_RESOLUTION]) == 600.0  # the EXIF's too (a review)


def test_the_inputs_thumbnail_is_left_out_of_the_output():
    """A review: the output's EXIF kept the input's thumbnail (IFD1): the degraded image, sideways once the
    orientation says upright."""
    import struct

    from napari_hyperres.io.exif import without_thumbnail

    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", ORIENTATION, 3, 1, 6) + struct.pack("<I", 26)  # then IFD1 at 26
    ifd1 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0103, 3, 1, 6) + struct.pack("<I", 0)  # compression: JPEG
    exif = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1
    assert struct.unpack_from("<I", exif, 8 + 2 + 12)[0] == 26
    cut = without_thumbnail(exif)
    assert struct.unpack_from("<I", cut, 8 + 2 + 12)[0] == 0 and cut[:22] == exif[:22]
    loaded = Image.Exif()
    loaded.load(b"Exif\x00\x00" + cut)
    assert loaded[ORIENTATION] == 6


def test_a_resolution_shared_by_x_and_y_is_scaled_once():
    """A diff review: X and Y resolution pointing at one rational went 300 → 1200 after sr ×2."""
    import struct

    from napari_hyperres.io.exif import X_RESOLUTION, Y_RESOLUTION, patched

    entries = struct.pack("<HHII", X_RESOLUTION, 5, 1, 38) + struct.pack("<HHII", Y_RESOLUTION, 5, 1, 38)
    exif = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2) + entries + struct.pack("<I", 0) + struct.pack("<II", 300, 1)
    out = patched(exif, {}, {X_RESOLUTION: 2.0, Y_RESOLUTION: 2.0})
    assert struct.unpack_from("<II", out, 38) == (600, 1)


def test_a_png_input_keeps_its_orientation_because_its_pixels_were_not_turned(tmp_path, tiny_weights):
    src, out = tmp_path / "photo.png", tmp_path / "out.png"
    exif = Image.Exif()
    exif[ORIENTATION], exif[MAKE] = 6, "Nikon"
    Image.fromarray(np.full((32, 40, 3), 120, np.uint8)).save(src, exif=exif, dpi=(72, 72))
    assert read_photo_metadata(src).exif is not None
    assert restore([str(src), str(out), "--task", "denoise", "--level", "10"], tiny_weights["denoise"]) == 0
    with Image.open(out) as image:
        assert image.getexif()[ORIENTATION] == 6 and image.getexif()[MAKE] == "Nikon"


def test_files_without_exif_or_with_a_damaged_one_are_written_without(tmp_path, tiny_weights):
    src, out = tmp_path / "plain.png", tmp_path / "out.jpg"
    Image.fromarray(np.full((32, 40, 3), 120, np.uint8)).save(src)
    assert read_photo_metadata(src).exif is None
    assert restore([str(src), str(out), "--task", "denoise", "--level", "10"], tiny_weights["denoise"]) == 0
    with Image.open(out) as image:
        image.load()
        assert not image.getexif()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff\xff\xff" + b"\x00" * 8)
    assert read_photo_metadata(broken).exif is not None  # read as bytes; patching an unreadable IFD leaves it as is


def test_a_jpeg_output_keeps_full_resolution_chroma_at_the_quality_asked(tmp_path, tiny_weights, capsys):
    src = tmp_path / "photo.jpg"
    camera_jpeg(src)
    assert read_jpeg_chroma(src) == "subsampled"  # 4:2:0, Pillow's default, as most photos
    default, chosen = tmp_path / "out.jpg", tmp_path / "out85.jpg"
    assert main(["restore", str(src), str(default), "--task", "denoise", "--level", "10",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu"]) == 0
    assert "compressed again at quality 95" in capsys.readouterr().err
    assert restore([str(src), str(chosen), "--task", "denoise", "--level", "10", "--jpeg-quality", "85"], tiny_weights["denoise"]) == 0
    assert read_jpeg_chroma(default) == read_jpeg_chroma(chosen) == "full"  # 4:4:4
    assert round(read_jpeg_quality(default).quality) == 95 and round(read_jpeg_quality(chosen).quality) == 85
    with pytest.raises(SystemExit):
        main(["restore", str(src), str(tmp_path / "x.jpg"), "--task", "denoise", "--level", "10", "--jpeg-quality", "101"])


def test_sr_on_a_jpeg_file_suggests_removing_its_blocks_first(tmp_path, tiny_weights, capsys):
    src = tmp_path / "small.jpg"
    camera_jpeg(src)
    assert main(["restore", str(src), str(tmp_path / "big.png"), "--task", "sr", "--level", "2",
                 "--weights", str(tiny_weights["sr"]), "--device", "cpu"]) == 0
    assert "remove them first (--task dejpeg --level auto" in capsys.readouterr().err


def test_a_folder_run_reads_webp_as_png_and_names_the_files_it_skips(tmp_path, tiny_weights, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.fromarray(np.full((32, 40, 3), 120, np.uint8)).save(folder / "a.png")
    Image.fromarray(np.full((32, 40, 3), 120, np.uint8)).save(folder / "b.webp", quality=80)  # written by another library
    Image.fromarray(np.full((32, 40, 3), 120, np.uint8)).save(folder / "c.gif")
    (folder / "notes.txt").write_text("x")
    assert main(["restore", str(folder), str(out), "--task", "denoise", "--level", "10",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "2 file(s) of a type this tool does not read were skipped (.gif, .txt)" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]  # WebP is read, and written as PNG
    with Image.open(out / "b.png") as image:
        assert image.size == (40, 32) and image.mode == "RGB"
    assert main(["restore", str(folder / "a.png"), str(tmp_path / "x.webp"), "--task", "denoise", "--level", "10"]) == 2
    assert "unsupported output type '.webp'" in capsys.readouterr().err


@pytest.mark.parametrize(("first", "again", "expected"), [(20, 90, 20), (90, None, 90), (40, None, 40)])
def test_auto_reads_a_jpeg_saved_again_by_its_pixels(tmp_path, capsys, first, again, expected):
    """A photo saved at quality 20 and again at 90 records 90 in its tables; restoring at 90 left its
    blocks (reviewer: +0.41 dB against +1.89 at 20). The shipped estimator reads the pixels."""
    import cv2
    from skimage import data

    clean = np.ascontiguousarray(data.chelsea()[:256, :256, ::-1])  # bundled with scikit-image; BGR for OpenCV
    ok, encoded = cv2.imencode(".jpg", clean, [cv2.IMWRITE_JPEG_QUALITY, first])
    path = tmp_path / "photo.jpg"
    if again is not None:
        ok, encoded = cv2.imencode(".jpg", cv2.imdecode(encoded, cv2.IMREAD_COLOR), [cv2.IMWRITE_JPEG_QUALITY, again])
    path.write_bytes(encoded.tobytes())
    assert main(["estimate", str(path), "--task", "dejpeg", "--device", "cpu"]) == 0
    line = capsys.readouterr().out.strip().split("\t")
    assert abs(float(line[1]) - expected) <= 5
    assert ("saved again at 90" in line[2]) == (again is not None)


@pytest.mark.parametrize(("quality", "expected"), [(20, 20.0), (75, 75.0), (90, None)])
def test_a_jpeg_saved_for_the_web_calls_for_dejpeg_and_a_cameras_does_not(tmp_path, quality, expected):
    """``task_for_file`` reads only the tables: q ≤ 75 (libjpeg's and Pillow's default) → dejpeg at
    that quality; a camera's q 90 file → nothing (its noise, not its blocks, needs restoring)."""
    import cv2

    from napari_hyperres.blind.levels import task_for_file
    from napari_hyperres.core.plugins import get_tasks

    image = np.random.default_rng(4).integers(0, 255, size=(32, 40, 3), dtype=np.uint8)
    path = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    found = task_for_file(path, get_tasks().values())
    assert (found if found is None else (found[0].name, found[1])) == (None if expected is None else ("dejpeg", expected))
    assert task_for_file(None, get_tasks().values()) is None
    png = tmp_path / "photo.png"
    assert cv2.imwrite(str(png), image)
    assert task_for_file(png, get_tasks().values()) is None  # a PNG records no level
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(path.read_bytes()[:20])
    assert task_for_file(damaged, get_tasks().values()) is None  # read as whatever the reader makes of it, never an error here


def test_the_widgets_save_keeps_a_photos_orientation_and_camera(tmp_path):
    """A photographer review: Save… of a denoised orientation-6 JPEG (napari's reader keeps the stored
    pixels) wrote them without the tag and without the EXIF: every viewer showed the photo sideways."""
    from napari_hyperres.ui.widget_save import save_restored

    camera_jpeg(tmp_path / "cat.jpg", orientation=6, size=(64, 48))
    with Image.open(tmp_path / "cat.jpg") as image:
        stored = np.asarray(image)  # (48, 64, 3): as napari shows it, not turned
    for name, pixels, expected in (("stored.jpg", stored, 6), ("upright.png", np.ascontiguousarray(np.rot90(stored, -1)), 1)):
        save_restored(tmp_path / name, pixels, str(tmp_path / "cat.jpg"))
        with Image.open(tmp_path / name) as out:
            exif = out.getexif()
            assert exif[ORIENTATION] == expected and exif[MAKE] == "Canon"
            assert out.size == (pixels.shape[1], pixels.shape[0])


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'tiff:Orientation="6"><dc:rights>(c) Jane Doe</dc:rights></rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_photos_xmp_is_carried_upright(tmp_path, tiny_weights, suffix):
    """A review: a photo's XMP (Lightroom's keywords, rating, copyright) was dropped. It is carried into JPEG and
    PNG outputs; where reading turned the pixels (a JPEG), its orientation says upright as the EXIF's does."""
    from PIL import PngImagePlugin

    src = tmp_path / f"photo{suffix}"
    rgb = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    if suffix == ".jpg":
        Image.fromarray(rgb).save(src, quality=40, exif=exif, xmp=XMP)
    else:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)  # compressed: read too
        Image.fromarray(rgb).save(src, pnginfo=info, exif=exif)
    for out_suffix in (".jpg", ".png"):
        out = tmp_path / f"out{out_suffix}"
        assert restore([str(src), str(out), "--task", "denoise", "--level", "10", "--overwrite"], tiny_weights["denoise"]) == 0
        with Image.open(out) as image:
            image.load()
            xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
            xmp = xmp if isinstance(xmp, bytes) else xmp.encode()
            assert b"(c) Jane Doe" in xmp
            turned = suffix == ".jpg"
            assert (b'tiff:Orientation="1"' in xmp) == turned and image.getexif()[ORIENTATION] == (1 if turned else 6)


def test_xmp_follows_the_pixels_it_describes():
    """A review: XMP's orientation was set upright for a JPEG whose pixels were not turned (no EXIF orientation),
    its pixel dimensions kept the input's after sr, and a later damaged chunk dropped a good one."""
    import struct
    import zlib

    from napari_hyperres.io import exif as exif_module

    xmp = XMP.replace(b'tiff:Orientation="6"', b'tiff:Orientation="6" exif:PixelXDimension="64" tiff:ImageLength="48"')
    unturned = exif_module.PhotoMetadata(None, None, xmp)
    for turned_exif, expected in ((None, b'tiff:Orientation="6"'), (struct.pack("<2sHI", b"II", 42, 8)
                                  + struct.pack("<H", 1) + struct.pack("<HHII", ORIENTATION, 3, 1, 6) + struct.pack("<I", 0),
                                  b'tiff:Orientation="1"')):
        found = exif_module.PhotoMetadata(turned_exif, None, xmp)
        original = exif_module.read_photo_metadata
        exif_module.read_photo_metadata = lambda path, found=found: found
        try:
            out = exif_module.output_exif("photo.jpg", (48, 64, 3), (128, 96, 3), turned=True)
        finally:
            exif_module.read_photo_metadata = original
        assert expected in out.xmp and b'exif:PixelXDimension="96"' in out.xmp and b'tiff:ImageLength="128"' in out.xmp
    assert unturned.xmp == xmp
    good = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP)
    png = exif_module.PNG_SIGNATURE + exif_module.png_chunk(b"IHDR", b"\x00" * 13) + exif_module.png_chunk(b"iTXt", good)
    png += exif_module.png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00not zlib") + exif_module.png_chunk(b"IEND", b"")
    assert exif_module._png_metadata(png).xmp == XMP


def test_a_photos_own_text_is_carried_into_its_format(tmp_path, tiny_weights):
    """A review: a PNG's text chunks other than XMP (Title, Author, Copyright…; Pillow writes tEXt, zTXt and iTXt)
    and a JPEG's comment were dropped. They are carried, as they were, into an output of the same format."""
    from PIL import PngImagePlugin

    rgb = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Harbour at dusk")
    info.add_text("Copyright", "(c) Jane Doe", zip=True)
    info.add_itxt("Description", "Hafen in der Dämmerung", lang="de")
    info.add_text("Raw profile type exif", "exif\n      12\n457869660000", zip=True)  # ImageMagick's stale EXIF copy: left out
    png, jpg = tmp_path / "photo.png", tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(png, pnginfo=info)
    Image.fromarray(rgb).save(jpg, quality=40, comment=b"shot on film, scanned 2026")
    for src in (png, jpg):
        out = tmp_path / f"out{src.suffix}"
        assert restore([str(src), str(out), "--task", "denoise", "--level", "10"], tiny_weights["denoise"]) == 0
        with Image.open(out) as image:
            image.load()
            if src is png:
                assert {k: v for k, v in image.text.items() if k != "napari-hyperres"} == {"Title": "Harbour at dusk", "Copyright": "(c) Jane Doe",
                                      "Description": "Hafen in der Dämmerung"}
            else:
                assert image.info["comment"] == b"shot on film, scanned 2026"
        again = tmp_path / f"again{src.suffix}"  # an output restored again: one record of this package, the new one
        assert restore([str(out), str(again), "--task", "denoise", "--level", "5"], tiny_weights["denoise"]) == 0
        data = again.read_bytes()
        assert data.count(b"\"source_file\"") == 1 and b'"level":5.0' in data
