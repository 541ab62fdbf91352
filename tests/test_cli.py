"""The command line (``python -m napari_hyperres``) on real files.

A few runs go through a real subprocess (the entry point, exit codes, stderr);
the rest call :func:`napari_hyperres.cli.main.main` in-process, which is the same code.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from conftest import subprocess_env

from napari_hyperres.cli.common import ProgressLine
from napari_hyperres.cli.main import COMMANDS, build_parser, main
from napari_hyperres.engine import Restorer
from napari_hyperres.io.files import read_image, write_image


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "napari_hyperres", *map(str, args)], capture_output=True,
                          text=True, env=subprocess_env(), timeout=120)


def _bgr_png(path: Path, rng) -> np.ndarray:
    y, x = np.mgrid[0:40, 0:52]
    bgr = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1).astype(np.uint8)
    bgr = np.clip(bgr + rng.integers(-10, 10, bgr.shape), 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(path), bgr)
    return bgr


@pytest.fixture
def weights(tiny_weights) -> str:
    return str(tiny_weights["denoise"])


# --- subprocess runs -----------------------------------------------------------------------------------
def test_restore_png(tmp_path, rng, weights):
    bgr = _bgr_png(tmp_path / "in.png", rng)
    done = run_cli("restore", tmp_path / "in.png", tmp_path / "out.png", "--task", "denoise", "--level", "25",
                   "--weights", weights, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert "in.png: denoise 25 ->" in done.stderr
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint8 and out.shape == bgr.shape
    assert np.abs(out.astype(int) - bgr).max() <= 3  # untrained tiny net: nearly the input, channels not swapped
    expected = Restorer("denoise", weights=weights, device="cpu").restore(read_image(tmp_path / "in.png"), 25)
    assert np.array_equal(read_image(tmp_path / "out.png"), expected)


def test_restore_outside_the_trained_levels_says_so(tmp_path, rng, weights):
    _bgr_png(tmp_path / "in.png", rng)
    done = run_cli("restore", tmp_path / "in.png", tmp_path / "out.png", "--task", "denoise", "--level", "70",
                   "--weights", weights, "--device", "cpu")  # the tiny weights were trained on σ 15 and 50
    assert done.returncode == 0, done.stderr
    assert "in.png: denoise 70 (above the trained σ (8-bit) 15–50: extrapolated) ->" in done.stderr


def test_restore_with_self_ensemble(tmp_path, rng):
    """The shipped weights (a trained network: the 8 passes differ from one)."""
    tifffile.imwrite(tmp_path / "in.tif", rng.integers(0, 4095, (36, 30), dtype=np.uint16))
    done = run_cli("restore", tmp_path / "in.tif", tmp_path / "out.tif", "--task", "denoise", "--level", "25",
                   "--device", "cpu", "--self-ensemble")
    assert done.returncode == 0, done.stderr
    assert "in.tif: denoise 25, 8 passes ->" in done.stderr
    image = read_image(tmp_path / "in.tif")
    expected = Restorer("denoise", device="cpu", self_ensemble=True).restore(image, 25)
    assert np.array_equal(read_image(tmp_path / "out.tif"), expected)
    assert not np.array_equal(expected, Restorer("denoise", device="cpu").restore(image, 25))


def test_restore_16bit_multipage_tiff(tmp_path, rng, weights):
    stack = rng.integers(0, 65535, (3, 40, 50), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    done = run_cli("restore", tmp_path / "stack.tif", tmp_path / "restored.tif", "--task", "denoise",
                   "--level", "10", "--weights", weights, "--tile", "32")
    assert done.returncode == 0, done.stderr
    out = tifffile.imread(tmp_path / "restored.tif")
    assert out.dtype == np.uint16 and out.shape == stack.shape
    with tifffile.TiffFile(tmp_path / "restored.tif") as tif:
        assert len(tif.pages) == 3


@pytest.mark.parametrize("compression", ["lzw", "zstd"])
def test_restore_a_compressed_tiff_as_microscopes_write_them(tmp_path, rng, weights, compression):
    stack = rng.integers(100, 4000, (2, 40, 50), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack, compression=compression)  # needs imagecodecs, a dependency
    done = run_cli("restore", tmp_path / "stack.tif", tmp_path / "restored.tif", "--task", "denoise", "--level", "10", "--weights", weights)
    assert done.returncode == 0, done.stderr
    out = tifffile.imread(tmp_path / "restored.tif")
    assert out.dtype == np.uint16 and out.shape == stack.shape


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_an_imagej_hyperstack_keeps_its_axes_pixel_size_and_spacing(tmp_path, rng, weights, stream):
    """Fiji opens the output as it opened the input: Z and C apart, 0.2 µm pixels, 0.5 µm z-steps."""
    stack = rng.integers(100, 4000, (3, 2, 40, 50), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", stack, imagej=True, resolution=(5.0, 5.0),
                     metadata={"axes": "ZCYX", "spacing": 0.5, "unit": "um"})
    extra = ["--memory-budget", "0.01"] if stream else []  # 10 KB: the 24 KB stack is streamed page by page
    done = run_cli("restore", tmp_path / "in.tif", tmp_path / "out.tif", "--task", "denoise", "--level", "10",
                   "--weights", weights, *extra)
    assert done.returncode == 0, done.stderr
    assert ("(streaming)" in done.stderr) == stream
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZCYX" and tif.series[0].shape == stack.shape
        assert tif.imagej_metadata["spacing"] == 0.5 and tif.imagej_metadata["unit"] == "um"
        assert tif.pages[0].tags["XResolution"].value == (5, 1)


def test_a_planar_rgb_tiff_keeps_its_pixel_size(tmp_path, rng, weights):
    """RGB stored as separate planes by other software is restored as RGB, and its output keeps the
    pixel size (before: the metadata's SYX axes no longer matched the (Y, X, 3) image and were dropped)."""
    planes = rng.integers(0, 255, (3, 30, 40), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", planes, photometric="rgb", planarconfig="separate", metadata=None,
                     resolution=(5.0, 5.0), resolutionunit="CENTIMETER")
    done = run_cli("restore", tmp_path / "in.tif", tmp_path / "out.tif", "--task", "denoise", "--level", "10",
                   "--weights", weights)
    assert done.returncode == 0, done.stderr
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.series[0].shape == (30, 40, 3) and tif.series[0].axes == "YXS"
        assert tif.pages[0].tags["XResolution"].value == (5, 1) and tif.pages[0].tags["ResolutionUnit"].value == 3


@pytest.mark.parametrize(("task", "level", "size"), [("denoise", "10", 0.2), ("sr", "2", 0.1)])
def test_an_ome_tiff_keeps_its_voxel_size(tmp_path, rng, task, level, size):
    """The voxel size of an OME-TIFF lives in its OME-XML (resolution tags 1/1): it was lost, and the
    output had no OME-XML at all. Now the output is an OME-TIFF with the sizes (x / y ÷ s after sr)."""
    from napari_hyperres.io.tiff_meta import ome_pixels

    stack = rng.integers(100, 4000, (2, 2, 24, 30), dtype=np.uint16)
    sizes = {"PhysicalSizeX": 0.2, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.2, "PhysicalSizeYUnit": "µm", "PhysicalSizeZ": 0.5,
             "TimeIncrement": 2.5, "TimeIncrementUnit": "s"}  # a review: the frame interval was dropped
    tifffile.imwrite(tmp_path / "in.ome.tif", stack, ome=True, metadata={"axes": "TZYX", **sizes})
    done = run_cli("restore", tmp_path / "in.ome.tif", tmp_path / "out.ome.tif", "--task", task, "--level", level)
    assert done.returncode == 0, done.stderr
    with tifffile.TiffFile(tmp_path / "out.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "TZYX"
        assert ome_pixels(tif.ome_metadata) == {**sizes, "PhysicalSizeX": size, "PhysicalSizeY": size}


def test_sr_output_keeps_the_pixel_size_in_its_own_pixels(tmp_path, rng):
    image = rng.integers(100, 4000, (24, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", image, resolution=(4.0, 4.0), resolutionunit="CENTIMETER")
    done = run_cli("restore", tmp_path / "in.tif", tmp_path / "out.tif", "--task", "sr", "--level", "2")
    assert done.returncode == 0, done.stderr
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.series[0].shape == (48, 60)
        assert tif.pages[0].tags["XResolution"].value == (8, 1) and tif.pages[0].tags["ResolutionUnit"].value == 3


def test_bad_level_exits_2_with_one_line(tmp_path, rng, weights):
    _bgr_png(tmp_path / "in.png", rng)
    done = run_cli("restore", tmp_path / "in.png", tmp_path / "out.png", "--task", "denoise", "--level", "250",
                   "--weights", weights)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "level 250 is outside 0–100" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_folder_mode_with_jpeg(tmp_path, rng, tiny_weights):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _bgr_png(src / "a.png", rng)
    cv2.imwrite(str(src / "b.jpg"), cv2.imread(str(src / "a.png")), [cv2.IMWRITE_JPEG_QUALITY, 20])
    cv2.imwrite(str(src / "c.JPEG"), cv2.imread(str(src / "a.png"), cv2.IMREAD_GRAYSCALE))
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.png").write_bytes(b"")
    done = run_cli("restore", src, dst, "--task", "dejpeg", "--level", "20", "--weights", tiny_weights["dejpeg"])
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in dst.iterdir()) == ["a.png", "b.jpg", "c.JPEG"]
    b = read_image(dst / "b.jpg")
    assert b.dtype == np.uint8 and b.shape == (40, 52, 3)
    assert read_image(dst / "c.JPEG").shape == (40, 52)
    assert done.stderr.count("dejpeg 20 ->") == 3


# --- in-process runs ------------------------------------------------------------------------------------
def _restore(*args, weights=None, task="denoise", level="25"):
    argv = ["restore", *map(str, args), "--task", task, "--level", level, "--quiet"]
    return main(argv + (["--weights", str(weights)] if weights else []))


def test_refuses_to_overwrite_the_input(tmp_path, rng, weights, capsys):
    _bgr_png(tmp_path / "in.png", rng)
    before = (tmp_path / "in.png").read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["restore", str(tmp_path / "in.png"), str(tmp_path / "sub" / ".." / "in.png"), "--task", "denoise",
                     "--level", "25", "--weights", weights, *extra]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "in.png").read_bytes() == before


def test_refuses_an_existing_output_unless_overwrite(tmp_path, rng, weights, capsys):
    _bgr_png(tmp_path / "in.png", rng)
    assert _restore(tmp_path / "in.png", tmp_path / "out.png", weights=weights, level="10") == 0
    before = (tmp_path / "out.png").read_bytes()
    assert _restore(tmp_path / "in.png", tmp_path / "out.png", weights=weights) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "out.png").read_bytes() == before
    assert _restore(tmp_path / "in.png", tmp_path / "out.png", "--overwrite", weights=weights) == 0
    assert read_image(tmp_path / "out.png").shape == (40, 52, 3) and (tmp_path / "out.png").read_bytes() != before


def test_overwrite_replaces_only_this_programs_outputs(tmp_path, rng, weights, capsys):
    """A batch review: `restore g2/*.tif --overwrite`, the glob matching two raw files, restored the first
    INTO the second and exited 0. --overwrite replaces only files that record they are this program's outputs."""
    import tifffile

    from napari_hyperres.io.provenance import read_provenance

    raw = [tmp_path / "g2" / f"cell_{i}.tif" for i in (1, 2)]
    raw[0].parent.mkdir()
    for path in raw:
        tifffile.imwrite(path, rng.integers(0, 255, (40, 52), dtype=np.uint8))
    before = raw[1].read_bytes()
    assert _restore(*raw, "--overwrite", weights=weights) == 2
    assert "carries no napari-hyperres record" in capsys.readouterr().err and raw[1].read_bytes() == before
    assert _restore(raw[0], tmp_path / "out.tif", weights=weights) == 0  # an output: records how it was made
    made = read_provenance(tmp_path / "out.tif")
    assert made["task"] == "denoise" and made["level"] == 25.0 and made["source_file"] == "cell_1.tif"
    assert made["software"].startswith("napari-hyperres ") and made["precision"] in ("float32", "bfloat16")
    assert _restore(raw[0], tmp_path / "out.tif", "--overwrite", weights=weights) == 0
    assert _restore(raw[1], tmp_path / "out.tif", "--overwrite", weights=weights) == 2  # another input's output
    assert "records it was restored from cell_1.tif, not cell_2.tif" in capsys.readouterr().err
    bmp = [tmp_path / "a.bmp", tmp_path / "b.bmp"]  # a format with no place for the record: never taken for an output
    for path in bmp:
        write_image(path, rng.integers(0, 255, (40, 52), dtype=np.uint8))
    bmp_before = bmp[1].read_bytes()
    assert _restore(*bmp, "--overwrite", weights=weights) == 2 and bmp[1].read_bytes() == bmp_before
    assert "a .bmp file, which cannot hold one" in capsys.readouterr().err
    # --skip-existing leaves them, and names those that are not outputs of their input
    (tmp_path / "lab").mkdir()
    write_image(tmp_path / "lab" / "x.tif", rng.integers(0, 255, (40, 52), dtype=np.uint8))
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "x.tif").write_bytes(b"")
    assert main(["restore", str(tmp_path / "lab"), str(tmp_path / "done"), "--task", "denoise", "--level", "25",
                 "--weights", weights, "--skip-existing"]) == 0
    assert "1 are not this program's outputs of their input (empty, raw, or from another file): x.tif" in capsys.readouterr().err
    assert (tmp_path / "done" / "x.tif").read_bytes() == b""
    first = (tmp_path / "out.tif").read_bytes()
    assert _restore(raw[0], tmp_path / "out.tif", "--overwrite", weights=weights) == 0
    assert (tmp_path / "out.tif").read_bytes() == first  # no date in the record: the same bytes again


