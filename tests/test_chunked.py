"""napari_hyperres.io.chunked and ``restore`` on zarr / OME-Zarr stores, huge TIFF pages and dask.distributed.

Every chunked result is compared with restoring the whole array in memory: chunks overlap by
the network's receptive field, so they must be equal (integers exactly).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_hyperres.cli.main import main
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import ShapeError
from napari_hyperres.io.chunked import open_lazy, write_zarr

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    return (np.random.default_rng(0).random((300, 260)) * 3000 + 100).astype(np.uint16)


@pytest.fixture(scope="module")
def expected(counts, tiny_weights) -> np.ndarray:
    return Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(counts, 20)


def _restore(src, dst, weights, *extra) -> int:
    return main(["restore", str(src), str(dst), "--task", "denoise", "--level", "20", "--weights", str(weights),
                 "--device", "cpu", "--tile", "96", "--quiet", *extra])


def test_a_zarr_array_is_restored_into_an_ome_zarr_image(tmp_path, counts, expected, tiny_weights):
    src = tmp_path / "in.zarr"
    zarr.create_array(str(src), shape=counts.shape, chunks=(100, 100), dtype=counts.dtype, zarr_format=2)[:] = counts
    dst = tmp_path / "out.zarr"
    assert _restore(src, dst, tiny_weights["denoise"]) == 0
    group = zarr.open_group(str(dst), mode="r")
    np.testing.assert_array_equal(group["0"][:], expected)
    image = group.attrs["multiscales"][0]
    assert image["version"] == "0.4" and [a["name"] for a in image["axes"]] == ["y", "x"]
    assert image["datasets"][0]["path"] == "0"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary store left


def test_an_ome_zarr_input_is_read_at_full_resolution_and_keeps_its_axes(tmp_path, counts, expected, tiny_weights):
    src = tmp_path / "ome.zarr"
    group = zarr.open_group(str(src), mode="w", zarr_format=2)
    group.create_array("0", shape=counts.shape, chunks=(128, 128), dtype=counts.dtype)[:] = counts
    group.create_array("1", shape=(150, 130), chunks=(128, 128), dtype=counts.dtype)[:] = counts[::2, ::2]
    group.attrs["multiscales"] = [{
        "version": "0.4", "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [0.5, 0.25]}]},
                     {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5]}]}],
    }]
    array, meta = open_lazy(src)
    assert array.shape == counts.shape and meta == {"axes": ["y", "x"], "scale": [0.5, 0.25]}
    dst = tmp_path / "out.zarr"
    assert _restore(src, dst, tiny_weights["denoise"]) == 0
    out = zarr.open_group(str(dst), mode="r")
    np.testing.assert_array_equal(out["0"][:], expected)
    assert out.attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] == [0.5, 0.25]


def test_an_rgb_image_is_written_channel_first_as_ngff_orders_axes(tmp_path, tiny_weights):
    """NGFF 0.4 wants time, then channel, then space: a colour output is (3, Y, X) with axes c, y, x
    (before: (Y, X, 3) named y, x, c, which OME-Zarr readers refuse or misplace)."""
    rgb = (np.random.default_rng(1).random((120, 90, 3)) * 255).astype(np.uint8)
    src = tmp_path / "rgb.zarr"
    zarr.create_array(str(src), shape=rgb.shape, chunks=(64, 64, 3), dtype=rgb.dtype, zarr_format=2)[:] = rgb
    dst = tmp_path / "out.zarr"
    assert _restore(src, dst, tiny_weights["denoise"]) == 0
    group = zarr.open_group(str(dst), mode="r")
    image = group.attrs["multiscales"][0]
    assert [(a["name"], a["type"]) for a in image["axes"]] == [("c", "channel"), ("y", "space"), ("x", "space")]
    expected = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(rgb, 20)
    np.testing.assert_array_equal(group["0"][:], np.moveaxis(expected, -1, 0))


def test_ome_image_orders_axes_and_scales_a_super_resolved_pixel_size():
    from napari_hyperres.io.chunked import ome_image

    stack = da.zeros((5, 40, 60, 3), chunks=(1, 40, 60, 3))  # a colour time series, ×2 super-resolved
    image, attrs = ome_image(stack, True, {"axes": ["t", "y", "x", "c"], "scale": [2.0, 0.5, 0.5, 1.0]}, "s",
                             source_shape=(5, 20, 30, 3))
    entry = attrs["multiscales"][0]
    assert image.shape == (5, 3, 40, 60) and [a["name"] for a in entry["axes"]] == ["t", "c", "y", "x"]
    assert entry["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 1.0, 0.25, 0.25]
    image, attrs = ome_image(stack, True, {}, "s")  # no axes of its own: a stack of planes is z
    assert image.shape == (3, 5, 40, 60)
    assert [a["name"] for a in attrs["multiscales"][0]["axes"]] == ["c", "z", "y", "x"]


@pytest.mark.parametrize("imagej", [False, True])
def test_a_single_huge_tiff_page_is_restored_tile_by_tile(tmp_path, counts, expected, tiny_weights, imagej):
    """... and keeps its pixel size (a review: it came out as 1/1 with no unit; ImageJ's format has no
    tiles, so an ImageJ file's size goes into the plain TIFF tags)."""
    src, dst = tmp_path / "page.tif", tmp_path / "out.tif"
    if imagej:
        tifffile.imwrite(src, counts, imagej=True, resolution=(10.0, 10.0), metadata={"axes": "YX", "unit": "um"})
    else:
        tifffile.imwrite(src, counts, tile=(128, 128), resolution=(10.0, 10.0), resolutionunit="CENTIMETER")
    assert _restore(src, dst, tiny_weights["denoise"], "--memory-budget", "0.05") == 0  # 50 KB: far below the page
    with tifffile.TiffFile(dst) as tif:
        page = tif.pages[0]
        assert page.is_tiled and page.shape == counts.shape
        np.testing.assert_array_equal(tif.asarray(), expected)
        assert page.tags["XResolution"].value == page.tags["YResolution"].value == (10, 1)
        if not imagej:
            assert page.tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER


def test_an_imagej_hyperstack_restored_by_workers_stays_an_imagej_hyperstack(tmp_path, counts, tiny_weights):
    """A batch review: --workers wrote an ImageJ TZCYX file as plain TIFF pages, which Fiji opens as a
    flat stack without z-spacing or channels (ImageJ's format has no tiles). Its planes fit in memory:
    written as ImageJ writes them, equal to the in-memory output."""
    pytest.importorskip("distributed")
    stack = np.stack([np.stack([counts[:96, :128], counts[96:192, :128]])] * 2)  # Z, C, Y, X
    src = tmp_path / "hyper.tif"
    tifffile.imwrite(src, stack, imagej=True, resolution=(1 / 0.2, 1 / 0.2), metadata={"axes": "ZCYX", "spacing": 0.5, "unit": "um"})
    assert _restore(src, tmp_path / "memory.tif", tiny_weights["denoise"]) == 0
    assert _restore(src, tmp_path / "chunked.tif", tiny_weights["denoise"], "--workers", "1", "--tile", "64") == 0
    with tifffile.TiffFile(tmp_path / "chunked.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZCYX" and tif.imagej_metadata["spacing"] == pytest.approx(0.5)
        assert tif.pages[0].tags["XResolution"].value == (5, 1)
        np.testing.assert_array_equal(tif.asarray(), tifffile.imread(tmp_path / "memory.tif"))


def test_a_store_that_exists_is_left_as_it_is_without_overwrite(tmp_path, counts):
    """A diff review: write_zarr refused an existing store with a ShapeError, which --skip-existing did not
    take for "written meanwhile by another run" (a zarr output failed the run where a TIFF was skipped)."""
    target = tmp_path / "out.zarr"
    write_zarr(da.from_array(counts, chunks=100), target)
    with pytest.raises(FileExistsError, match="exists"):
        write_zarr(da.from_array(counts + 1, chunks=100), target)
    np.testing.assert_array_equal(zarr.open_array(str(target), mode="r")[:], counts)


def test_a_failed_write_leaves_no_store(tmp_path, counts):
    def fail(_):
        raise KeyboardInterrupt

    target = tmp_path / "out.zarr"
    with pytest.raises(KeyboardInterrupt):
        write_zarr(da.from_array(counts, chunks=100), target, compute=fail)
    assert list(tmp_path.iterdir()) == []


def test_an_overwrite_that_fails_keeps_the_old_store_whole(tmp_path, counts, monkeypatch):
    import os

    target = tmp_path / "out.zarr"
    write_zarr(da.from_array(counts, chunks=100), target)
    real_replace = os.replace

    def replace_failing_second(src, dst):  # old store moved aside, then the new one fails to move in
        if str(dst) == str(target) and str(src).endswith(".tmp"):  # (zarr renames its own chunk files too)
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_failing_second)
    with pytest.raises(KeyboardInterrupt):
        write_zarr(da.from_array(counts // 2, chunks=100), target, overwrite=True)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]
    np.testing.assert_array_equal(zarr.open_array(str(target), mode="r")[:], counts)
    write_zarr(da.from_array(counts // 2, chunks=100), target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]
    np.testing.assert_array_equal(zarr.open_array(str(target), mode="r")[:], counts // 2)


def test_a_killed_writers_temporary_store_is_removed_by_the_next_write(tmp_path, counts):
    stale = tmp_path / ".out.zarr.hyperres-999999999-deadbeef.tmp"  # no such process
    (stale / "0").mkdir(parents=True)
    (stale / "0" / "0.0").write_bytes(b"partial")
    write_zarr(da.from_array(counts, chunks=100), tmp_path / "out.zarr")
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]


def test_a_one_strip_page_is_mapped_so_a_chunk_reads_only_its_rows(tmp_path, counts):
    tifffile.imwrite(tmp_path / "strip.tif", counts)  # tifffile's (and ImageJ's) default: the page is one strip
    array, _ = open_lazy(tmp_path / "strip.tif", chunk=100)
    assert array.chunksize == (100, 100)
    assert any(isinstance(value, np.memmap) for value in array.dask.values())  # mapped, not loaded
    np.testing.assert_array_equal(array.compute(), counts)
    tifffile.imwrite(tmp_path / "zlib.tif", counts, compression="zlib")  # not mappable: the zarr view
    np.testing.assert_array_equal(open_lazy(tmp_path / "zlib.tif", chunk=100)[0].compute(), counts)


def test_a_pyramidal_ome_tiff_opens_at_full_resolution(tmp_path, counts):
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as writer:  # as slide scanners and bfconvert write them
        writer.write(counts, subifds=1, tile=(64, 64), metadata={"axes": "YX"})
        writer.write(counts[::2, ::2], subfiletype=1, tile=(64, 64))
    array, _ = open_lazy(path, chunk=128)
    np.testing.assert_array_equal(array.compute(), counts)


def test_a_group_without_an_image_says_which_array_to_give(tmp_path):
    group = zarr.open_group(str(tmp_path / "many.zarr"), mode="w", zarr_format=2)
    for name in ("a", "b"):
        group.create_array(name, shape=(20, 20), dtype="uint8")
    with pytest.raises(ShapeError, match="give the array's own path"):
        open_lazy(tmp_path / "many.zarr")


def test_napari_opens_the_ome_zarr_output(tmp_path, counts, tiny_weights):
    npe2 = pytest.importorskip("npe2")
    from napari.components import ViewerModel

    src = tmp_path / "in.zarr"
    zarr.create_array(str(src), shape=counts.shape, chunks=(100, 100), dtype=counts.dtype, zarr_format=2)[:] = counts
    assert _restore(src, tmp_path / "out.zarr", tiny_weights["denoise"]) == 0
    npe2.PluginManager.instance().discover()
    [layer] = ViewerModel().open(str(tmp_path / "out.zarr"), plugin="napari")
    assert layer.data.shape == counts.shape
    assert json.loads((tmp_path / "out.zarr" / ".zattrs").read_text())["multiscales"][0]["version"] == "0.4"


@pytest.mark.slow
def test_a_local_cluster_of_two_worker_processes_gives_the_single_process_result(tmp_path, counts, expected, tiny_weights):
    pytest.importorskip("distributed")
    src = tmp_path / "in.zarr"
    zarr.create_array(str(src), shape=counts.shape, chunks=(100, 100), dtype=counts.dtype, zarr_format=2)[:] = counts
    assert _restore(src, tmp_path / "out.zarr", tiny_weights["denoise"], "--workers", "2") == 0
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "out.zarr"), mode="r")["0"][:], expected)


def test_workers_for_png_files_start_no_cluster_and_say_so(tmp_path, tiny_weights, monkeypatch, capsys):
    """PNG / JPEG jobs are restored whole in this process: a cluster of worker processes would
    only cost its start-up (seconds, and memory per worker)."""
    distributed = pytest.importorskip("distributed")

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started for PNG files")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    image = (np.random.default_rng(2).random((40, 50)) * 255).astype(np.uint8)
    import cv2

    assert cv2.imwrite(str(tmp_path / "in.png"), image)
    assert main(["restore", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--task", "denoise", "--level", "20",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet", "--workers", "2"]) == 0
    assert "without a cluster" in capsys.readouterr().err
    assert (tmp_path / "out.png").exists()


def test_a_png_restored_into_a_zarr_store(tmp_path, tiny_weights):
    """Before: "not a TIFF file that can be read tile by tile (header=b'\\x89PNG')"."""
    import cv2

    image = (np.random.default_rng(3).random((40, 50)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / "in.png"), image)
    assert _restore(tmp_path / "in.png", tmp_path / "out.zarr", tiny_weights["denoise"]) == 0
    expected = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(image, 20)
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "out.zarr"), mode="r")["0"][:], expected)


