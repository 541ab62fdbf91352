"""napari_hyperres.engine.restorer: dtypes, channels, stacks, tiling, sr shapes, errors, cancellation.

Round trips use a tiny network whose tail is zeroed (output == input), so any change
comes from the engine's own conversions; tiling uses a tiny network with enlarged
weights so that a seam would show far above the tolerance.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import identity_model, strong_model, tiny_model

from napari_hyperres.core.color import ycbcr_to_rgb
from napari_hyperres.core.tasks import DEJPEG, DENOISE, SR, Task
from napari_hyperres.engine import Restorer, output_shape, restore, tile_boxes
from napari_hyperres.errors import (
    CancelledError,
    DeviceError,
    LevelRangeError,
    ShapeError,
    UnknownTaskError,
    WeightsError,
)


@pytest.fixture(scope="module")
def identity_rgb() -> Restorer:
    return Restorer("denoise", device="cpu", model=identity_model(3))


@pytest.fixture(scope="module")
def identity_gray() -> Restorer:
    return Restorer("dejpeg", device="cpu", model=identity_model(1))


@pytest.fixture(scope="module")
def strong_rgb() -> Restorer:
    return Restorer("denoise", device="cpu", model=strong_model(3))


def _random(rng, shape, dtype):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.random(shape).astype(dtype)


# --- dtype, channel and stack round trips ----------------------------------------------------------
@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((24, 30), np.uint8),
        ((24, 30), np.uint16),
        ((24, 30), np.int16),
        ((24, 30, 3), np.uint8),
        ((24, 30, 3), np.uint16),
        ((3, 24, 30), np.uint16),  # Z stack
        ((2, 3, 24, 30), np.uint8),  # T, Z stack
        ((2, 24, 30, 3), np.uint8),  # RGB stack
    ],
)
def test_integer_round_trip_is_exact(identity_rgb, rng, shape, dtype):
    image = _random(rng, shape, dtype)
    out = identity_rgb.restore(image, 25)
    assert out.dtype == image.dtype and out.shape == image.shape
    assert np.array_equal(out, image)


@pytest.mark.parametrize("shape", [(24, 30), (24, 30, 3), (2, 2, 24, 30)])
def test_float32_in_unit_range_round_trip(identity_rgb, rng, shape):
    image = rng.random(shape).astype(np.float32)
    out = identity_rgb.restore(image, 25)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_float64_outside_unit_range_round_trip(identity_rgb, rng):
    image = rng.normal(1000.0, 300.0, size=(3, 24, 30))  # e.g. background-subtracted intensities
    image[0, 0, 0] = -200.0
    out = identity_rgb.restore(image, 25)
    assert out.dtype == np.float64 and out.shape == image.shape
    np.testing.assert_allclose(out, image, rtol=0, atol=1e-4 * np.ptp(image))  # never clipped


def test_value_range_override(identity_rgb, rng):
    image = rng.integers(0, 4096, size=(20, 20), dtype=np.uint16)  # 12-bit data in a 16-bit array
    assert np.array_equal(identity_rgb.restore(image, 25, value_range=(0, 4095)), image)


def test_rgba_alpha_passes_through_unchanged(strong_rgb, rng):
    image = _random(rng, (24, 30, 4), np.uint8)
    out = strong_rgb.restore(image, 25)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[..., 3], image[..., 3])
    assert not np.array_equal(out[..., :3], image[..., :3])


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_16_bit_or_float_alpha_neither_sets_the_colour_range_nor_changes(strong_rgb, rng, dtype):
    colour = rng.integers(100, 4000, (2, 24, 30, 3)).astype(dtype)  # a stack of two RGBA planes
    alpha = np.full((2, 24, 30, 1), 65535, dtype)
    alpha[:, :5] = 0
    out = strong_rgb.restore(np.concatenate([colour, alpha], axis=-1), 25)
    np.testing.assert_array_equal(out[..., 3:], alpha)
    np.testing.assert_array_equal(out[..., :3], strong_rgb.restore(colour, 25))  # as if there were no alpha


@pytest.mark.parametrize("dtype, channels", [(np.uint8, 3), (np.uint8, 4), (np.uint16, 4), (np.float32, 3)])
def test_gray_stored_as_rgb_is_restored_as_gray_and_given_back_as_colour(strong_rgb, rng, dtype, channels):
    gray = _random(rng, (2, 24, 30), dtype)  # a stack of two planes, R = G = B
    image = np.repeat(gray[..., None], channels, axis=-1)
    if channels == 4:
        image[..., 3] = np.iinfo(dtype).max
        image[:, :5, :, 3] = 0
    out = strong_rgb.restore(image, 25)
    assert out.shape == image.shape and out.dtype == dtype
    expected = strong_rgb.restore(gray, 25)  # the gray network's result, not the colour one's: no tint
    tolerance = 1e-4 if np.issubdtype(dtype, np.floating) else 1  # float32 arithmetic (oneDNN's choices) aside
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], out[..., 0])
        np.testing.assert_allclose(out[..., c].astype(np.float64), expected, atol=tolerance, rtol=0)
    if channels == 4:
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
    tinted = image.copy()
    tinted[0, 0, 0, 1] += 1  # one pixel off gray: plane 0 is colour, restored as colour; plane 1 still gray (per plane)
    both = strong_rgb.restore(tinted, 25)
    assert not np.allclose(both[0, ..., 0].astype(np.float64), expected[0], atol=tolerance, rtol=0)
    assert not np.array_equal(both[0, ..., 0], both[0, ..., 1])
    np.testing.assert_array_equal(both[1, ..., 0], both[1, ..., 1])
    np.testing.assert_allclose(both[1, ..., 0].astype(np.float64), expected[1], atol=tolerance, rtol=0)
    as_colour = strong_rgb.restore(image, 25, neutral_as_gray=False)  # the colour path: tinted
    assert not np.array_equal(as_colour[..., 0], as_colour[..., 1])


def test_a_plane_gray_in_part_is_restored_alike_whole_in_chunks_and_in_preview_crops(strong_rgb, rng):
    """A diff review: the gray-or-colour choice was made per piece, so a dask chunk or a preview crop lying in
    the gray half of a colour plane came out as gray while the whole plane was restored as colour (6 levels off)."""
    import dask.array as da

    from napari_hyperres.ui.preview import Request
    from napari_hyperres.ui.progressive import restore_box

    plane = _random(rng, (96, 80, 3), np.uint8)
    plane[:48] = plane[:48, :, :1]  # the top half R = G = B
    whole = strong_rgb.restore(plane, 25)
    chunked = strong_rgb.restore(da.from_array(plane, chunks=(32, 40, 3)), 25, tile=32).compute()
    np.testing.assert_array_equal(chunked, whole)
    request = Request(task=DENOISE, level=25.0, device="cpu", weights=None, data=plane, rgb=True, value_range=(0.0, 255.0))
    np.testing.assert_array_equal(restore_box(strong_rgb, plane, (0, 32, 0, 40), request), whole[:32, :40])


def test_sr_resizes_a_16_bit_alpha_in_its_own_units(rng):
    image = np.concatenate([rng.integers(100, 4000, (20, 24, 3)), np.full((20, 24, 1), 65535)], axis=-1).astype(np.uint16)
    out = Restorer(SR, device="cpu", model=identity_model(3)).restore(image, 2)
    assert out.shape == (40, 48, 4) and (out[..., 3] == 65535).all()


def test_gray_task_on_rgb_restores_luma_only_when_chroma_is_kept(rng):
    luma_only = Restorer(dataclasses.replace(DEJPEG, chroma="keep"), device="cpu", model=identity_model(1))
    image = _random(rng, (24, 30, 3), np.uint8)
    out = luma_only.restore(image, 30)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).max() <= 1  # YCbCr there and back


@pytest.mark.parametrize("shape", [(24, 30, 3), (25, 31, 3), (24, 30, 4)])
def test_subsampled_chroma_is_restored_on_its_coded_grid(identity_gray, rng, shape):
    """dejpeg's chroma: averaged 2×2, through the network, upsampled. With an identity network,
    chroma that is constant over 2×2 blocks (what 4:2:0 codes) and smooth comes back."""
    assert identity_gray.task.chroma == "subsampled" and identity_gray.context == 2 * identity_gray.overlap
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    ycc = np.stack([
        0.3 + 0.4 * rng.random(shape[:2]),  # luma varies per pixel
        0.5 + 0.08 * np.sin((yy // 2) / 5.0),  # chroma: smooth, constant over 2×2 blocks
        0.5 + 0.08 * np.cos((xx // 2) / 6.0),
    ], axis=-1)
    image = np.ones(shape, np.float32)
    image[..., :3] = ycbcr_to_rgb(ycc)
    out = identity_gray.restore(image, 30, value_range=(0, 1))
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image, atol=0.05)


def test_subsampled_chroma_tiles_without_seams(rng):
    restorer = Restorer("dejpeg", device="cpu", model=strong_model(1))
    image = rng.random((150, 134, 3)).astype(np.float32)
    whole = restorer.restore(image, 20, value_range=(0, 1))
    np.testing.assert_allclose(restorer.restore(image, 20, tile=48, value_range=(0, 1)), whole, atol=1e-4, rtol=0)


def test_colour_jpeg_progress_counts_the_chroma_and_cancel_acts_there(rng):
    """Left from earlier stops: the progress of a colour image through a gray task (dejpeg) counted the luma's tiles
    alone (it read 100 % with two chroma passes to go), and a Cancel could not act between the chroma's tiles."""
    restorer = Restorer("dejpeg", device="cpu", model=strong_model(1))
    image = rng.random((150, 134, 3)).astype(np.float32)
    steps = [step for step in restorer.restore_steps(image, 20, tile=48, value_range=(0, 1)) if isinstance(step, tuple)]
    luma = len(tile_boxes(150, 134, 48))
    assert all(total == 3 * luma for _, total in steps) and steps[-1] == (3 * luma, 3 * luma)
    assert [done for done, _ in steps] == sorted(done for done, _ in steps) and len(steps) > luma + 2
    seen = []
    with pytest.raises(CancelledError, match="cancelled"):
        restorer.restore(image, 20, tile=48, value_range=(0, 1), progress=lambda done, total: seen.append(done),
                         cancel=lambda: bool(seen) and seen[-1] > luma)  # during the chroma passes
    assert luma < seen[-1] < 3 * luma