def test_skip_existing_restores_only_the_missing_outputs(tmp_path, rng, weights, capsys):
    """A batch review: an interrupted folder run could not be resumed (one existing output refused the whole
    run; --overwrite redid everything). --skip-existing leaves existing outputs alone and restores the rest."""
    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        _bgr_png(tmp_path / "in" / f"{name}.png", rng)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"done before the interruption")
    assert _restore(tmp_path / "in", tmp_path / "out", weights=weights) == 2
    assert "--skip-existing" in capsys.readouterr().err  # the refusal says how to resume
    assert main(["restore", str(tmp_path / "in"), str(tmp_path / "out"), "--task", "denoise", "--level", "25",
                 "--weights", weights, "--skip-existing"]) == 0
    assert "1 of 3 outputs exist and are left as they are" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.png").read_bytes() == b"done before the interruption"
    assert read_image(tmp_path / "out" / "b.png").shape == read_image(tmp_path / "out" / "c.png").shape == (40, 52, 3)
    with pytest.raises(SystemExit) as usage:  # one or the other
        main(["restore", str(tmp_path / "in"), str(tmp_path / "out"), "--task", "denoise", "--level", "25", "--skip-existing", "--overwrite"])
    assert usage.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_an_output_made_meanwhile_by_another_run_is_left_as_it_is(tmp_path, rng, weights, capsys, monkeypatch):
    """A batch review: two runs into one folder both exited 0, the second's files replacing the first's, since
    the 'already exists' check ran only at start-up. Whether the output exists is decided when it is written."""
    from napari_hyperres.engine import Restorer

    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        _bgr_png(tmp_path / "in" / f"{name}.png", rng)
    restore_with_report = Restorer.restore_with_report

    def beside_another_run(self, image, *args, **kwargs):
        out = tmp_path / "out" / "a.png"
        if not out.exists():
            out.parent.mkdir(exist_ok=True)
            out.write_bytes(b"the other run's")  # another run finishes a.png while this one restores it
        return restore_with_report(self, image, *args, **kwargs)

    monkeypatch.setattr(Restorer, "restore_with_report", beside_another_run)
    assert _restore(tmp_path / "in", tmp_path / "out", weights=weights) == 2
    err = capsys.readouterr().err
    assert "a.png exists: left as it is (made by an earlier run, or by another one" in err and "1 of 2 files failed" in err
    assert (tmp_path / "out" / "a.png").read_bytes() == b"the other run's"
    assert read_image(tmp_path / "out" / "b.png").shape == (40, 52, 3)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]  # no temporary file left
    (tmp_path / "out" / "a.png").unlink()
    (tmp_path / "out" / "b.png").unlink()
    assert main(["restore", str(tmp_path / "in"), str(tmp_path / "out"), "--task", "denoise", "--level", "25",
                 "--weights", weights, "--skip-existing"]) == 0  # resuming beside it: not a failure
    assert "was written meanwhile by another run" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.png").read_bytes() == b"the other run's"