@pytest.mark.parametrize("compression", [None, "zlib"])  # memory-mapped, and read through the zarr view
@pytest.mark.parametrize(
    "photometric, planarconfig, samples",
    [("rgb", "separate", 3), ("minisblack", "separate", 3), ("minisblack", "contig", 2)],
)
def test_a_lazy_tiff_lays_its_samples_out_as_read_image_does(tmp_path, rng, compression, photometric, planarconfig, samples):
    """Planar RGB last, gray channels stored as samples first: the chunked path (huge pages, clusters)
    saw the stored layout, a planar RGB page as three gray planes."""
    from napari_hyperres.io.files import read_image

    planes = rng.integers(0, 4000, (samples, 40, 48), dtype=np.uint16)
    stored = planes if planarconfig == "separate" else np.moveaxis(planes, 0, -1)
    tifffile.imwrite(tmp_path / "s.tif", stored, photometric=photometric, planarconfig=planarconfig, metadata=None,
                     compression=compression)
    array, _ = open_lazy(tmp_path / "s.tif")
    np.testing.assert_array_equal(array.compute(), read_image(tmp_path / "s.tif"))
    assert read_image(tmp_path / "s.tif").shape == ((40, 48, 3) if photometric == "rgb" else planes.shape)


@pytest.mark.parametrize("kind", ["imagej", "ome"])
def test_a_tiff_restored_into_zarr_names_its_axes_and_keeps_its_voxel_size(tmp_path, tiny_weights, kind):
    """A microscopy review: a ZCYX hyperstack's zarr output was labelled c, z, y, x by its dimensionality
    (Z and C swapped for any OME-Zarr reader) and every scale was 1."""
    stack = (np.random.default_rng(0).random((4, 2, 40, 48)) * 3000 + 100).astype(np.uint16)
    if kind == "imagej":
        tifffile.imwrite(tmp_path / "in.tif", stack, imagej=True, resolution=(1 / 0.065, 1 / 0.065),
                         metadata={"axes": "ZCYX", "spacing": 0.3, "unit": "micron"})
    else:
        tifffile.imwrite(tmp_path / "in.tif", stack, ome=True,  # one size in nanometres: converted
                         metadata={"axes": "ZCYX", "PhysicalSizeX": 0.065, "PhysicalSizeY": 0.065, "PhysicalSizeZ": 300,
                                   "PhysicalSizeZUnit": "nm"})
    assert _restore(tmp_path / "in.tif", tmp_path / "out.zarr", tiny_weights["denoise"]) == 0
    out = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    image = out.attrs["multiscales"][0]
    assert [a["name"] for a in image["axes"]] == ["c", "z", "y", "x"]  # NGFF's order: the file's C and Z, named
    assert image["datasets"][0]["coordinateTransformations"][0]["scale"] == pytest.approx([1.0, 0.3, 0.065, 0.065])
    assert _restore(tmp_path / "in.tif", tmp_path / "out.tif", tiny_weights["denoise"]) == 0
    np.testing.assert_array_equal(out["0"][:], np.moveaxis(tifffile.imread(tmp_path / "out.tif"), 1, 0))  # the same pixels, C first