def test_input_never_modified(strong_rgb, rng):
    for image in (_random(rng, (2, 20, 22), np.uint8), rng.random((20, 22, 3)).astype(np.float32),
                  rng.normal(5.0, 2.0, (20, 22))):
        before = image.copy()
        out = strong_rgb.restore(image, 40, tile=16)
        assert np.array_equal(image, before)
        assert not np.shares_memory(out, image)


def test_stack_planes_are_restored_independently(strong_rgb, rng):
    stack = _random(rng, (3, 20, 22), np.uint8)
    out = strong_rgb.restore(stack, 30)
    for z in range(3):
        assert np.array_equal(out[z], strong_rgb.restore(stack[z], 30))


def test_rgb_flag_overrides_the_guess(identity_rgb, rng):
    stack = _random(rng, (20, 22, 3), np.uint8)  # three gray planes of 22×3, if the caller says so
    assert identity_rgb.restore(stack, 25, rgb=True).shape == stack.shape
    with pytest.raises(ShapeError, match="2×2|at least 2"):
        identity_rgb.restore(stack[..., :1], 25, rgb=False)  # planes of 22×1


# --- tiling ------------------------------------------------------------------------------------------
def test_tiled_equals_untiled_on_odd_sizes(strong_rgb, rng):
    image = rng.random((203, 157)).astype(np.float32)
    whole = strong_rgb.restore(image, 25)
    assert np.abs(whole - image).mean() > 1e-3  # the network really changes the image
    calls: list[tuple[int, int]] = []
    tiled = strong_rgb.restore(image, 25, tile=64, progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)
    total = calls[-1][1]
    assert total == len(tile_boxes(203, 157, 64)) == 12
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_tiled_equals_untiled_rgb_odd_tile(strong_rgb, rng):
    image = _random(rng, (45, 51, 3), np.uint8)
    tiled = strong_rgb.restore(image, 50, tile=17)  # odd tile: rounded up to an even edge
    assert np.abs(tiled.astype(int) - strong_rgb.restore(image, 50)).max() <= 1