def test_an_unwritable_output_folder_is_refused_before_any_work_and_success_follows_the_write(tmp_path, rng, weights, capsys, monkeypatch):
    """A review on a read-only file system: the run restored every file, printed "-> OUT" for each,
    then failed to write. The output's folder (or, where it is still to be made, the nearest one
    that exists) is checked first; the "->" line comes once the file is written."""
    import os

    import napari_hyperres.core.atomic as atomic

    _bgr_png(tmp_path / "in.png", rng)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    for target in (locked / "out.png", locked / "new" / "deeper" / "out.png"):
        assert _restore(tmp_path / "in.png", target, weights=weights) == 2
        err = capsys.readouterr().err
        assert f"cannot write into {target.parent} (permission denied)" in err and "denoise" not in err
    assert not (locked / "new").exists()
    monkeypatch.undo()

    def fail(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    def loud(target):  # not --quiet: the lines a user reads
        return main(["restore", str(tmp_path / "in.png"), str(target), "--task", "denoise", "--level", "25", "--weights", weights])

    monkeypatch.setattr("napari_hyperres.io.files.write_image", fail)
    assert loud(tmp_path / "out.png") == 2
    err = capsys.readouterr().err
    assert "Read-only file system" in err and "in.png: denoise 25" not in err and "->" not in err
    monkeypatch.undo()
    assert loud(tmp_path / "made" / "out.png") == 0
    err = capsys.readouterr().err
    assert f"note: made the folder {tmp_path / 'made'}" in err and f"-> {tmp_path / 'made' / 'out.png'}" in err


def test_no_note_is_printed_before_a_run_that_is_refused(tmp_path, rng, capsys):
    _bgr_png(tmp_path / "in.png", rng)
    (tmp_path / "broken.safetensors").write_bytes(b"not weights")
    target = tmp_path / "made" / "out.jpg"  # two notes: the folder, and JPEG compressing again
    code = main(["restore", str(tmp_path / "in.png"), str(target), "--task", "denoise", "--level", "25",
                 "--weights", str(tmp_path / "broken.safetensors")])
    err = capsys.readouterr().err
    assert code == 2 and "broken.safetensors" in err
    assert "note:" not in err and not (tmp_path / "made").exists()


def test_two_inputs_for_one_output_are_refused_before_any_work(tmp_path, rng, weights, capsys):
    """A review: photo.png and photo.webp (a WebP's output is PNG) both went to photo.png; the second failed as
    "made by an earlier run", and --skip-existing left it unrestored without a word."""
    (tmp_path / "in").mkdir()
    bgr = _bgr_png(tmp_path / "in" / "photo.png", rng)
    assert cv2.imwrite(str(tmp_path / "in" / "photo.webp"), bgr[::-1])
    for extra in ([], ["--skip-existing"]):
        code = main(["restore", str(tmp_path / "in"), str(tmp_path / "out"), "--task", "denoise", "--level", "25",
                     "--weights", str(weights), *extra])
        err = capsys.readouterr().err
        assert code == 2 and "photo.png and photo.webp would both be written to" in err
        assert not (tmp_path / "out").exists()


def test_notes_are_said_once_a_file_is_written(tmp_path, rng, weights, capsys):
    """A review: "written as JPEG, compressed again" came before a uint16 file's refusal to be a JPEG."""
    assert cv2.imwrite(str(tmp_path / "deep.png"), rng.integers(0, 65535, (40, 52, 3), dtype=np.uint16))
    code = main(["restore", str(tmp_path / "deep.png"), str(tmp_path / "out.jpg"), "--task", "denoise", "--level", "25",
                 "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "JPG holds uint8" in err and "note:" not in err
    _bgr_png(tmp_path / "in.png", rng)
    assert main(["restore", str(tmp_path / "in.png"), str(tmp_path / "out.jpg"), "--task", "denoise", "--level", "25",
                 "--weights", str(weights)]) == 0
    assert "note: 1 output(s) written as JPEG" in capsys.readouterr().err


def test_output_folder_for_a_single_file(tmp_path, rng, weights):
    _bgr_png(tmp_path / "in.png", rng)
    (tmp_path / "results").mkdir()
    assert _restore(tmp_path / "in.png", tmp_path / "results", weights=weights) == 0
    assert (tmp_path / "results" / "in.png").is_file()


def test_format_conversion_and_refusal(tmp_path, rng, weights, capsys):
    tifffile.imwrite(tmp_path / "in.tif", rng.integers(0, 65535, (30, 30), dtype=np.uint16))
    assert _restore(tmp_path / "in.tif", tmp_path / "out.png", weights=weights) == 0
    assert read_image(tmp_path / "out.png").dtype == np.uint16  # 16-bit PNG
    assert _restore(tmp_path / "in.tif", tmp_path / "out.jpg", weights=weights) == 2
    assert "JPG holds uint8 images, got uint16; write .png or .tif (both keep 16 bits) instead" in capsys.readouterr().err
    assert not (tmp_path / "out.jpg").exists()


def test_sr_and_value_range(tmp_path, rng, tiny_weights):
    tifffile.imwrite(tmp_path / "low.tif", rng.integers(0, 4096, (2, 15, 20), dtype=np.uint16))
    assert _restore(tmp_path / "low.tif", tmp_path / "high.tif", "--value-range", "0", "4095",
                    weights=tiny_weights["sr"], task="sr", level="2") == 0
    out = read_image(tmp_path / "high.tif")
    assert out.shape == (2, 30, 40) and out.dtype == np.uint16
    restorer = Restorer("sr", weights=str(tiny_weights["sr"]), device="cpu")
    assert np.array_equal(out, restorer.restore(read_image(tmp_path / "low.tif"), 2, value_range=(0, 4095)))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "deblur", "--level", "1"], "unknown task 'deblur'"),
        (["--task", "denoise", "--level", "loud"], "expected a number"),
        (["--task", "denoise", "--level", "25"], "no weights yet: train with `python -m trainer train --task denoise ...`"),
        (["--task", "denoise", "--level", "25", "--weights", "nowhere.safetensors"], "nowhere.safetensors"),
        (["--task", "sr", "--level", "2", "--weights", "{denoise}"], "weights are for task 'denoise', not 'sr'"),
        (["--task", "denoise", "--level", "25", "--weights", "{denoise}", "--device", "toaster"], "expected a device"),
    ],
    ids=["task", "level", "no-weights", "missing-weights", "wrong-weights", "device"],
)
def test_errors_exit_2_with_one_line(tmp_path, rng, tiny_weights, capsys, monkeypatch, args, message):
    import napari_hyperres.core.weights as weights_module

    # "no weights": as on an install whose pretrained folder lacks the task's file
    monkeypatch.setattr(weights_module, "PRETRAINED_DIR", tmp_path / "empty_pretrained")
    _bgr_png(tmp_path / "in.png", rng)
    args = [a.format(**{k: str(v) for k, v in tiny_weights.items()}) for a in args]
    assert main(["restore", str(tmp_path / "in.png"), str(tmp_path / "out.png"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out.png").exists()


def test_weights_lists_every_shipped_file(capsys):
    from napari_hyperres.core.weights import list_weights

    assert main(["weights"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shipped = list_weights()
    assert len(lines) == 2 + len(shipped) and lines[0].startswith("| name | kind |")
    for info, line in zip(shipped, lines[2:], strict=True):
        assert line.startswith(f"| `{info.name}` | {info.kind} | {info.preset} |") and f"| {info.steps} |" in line


def test_missing_and_damaged_inputs(tmp_path, weights, capsys):
    assert _restore(tmp_path / "nothing.png", tmp_path / "out.png", weights=weights) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "broken.png").write_bytes(b"garbage")
    assert _restore(tmp_path / "broken.png", tmp_path / "out.png", weights=weights) == 2
    assert "broken.png: OpenCV could not read" in capsys.readouterr().err
    (tmp_path / "in.png").write_bytes(b"")
    assert _restore(tmp_path / "in.png", tmp_path / "out.gif", weights=weights) == 2
    assert "unsupported output type '.gif'" in capsys.readouterr().err
    (tmp_path / "empty.tif").write_bytes(b"")  # a review: restore said "not a TIFF file: header=b''", estimate "empty"
    for command in (["restore", str(tmp_path / "empty.tif"), str(tmp_path / "out.tif")], ["estimate", str(tmp_path / "empty.tif")]):
        assert main([*command, "--task", "denoise", *(["--level", "25"] if command[0] == "restore" else [])]) == 2
        assert "the file is empty (0 bytes)" in capsys.readouterr().err


def test_folder_mode_keeps_going_past_a_bad_file(tmp_path, rng, weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _bgr_png(src / "good.png", rng)
    (src / "bad.png").write_bytes(b"garbage")
    assert _restore(src, tmp_path / "out", weights=weights) == 2
    err = capsys.readouterr().err.splitlines()
    assert any("bad.png: OpenCV could not read" in line for line in err)
    assert err[-1] == "error: 1 of 2 files failed; the others were written"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]


@pytest.mark.parametrize("workers", [[], ["--workers", "1"]], ids=["alone", "workers"])
def test_folder_mode_keeps_going_past_a_damaged_tiff_sorted_first(tmp_path, rng, weights, capsys, workers):
    """A damaged or empty TIFF is reported and the other files are written, whatever its place in
    the folder (the check for a cluster's use read every file before the per-file errors were caught)."""
    pytest.importorskip("distributed") if workers else None
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.tif").write_bytes(b"garbage")
    (src / "b.tif").write_bytes(b"")
    tifffile.imwrite(src / "c.tif", rng.integers(100, 4000, (24, 30), dtype=np.uint16))
    assert _restore(src, tmp_path / "out", *workers, weights=weights) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "error: 2 of 3 files failed; the others were written"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["c.tif"]


def test_folder_mode_refusals(tmp_path, rng, weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _bgr_png(src / "a.png", rng)
    assert _restore(src, src, "--overwrite", weights=weights) == 2
    assert "is the input folder" in capsys.readouterr().err
    (tmp_path / "file.png").write_bytes(b"")
    assert _restore(src, tmp_path / "file.png", weights=weights) == 2
    assert "OUT must be a folder" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"old")
    assert _restore(src, tmp_path / "out", weights=weights) == 2
    assert "already exists" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _restore(empty, tmp_path / "out2", weights=weights) == 2
    assert "no images with a supported suffix" in capsys.readouterr().err


def test_ctrl_c_leaves_no_file(tmp_path, rng, weights, monkeypatch, capsys):
    tifffile.imwrite(tmp_path / "in.tif", rng.integers(0, 255, (20, 20), dtype=np.uint8))

    def interrupted_write(path, *args, **kwargs):
        Path(path).write_bytes(b"II*\x00half")
        raise KeyboardInterrupt

    monkeypatch.setattr(tifffile, "imwrite", interrupted_write)
    assert _restore(tmp_path / "in.tif", tmp_path / "out" / "o.tif", weights=weights) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []


def test_tasks_command(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "title", "unit", "levels", "default", "level", "from", "the", "image", "weights"]
    assert [line.split()[0] for line in out[1:6]] == ["denoise", "microscopy", "dejpeg", "sr", "auto"]
    assert "0-100" in out[1] and "25" in out[1] and "auto, by-brightness" in out[1]
    assert "auto (noise fit)" in out[2] and "auto (file, else estimator)" in out[3] and "no: give a number" in out[4]
    assert "0-1 " not in out[5] and "none: it takes no level" in out[5]  # the all-in-one network has no level


def test_usage_errors(capsys):
    assert main([]) == 2
    assert "restore" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["restore", "a.png", "b.png", "--task", "denoise", "--level", "25", "--tile", "4"])
    assert exit_info.value.code == 2
    assert "at least 16 pixels" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0


def test_subcommands_are_registered_by_small_functions():
    names = {action.dest for action in build_parser()._subparsers._group_actions[0]._choices_actions}
    assert {"tasks", "restore"} <= names
    assert all(callable(add) for add in COMMANDS)


def test_progress_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = ProgressLine("x.png", stream=stream)
    for done in range(5):
        progress(done, 4)
    progress.finish("done")
    text = stream.getvalue()
    assert "\rx.png:  50% (2/4 tiles)" in text and "\rx.png: 100%" in text
    assert text.endswith("\n") and "x.png: done (" in text
    quiet = io.StringIO()
    ProgressLine("x.png", stream=quiet)(1, 2)
    assert quiet.getvalue() == ""  # off a terminal: nothing within the first LOG_EVERY_S seconds
    log = io.StringIO()  # a review: a 97 s restore said nothing in a log until it was done
    slow = ProgressLine("big.jpg", stream=log)
    slow._logged -= ProgressLine.LOG_EVERY_S  # as if that long had passed
    slow(3, 8)
    slow(4, 8)  # not again until another LOG_EVERY_S
    assert log.getvalue().startswith("big.jpg: 37% (3/8 tiles, ") and log.getvalue().count("\n") == 1
    disabled = io.StringIO()
    muted = ProgressLine("x.png", stream=disabled, enabled=False)
    muted._logged -= ProgressLine.LOG_EVERY_S
    muted(3, 8)
    assert disabled.getvalue() == ""


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_restore_on_cuda_matches_cpu(tmp_path, rng, weights):
    _bgr_png(tmp_path / "in.png", rng)
    for device in ("cpu", "cuda"):
        assert _restore(tmp_path / "in.png", tmp_path / f"{device}.png", "--device", device, "--tile", "32",
                        weights=weights) == 0
    cpu, gpu = read_image(tmp_path / "cpu.png"), read_image(tmp_path / "cuda.png")
    assert np.abs(cpu.astype(int) - gpu).max() <= 1


def test_help_starts_without_torch():
    """`napari-hyperres --help` (and the package import) must not pay for torch (≈ 4 s before)."""
    code = "import sys, napari_hyperres.cli.main as m; m.build_parser(); assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_main_leaves_the_sigterm_handler_and_warnings_as_it_found_them(tmp_path, rng, weights):
    import signal
    import warnings

    before_handler, before_show = signal.getsignal(signal.SIGTERM), warnings.showwarning
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), rng.integers(0, 255, (32, 32), dtype=np.uint8))
    assert main(["restore", str(src), str(tmp_path / "out.png"), "--task", "denoise", "--level", "25",
                 "--weights", weights, "--device", "cpu", "--quiet"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before_handler and warnings.showwarning is before_show


def test_estimate_takes_the_value_range_restore_uses_and_skips_hidden_files(tmp_path, capsys):
    """The same --value-range gives the same level in estimate and restore (estimate had none, so it
    printed another level than restore used); macOS '._' files are skipped as restore skips them;
    a failing file is named once; inf is no value range."""
    from test_photon_noise import camera, fluorescence_like

    folder = tmp_path / "in"
    folder.mkdir()
    frame = camera(fluorescence_like((96, 96)), 2.0, 3.0, 100.0, 200.0)
    tifffile.imwrite(folder / "a.tif", frame)
    (folder / "._a.tif").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (folder / "b.png").write_bytes(b"garbage")
    assert main(["estimate", str(folder), "--task", "microscopy", "--value-range", "0", "4095"]) == 2
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    photons = float(line.split("\t")[1])
    assert photons > 1000  # (white − black) / gain with the given range (its own range, ~100–500 counts: ~200)
    assert "._a.tif" not in err and err.count("b.png") == 1
    assert main(["restore", str(folder / "a.tif"), str(tmp_path / "o.tif"), "--task", "microscopy", "--level", "auto",
                 "--value-range", "0", "4095", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"{float(line.split(chr(9))[1]):.4g}" in err
    assert "--value-range with 'microscopy' sets the black and white" in err  # a review: −1.2 dB without a word
    with pytest.raises(SystemExit):
        main(["restore", str(folder / "a.tif"), str(tmp_path / "p.tif"), "--task", "microscopy", "--level", "auto",
              "--value-range", "0", "inf"])
    assert "expected a finite number, got 'inf'" in capsys.readouterr().err


def test_estimate_takes_several_inputs_and_names_skipped_subfolders(tmp_path, rng, capsys):
    """A review: ``estimate a.tif b.tif`` failed ("unrecognized arguments"), and a folder run skipped
    its subfolders without a word."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for path in (folder / "a.png", folder / "sub" / "b.png", tmp_path / "c.png"):
        cv2.imwrite(str(path), np.clip(128 + rng.normal(0, 20, (64, 64)), 0, 255).astype(np.uint8))
    assert main(["estimate", str(folder), str(tmp_path / "c.png"), "--task", "denoise", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert [line.split("\t")[0] for line in captured.out.strip().splitlines()] == [str(folder / "a.png"), str(tmp_path / "c.png")]
    assert "1 subfolder(s) not searched (e.g. sub)" in captured.err


def test_a_constant_image_is_named_as_such_for_microscopy(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "flat.tif", np.full((64, 64), 500, np.uint16))
    assert main(["estimate", str(tmp_path / "flat.tif"), "--task", "microscopy"]) != 0
    assert "every pixel of this image is 500" in capsys.readouterr().err


def test_output_into_a_closed_pipe_is_no_error():
    """A newcomer's review: `napari-hyperres weights | head -5` ended with "error: Broken pipe". The reader
    here is gone before the first line (the pipe's read end closed), so every write fails."""
    import os

    env = subprocess_env()
    for buffered in (True, False):  # block-buffered as in a terminal's pipe, and unbuffered (PYTHONUNBUFFERED)
        env.pop("PYTHONUNBUFFERED", None)
        if not buffered:
            env["PYTHONUNBUFFERED"] = "1"
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run([sys.executable, "-m", "napari_hyperres", "weights"], stdout=write, stderr=subprocess.PIPE,
                                  text=True, env=env, timeout=120)
        finally:
            os.close(write)
        assert done.returncode == 0 and done.stderr == "", (buffered, done.stderr)


def test_weights_describes_files_given_with_their_rounds(capsys):
    """A trainer review: no command read an exported file's metadata (`napari-hyperres weights FILE` was refused)."""
    from napari_hyperres.core.weights import PRETRAINED_DIR, read_info

    path = PRETRAINED_DIR / "sr.lite.safetensors"
    assert main(["weights", str(path)]) == 0
    out = capsys.readouterr().out
    rounds = read_info(path).extra["rounds"]
    assert out.count("| `") == 1 and "| `sr.lite` |" in out and f"sr.lite: {len(rounds)} training round(s)" in out
    assert f"  1. {rounds[0]['steps']:,} steps" in out
    assert main(["weights", "nonexistent.safetensors"]) == 2


def test_a_bool_tiff_is_named_for_its_dtype_not_the_outputs_format(tmp_path, capsys):
    """A reliability review: a bool TIFF was told "PNG holds uint8 or uint16 …, write .tif instead", then
    ".tif: cannot write a bool array as TIFF": the input's dtype was the problem."""
    src = tmp_path / "b.tif"
    tifffile.imwrite(src, np.random.default_rng(0).integers(0, 2, (32, 32)).astype(bool))
    for out in ("b.png", "b_out.tif"):
        assert main(["restore", str(src), str(tmp_path / out), "--task", "denoise", "--level", "25"]) == 2
        assert "expected an integer or floating-point image, got dtype bool" in capsys.readouterr().err


def test_a_microscopy_output_records_the_data_s_noise_in_memory_and_streamed(tmp_path):
    """A diff review: at a level given by hand an output restored in memory recorded the level's model of the noise
    (the fit turned to that level), one streamed page by page the fit itself. Both record the fit now: with the
    level it gives the restoration (``restore(image, level, noise=...)``)."""
    from test_photon_noise import camera, fluorescence_like

    from napari_hyperres.engine import whole_noise
    from napari_hyperres.io.provenance import read_provenance

    stack = np.stack([camera(fluorescence_like((64, 64), seed=s), 2.0, 3.0, 100.0, 200.0, seed=s) for s in range(3)])
    tifffile.imwrite(tmp_path / "in.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    recorded = []
    for name, extra in (("memory.tif", []), ("streamed.tif", ["--memory-budget", "0.01"])):
        assert main(["restore", str(tmp_path / "in.tif"), str(tmp_path / name), "--task", "microscopy", "--level", "500",
                     "--device", "cpu", "--quiet", *extra]) == 0
        recorded.append(read_provenance(tmp_path / name)["noise"])
    assert recorded[0] == recorded[1] == whole_noise(stack).describe()