def test_an_ome_zarr_of_several_detectors_fits_each_channel(tmp_path, capsys):
    """A microscopy review: an OME-Zarr with a c axis of three detectors was fitted as one channel
    (2–14 dB below each channel on its own), and the CLI had no way to split it."""
    from test_photon_noise import camera, fluorescence_like

    from napari_hyperres.io.chunked import ome_image

    clean = fluorescence_like((96, 96))
    channels = [camera(clean, gain, 3.0, offset, peak, seed=i) for i, (gain, offset, peak) in
                enumerate([(2.0, 100, 300), (8.0, 500, 30), (1.0, 50, 1000)])]
    czyx = np.stack([np.stack([c, c]) for c in channels])
    image, ome = ome_image(da.from_array(czyx, chunks=(1, 1, 96, 96)), False, {"axes": list("czyx"), "scale": [1, 0.3, 0.1, 0.1]}, "in")
    write_zarr(image, tmp_path / "in.zarr", ome=ome)
    assert main(["restore", str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr"), "--task", "microscopy", "--level", "auto",
                 "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    gains = [float(err.split(f"in.zarr channel {c}: ")[1].split("gain α ")[1].split()[0]) for c in range(3)]
    assert gains[1] > 2 * gains[0] > 2 * gains[2]  # each detector's own gain (2, 8, 1), not one fit of all
    assert main(["estimate", str(tmp_path / "in.zarr"), "--task", "microscopy"]) == 0  # it took the store for a folder
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [f"{tmp_path / 'in.zarr'} channel {c}" for c in range(3)]
    assert [float(line.split("\t")[2].split("gain α ")[1].split()[0]) for line in lines] == pytest.approx(gains, rel=0.01)