def test_too_small_overlap_would_show_seams(rng):
    """The check above is sensitive: with less overlap than the receptive field, tiles differ."""
    restorer = Restorer("denoise", device="cpu", model=strong_model(3))
    image = rng.random((96, 96)).astype(np.float32)
    whole = restorer.restore(image, 25)
    restorer.overlap = 4
    assert np.abs(restorer.restore(image, 25, tile=32) - whole).max() > 1e-3


def test_progress_counts_tiles_over_all_planes(strong_rgb, rng):
    calls: list[tuple[int, int]] = []
    strong_rgb.restore(rng.random((3, 40, 40)).astype(np.float32), 25, tile=20,
                       progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (12, 12) and all(total == 12 for _, total in calls)


def test_a_file_name_is_refused_with_how_to_read_it(strong_rgb, tmp_path):
    for name in ("photo.png", tmp_path / "photo.png"):
        with pytest.raises(ShapeError, match=r"not a file name .*napari_hyperres.read_image\(path\)"):
            strong_rgb.restore(name, 25)


def test_cancel_raises_and_stops(strong_rgb, rng):
    calls: list[tuple[int, int]] = []
    with pytest.raises(CancelledError, match="cancelled"):
        strong_rgb.restore(rng.random((64, 64)).astype(np.float32), 25, tile=16,
                           progress=lambda done, total: calls.append((done, total)), cancel=lambda: len(calls) >= 2)
    assert len(calls) == 2 and calls[-1][0] < calls[-1][1]


# --- tasks -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, level", [((20, 24), 2.0), ((15, 17, 3), 1.5), ((2, 11, 13), 3.0), ((101, 77), 2.5), ((25, 26), 2.3)])
def test_sr_output_shape(rng, shape, level):
    """Sizes rounded half up: 101 × 2.5 → 253 and 15 × 1.5 → 23 (a review saw Python's round-half-to-even
    take 252.5 down and 115.5 up)."""
    restorer = Restorer("sr", device="cpu", model=tiny_model(3))
    image = _random(rng, shape, np.uint8)
    out = restorer.restore(image, level)
    rgb = len(shape) == 3 and shape[-1] == 3
    assert out.shape == output_shape(SR, shape, level, rgb) and out.dtype == np.uint8
    spatial = shape[-3:-1] if rgb else shape[-2:]
    expected = tuple(int(round(s * level, 9) + 0.5) for s in spatial)
    assert {((101, 77), 2.5): (253, 193), ((15, 17, 3), 1.5): (23, 26), ((25, 26), 2.3): (58, 60)}.get((shape, level), expected) == expected
    assert (out.shape[-3:-1] if rgb else out.shape[-2:]) == expected


def test_sr_tiled_equals_untiled(rng):
    restorer = Restorer("sr", device="cpu", model=strong_model(3))
    image = rng.random((31, 27)).astype(np.float32)
    np.testing.assert_allclose(restorer.restore(image, 2.0, tile=16), restorer.restore(image, 2.0), atol=1e-4)


def test_output_shape_for_same_size_tasks():
    assert output_shape(DENOISE, (3, 20, 30), 25, False) == (3, 20, 30)


def test_dejpeg_on_rgb(rng):
    restorer = Restorer("dejpeg", device="cpu", model=tiny_model(1))
    image = _random(rng, (33, 40, 3), np.uint8)
    out = restorer.restore(image, 20)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_restore_from_a_weights_file(tiny_weights, rng):
    image = _random(rng, (20, 24, 3), np.uint8)
    from_file = restore(image, "denoise", 25, weights=str(tiny_weights["denoise"]), device="cpu")
    in_memory = Restorer("denoise", device="cpu", model=tiny_model(3)).restore(image, 25)
    assert np.array_equal(from_file, in_memory)
    assert Restorer("denoise", weights=str(tiny_weights["denoise"])).info.task == "denoise"


def test_generated_networks_are_cached(strong_rgb):
    assert strong_rgb.network_for(25) is strong_rgb.network_for(25.0)
    assert strong_rgb.network_for(25) is not strong_rgb.network_for(30)
    strong_rgb.release()
    assert not strong_rgb._generated


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [-1, 100.5, "loud"])
def test_level_outside_range(strong_rgb, level):
    with pytest.raises(LevelRangeError, match="denoise") as info:
        strong_rgb.restore(np.zeros((8, 8), np.uint8), level)
    assert isinstance(info.value, ValueError)


