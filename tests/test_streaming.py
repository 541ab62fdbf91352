"""The CLI streams TIFF stacks larger than its memory budget page by page, to the same result."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import tifffile

from napari_hyperres.blind.photon_fit import fit_plane_indices
from napari_hyperres.cli.main import main
from napari_hyperres.core.intensity import intensity_map_for
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import CancelledError, ShapeError
from napari_hyperres.io.streaming import should_stream, stream_restore_tiff


@pytest.fixture
def stack_file(tmp_path):
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65535, size=(24, 192, 160), dtype=np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack)
    return path, stack


def _peak_numpy_bytes(args: list[str]) -> tuple[int, int]:
    tracemalloc.start()
    code = main(args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return code, peak


def test_large_stack_is_streamed_and_equals_eager(stack_file, tiny_weights, tmp_path):
    path, stack = stack_file
    budget_mb = 0.5  # below the 1.4 MiB stack
    assert should_stream(path, int(budget_mb * 2**20))
    args = ["--task", "denoise", "--level", "25", "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--memory-budget", str(budget_mb), "--quiet"]
    out = tmp_path / "out.tif"
    assert main(["restore", str(path), str(out), *args]) == 0
    restored = tifffile.imread(out)
    sampled_range = intensity_map_for(stack[fit_plane_indices(len(stack), stack.shape[1] * stack.shape[2])]).value_range  # streaming maps every plane by its sampled planes
    eager = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(stack, 25, value_range=sampled_range)
    assert restored.shape == stack.shape and restored.dtype == np.uint16
    np.testing.assert_array_equal(restored, eager)


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_streaming_memory_does_not_grow_with_the_stack(tiny_weights, tmp_path):
    """numpy's peak (tracemalloc) is about one plane's working set, whether 11 or 121 planes."""
    rng = np.random.default_rng(0)
    peaks = {}
    for planes in (11, 121):
        path = tmp_path / f"stack{planes}.tif"
        tifffile.imwrite(path, rng.integers(0, 65535, size=(planes, 96, 80), dtype=np.uint16))
        args = ["restore", str(path), str(tmp_path / f"out{planes}.tif"), "--task", "denoise", "--level", "25",
                "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--memory-budget", "0.01", "--quiet", "--overwrite"]
        assert main(args) == 0  # warm-up: imports and caches outside the measurement
        code, peaks[planes] = _peak_numpy_bytes(args)
        assert code == 0
    stack_bytes = 121 * 96 * 80 * 2
    assert peaks[121] < 1.25 * peaks[11]
    assert peaks[121] < stack_bytes / 2


def test_small_stack_is_not_streamed(stack_file):
    path, _ = stack_file
    assert not should_stream(path, 2**30)


def test_cancelled_stream_leaves_no_file(stack_file, tiny_weights, tmp_path):
    path, _ = stack_file
    out = tmp_path / "out.tif"
    restorer = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu")
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CancelledError):
        stream_restore_tiff(path, out, restorer, 25, cancel=cancel)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["stack.tif"]  # no temporary file left behind


def test_stream_needs_a_tiff_output(stack_file, tiny_weights, tmp_path):
    path, _ = stack_file
    restorer = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu")
    with pytest.raises(ShapeError, match="TIFF"):
        stream_restore_tiff(path, tmp_path / "out.png", restorer, 25)


def test_sr_stream_scales_planes(stack_file, tiny_weights, tmp_path):
    path, stack = stack_file
    out = tmp_path / "sr.tif"
    restorer = Restorer("sr", weights=str(tiny_weights["sr"]), device="cpu")
    shape = stream_restore_tiff(path, out, restorer, 2.0)
    assert shape == (24, 384, 320)
    assert tifffile.imread(out).shape == shape


def test_an_rgb_stack_streams_at_an_auto_level(tmp_path, capsys):
    """The pages of an RGB stack are its planes (not its rows): "auto" samples them (a review of
    the per-channel streaming found the count of pages taken from all but the last two axes)."""
    rng = np.random.default_rng(2)
    stack = np.clip(np.round(128 + 40 * rng.standard_normal((4, 64, 72, 3))), 0, 255).astype(np.uint8)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, stack, photometric="rgb")
    assert should_stream(path, 10_000)
    assert main(["restore", str(path), str(tmp_path / "out.tif"), "--task", "denoise", "--level", "auto",
                 "--device", "cpu", "--memory-budget", "0.01"]) == 0
    assert "from 4 sampled pages" in capsys.readouterr().err
    assert tifffile.imread(tmp_path / "out.tif").shape == stack.shape