def test_unknown_task():
    with pytest.raises(UnknownTaskError, match="unknown task 'deblur'") as info:
        Restorer("deblur", model=tiny_model(3))
    assert isinstance(info.value, KeyError) and "did you mean" not in str(info.value)
    for typed, meant in (("Denoise", "denoise"), ("dejepg", "dejpeg"), ("microscopie", "microscopy")):  # a review typed --task Denoise
        with pytest.raises(UnknownTaskError, match=f"unknown task '{typed}' \\(did you mean '{meant}'\\?\\)"):
            Restorer(typed, model=tiny_model(3))


@pytest.mark.parametrize(
    "image, rgb, message",
    [
        (np.zeros(16, np.uint8), None, "at least 2 dimensions"),
        (np.zeros((0, 16), np.float32), None, "non-empty"),
        (np.full((8, 8), np.nan, np.float32), None, "NaN"),
        (np.array([[0.0, np.inf], [0.0, 1.0]]), None, "NaN or infinite"),
        (np.zeros((8, 8, 2), np.uint8), True, "3 \\(RGB\\) or 4 \\(RGBA\\)"),
        (np.zeros((8, 8), bool), None, "dtype bool"),
        (np.zeros((8, 8), np.complex64), None, "dtype complex64"),
        (np.zeros((1, 8), np.uint8), None, "2×2"),
        (np.zeros((32, 32, 2), np.uint16), None, "looks like 2 channel"),
        (np.zeros((32, 32, 1), np.float32), None, "moveaxis"),
    ],
    ids=["1-D", "empty", "nan", "inf", "2-channels-rgb", "bool", "complex", "1-row", "2-channels-guessed", "1-channel-guessed"],
)
def test_bad_images(strong_rgb, image, rgb, message):
    with pytest.raises(ShapeError, match=message) as info:
        strong_rgb.restore(image, 25, rgb=rgb)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("tile", [-4, 0, 8, 40.5, True, "64"])
def test_a_bad_tile_is_refused_not_left_uninitialised(strong_rgb, tile):
    image = np.zeros((64, 64), np.uint8)
    with pytest.raises(ShapeError, match="tile as a whole number of pixels, at least 16"):
        strong_rgb.restore(image, 25, tile=tile)
    import dask.array  # a core dependency

    with pytest.raises(ShapeError, match="tile as a whole number"):
        strong_rgb.restore_lazy(dask.array.from_array(image, chunks=32), 25, tile=tile)


def test_a_nan_in_one_plane_of_a_float_stack_is_named_as_such():
    from napari_hyperres.engine import whole_value_range

    stack = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32) * 500  # not on [0, 1]: read from the data
    stack[2, 5, 5] = np.nan
    with pytest.raises(ShapeError, match="contains NaN or infinite values; replace them first"):
        whole_value_range(stack)  # what the widget asks of the whole layer before a preview


def test_a_narrow_last_axis_is_x_when_told(strong_rgb):
    image = np.zeros((32, 32, 2), np.uint16)
    assert strong_rgb.restore(image, 25, rgb=False).shape == image.shape  # 32 planes of 32×2


def test_model_channels_must_fit_the_task():
    with pytest.raises(WeightsError, match="1 input channel"):
        Restorer("denoise", model=tiny_model(1))


def test_task_without_weights():
    task = Task(name="noweights", title="t", unit="u", level_range=(0.0, 1.0), default_level=0.5,
                train_levels=(0.5,), channels="gray", degrade=lambda x, level, generator=None: x)
    with pytest.raises(WeightsError, match="python -m trainer train --task noweights"):
        Restorer(task)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda():
    with pytest.raises(DeviceError, match="'cuda' is not available"):
        Restorer("denoise", device="cuda", model=tiny_model(3))


def test_nonsense_device():
    with pytest.raises(DeviceError, match="expected a device"):
        Restorer("denoise", device="toaster", model=tiny_model(3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng):
    image = rng.random((70, 90)).astype(np.float32)
    cpu = Restorer("denoise", device="cpu", model=strong_model(3)).restore(image, 25)
    gpu = Restorer("denoise", device="cuda", model=strong_model(3)).restore(image, 25, tile=32)
    np.testing.assert_allclose(gpu, cpu, atol=1e-3)


def test_engine_import_pulls_in_no_napari_or_qt():
    code = (
        "import sys, napari_hyperres.engine.restorer, napari_hyperres.io.files, napari_hyperres.cli.main\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PySide6', 'PySide2', 'PyQt5', 'PyQt6', 'magicgui'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_dejpeg_task_is_gray():
    assert DEJPEG.in_channels == 1


def test_weights_refuse_a_task_whose_normalize_changed_since_training():
    """Reviewer: a plugin task whose ``normalize`` was changed after training restored 22.25 dB
    against 27.10 without a word (the network saw control values it never learned). The weights
    record the mapping (``WeightsInfo.normalization``), and the Restorer compares it."""
    import dataclasses

    from napari_hyperres.core.tasks import DENOISE, MICROSCOPY

    assert Restorer(DENOISE, device="cpu").info.normalization == DENOISE.normalization == "level / 255"
    assert Restorer(MICROSCOPY, device="cpu").info.normalization == MICROSCOPY.normalization  # a plugin-style mapping, recorded by name

    def per_hundred(level):
        return level / 100

    with pytest.raises(WeightsError, match=r"trained with c = level / 255; task 'denoise''s normalize \(.*per_hundred\(level\)\) now gives other controls"):
        Restorer(dataclasses.replace(DENOISE, normalize=per_hundred), device="cpu")


def test_weights_refuse_a_lambda_normalize_that_changed_since_training(tmp_path):
    """A plugin review: trained with ``lambda s: s / 10``, restored with ``lambda s: 100 - 30 * s``
    without a word, both named ``<lambda>``. Files now record c at the trained levels."""
    import dataclasses

    from napari_hyperres.core.tasks import DENOISE
    from napari_hyperres.core.weights import WeightsInfo, save_weights

    trained = dataclasses.replace(DENOISE, normalize=lambda level: level / 10)
    changed = dataclasses.replace(DENOISE, normalize=lambda level: 100 - level)
    assert trained.normalization == changed.normalization  # the name alone cannot tell them apart
    model = tiny_model(3)
    info = WeightsInfo(name="d", task="denoise", architecture=model.arch.to_dict(), train_levels=[15.0, 50.0],
                       normalization=trained.normalization, extra={"controls": [1.5, 5.0]})
    path = save_weights(tmp_path / "d.safetensors", model.state_dict(), info)
    assert Restorer(trained, weights=str(path), device="cpu").info.extra["controls"] == [1.5, 5.0]
    with pytest.raises(WeightsError, match=r"normalize .* now gives other controls than in training \(level: trained → now: 15: 1.5 → 85, 50: 5 → 50\)"):
        Restorer(changed, weights=str(path), device="cpu")

    def tenth(level):  # a plugin author's review: a renamed function, the same values, refused the lab's weights
        return level / 10

    renamed = dataclasses.replace(DENOISE, normalize=tenth)
    assert renamed.normalization != trained.normalization
    assert Restorer(renamed, weights=str(path), device="cpu").info.name == "d"  # the recorded controls decide


def test_a_fourth_channel_of_data_is_said_not_to_be_restored():
    """A reliability review: four noisy gray channels were taken as RGBA and the 4th came back at its input's PSNR."""
    import warnings

    rng = np.random.default_rng(0)
    four = np.clip(rng.normal(128, 30, (64, 64, 4)), 0, 255).astype(np.uint8)
    with pytest.warns(UserWarning, match="the 4th channel of this image varies like an image"):
        Restorer("denoise", device="cpu").restore(four, 25, rgb=True)
    rgba = four.copy()
    rgba[..., 3] = 255
    rgba[:10, :10, 3] = 0  # transparency: opaque with a clear corner
    faded = four.copy()
    faded[..., 3] = np.linspace(0, 255, 64)[None, :].round().astype(np.uint8)  # a fade across the image
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        Restorer("denoise", device="cpu").restore(rgba, 25, rgb=True)
        Restorer("denoise", device="cpu").restore(faded, 25, rgb=True)
