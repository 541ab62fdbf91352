"""napari_hyperres.ui.progressive: the live preview shows the middle of the view first, then the
view, then the plane, and every pixel it shows is Apply's pixel."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import strong_model, write_tiny_weights

from napari_hyperres.core.tasks import DEJPEG, DENOISE, SR
from napari_hyperres.engine import Restorer
from napari_hyperres.ui.preview import Request, Restored, RestorerCache
from napari_hyperres.ui.progressive import (
    FIRST_TILE,
    PreviewTile,
    centre_box,
    first_edge,
    preview_steps,
    previews_whole,
    view_box,
    with_margin,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def strong_weights(tmp_path_factory) -> str:
    """Tiny weights whose outputs depend visibly on the surroundings (seams would show)."""
    path = tmp_path_factory.mktemp("weights") / "denoise.strong.safetensors"
    return str(write_tiny_weights(path, "denoise", 3, strong_model(3)))


def _run(request: Request) -> tuple[list[PreviewTile | None], Restored]:
    steps = preview_steps(RestorerCache(), request)
    yielded = []
    while True:
        try:
            yielded.append(next(steps))
        except StopIteration as stop:
            return yielded, stop.value


@pytest.mark.parametrize("rgb", [False, True])
def test_a_large_plane_shows_the_middle_of_the_view_then_the_view_then_all_of_it(strong_weights, rgb):
    shape = (2, 700, 660, 3) if rgb else (2, 700, 660)
    stack = np.random.default_rng(0).random(shape).astype(np.float32)
    viewport = (101, 413, 250, 611)
    request = Request(task=DENOISE, level=30.0, device="cpu", weights=strong_weights, data=stack, rgb=rgb,
                      index=(1,), value_range=(0.0, 1.0), viewport=viewport)
    yielded, restored = _run(request)
    whole = Restorer("denoise", weights=strong_weights, device="cpu").restore(stack[1], 30.0, rgb=rgb, value_range=(0.0, 1.0))
    np.testing.assert_allclose(restored.data, whole, atol=1e-4, rtol=0)
    tiles = [step for step in yielded if step is not None]
    assert len(tiles) == len(yielded)  # every step shows pixels, and a new slider move can stop after any
    phases = [tile.phase for tile in tiles]
    assert phases[0] == "first" and phases == sorted(phases, key=["first", "view", "plane"].index) and "plane" in phases
    first = tiles[0]
    edge = first_edge(DENOISE.passes(rgb))  # colour runs three networks: a smaller first crop
    assert edge == (48 if rgb else FIRST_TILE)
    assert first.box == centre_box(viewport, edge)
    assert first.box[1] - first.box[0] == edge and first.box[0] % 2 == 0 and first.box[2] % 2 == 0
    covered = np.zeros(stack.shape[1:3], bool)
    for tile in tiles:  # the pixels shown early are Apply's pixels: no seams, no draft
        y0, y1, x0, x1 = tile.box
        np.testing.assert_allclose(tile.data, whole[y0:y1, x0:x1], atol=1e-4, rtol=0)
        covered[y0:y1, x0:x1] = True
        if tile.phase == "view":
            assert y0 < viewport[1] and y1 > viewport[0] and x0 < viewport[3] and x1 > viewport[2]  # in the view
        if tile.phase != "plane":
            last_view = covered.copy()
    assert last_view[viewport[0] : viewport[1], viewport[2] : viewport[3]].all()  # the view done before the rest
    assert covered.all()
    assert all(a.seconds <= b.seconds for a, b in zip(tiles, tiles[1:], strict=False))


def test_colour_jpeg_preview_tiles_equal_apply(tmp_path):
    """dejpeg on colour: chroma restored at half resolution needs crops with twice the context on a 4-pixel grid."""
    weights = str(write_tiny_weights(tmp_path / "dejpeg.strong.safetensors", "dejpeg", 1, strong_model(1)))
    plane = np.random.default_rng(3).random((702, 690, 3)).astype(np.float32)
    request = Request(task=DEJPEG, level=20.0, device="cpu", weights=weights, data=plane, rgb=True,
                      value_range=(0.0, 1.0), viewport=(201, 431, 155, 399))
    yielded, restored = _run(request)
    whole = Restorer("dejpeg", weights=weights, device="cpu").restore(plane, 20.0, value_range=(0.0, 1.0))
    for tile in (step for step in yielded if step is not None):
        y0, y1, x0, x1 = tile.box
        np.testing.assert_allclose(tile.data, whole[y0:y1, x0:x1], atol=1e-4, rtol=0)
    np.testing.assert_allclose(restored.data, whole, atol=1e-4, rtol=0)


def test_small_planes_resampling_and_image_conditioned_tasks_are_previewed_whole(tiny_weights):
    plane = np.random.default_rng(1).integers(0, 255, (64, 80), dtype=np.uint8)
    request = Request(task=DENOISE, level=20.0, device="cpu", weights=str(tiny_weights["denoise"]), data=plane, rgb=False,
                      viewport=(0, 10, 0, 10))
    yielded, restored = _run(request)
    assert yielded == []
    expected = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(plane, 20.0)
    np.testing.assert_array_equal(restored.data, expected)
    assert previews_whole(dataclasses.replace(request, task=SR), (4000, 4000))


def test_a_large_sr_plane_previewed_whole_can_stop_between_its_tiles(tiny_weights, monkeypatch):
    import napari_hyperres.engine.tiling as tiling

    plane = np.random.default_rng(2).integers(0, 255, (96, 80), dtype=np.uint8)
    request = Request(task=SR, level=2.0, device="cpu", weights=str(tiny_weights["sr"]), data=plane, rgb=False)
    expected = Restorer("sr", weights=str(tiny_weights["sr"]), device="cpu").restore(plane, 2.0)
    yielded, restored = _run(request)
    assert yielded == []  # one tile: nothing to stop at, a small plane is always shown
    np.testing.assert_array_equal(restored.data, expected)

    monkeypatch.setattr(tiling, "DEFAULT_TILE", 32)  # the same plane is now "large": 6 × 5 tiles of its ×2 input
    yielded, restored = _run(request)
    assert len(yielded) == 29 and all(step is None for step in yielded)  # a quit() takes effect at any of them
    np.testing.assert_array_equal(restored.data, expected)  # tiles overlap by the receptive field: no seams


def test_colour_counts_its_network_passes_when_choosing_view_first():
    """A 512² gray plane is one pass and previews whole; in colour, denoise runs three (opponent
    planes), so the same plane shows the middle of the view first."""
    gray = Request(task=DENOISE, level=20.0, device="cpu", weights="", data=np.zeros((512, 512), np.uint8), rgb=False)
    colour = dataclasses.replace(gray, data=np.zeros((512, 512, 3), np.uint8), rgb=True)
    assert previews_whole(gray, (512, 512))
    assert not previews_whole(colour, (512, 512))
    assert previews_whole(colour, (360, 360))
    assert DENOISE.passes(True) == 3 and DENOISE.passes(False) == 1
    assert DEJPEG.passes(True) == 1.5 and SR.passes(True) == 1


def test_boxes_stay_inside_the_plane_and_on_the_even_grid():
    assert view_box(None, (50, 60)) == (0, 50, 0, 60)
    assert view_box((-20, 999, 10, 30), (50, 60)) == (0, 50, 10, 30)
    assert view_box((40, 40, 0, 10), (50, 60)) == (0, 50, 0, 60)  # an empty view: the whole plane
    assert centre_box((0, 50, 0, 60), 128) == (0, 50, 0, 60)
    assert centre_box((3, 1003, 7, 1007), 128) == (438, 566, 442, 570)
    assert with_margin((101, 200, 51, 90), 40, (300, 120)) == (60, 240, 10, 120)


def test_colour_denoise_preview_tiles_equal_apply_where_clipped(strong_weights):
    """denoise restores colour as opponent planes and blends the joint network in where pixels are
    clipped (a 5×5 window): crops need that window as context too, and must not skip the joint
    network unless the whole image would skip it there."""
    rng = np.random.default_rng(4)
    plane = np.clip(np.round(rng.normal(128, 90, (702, 690, 3))), 0, 255).astype(np.uint8)  # ~8 % clipped
    plane[300:, 500:] = np.clip(np.round(rng.normal(128, 20, plane[300:, 500:].shape)), 1, 254)  # none clipped here
    request = Request(task=DENOISE, level=30.0, device="cpu", weights=strong_weights, data=plane, rgb=True,
                      viewport=(201, 431, 355, 599))
    yielded, restored = _run(request)
    whole = Restorer("denoise", weights=strong_weights, device="cpu").restore(plane, 30.0)
    tiles = [step for step in yielded if step is not None]
    y0, y1, x0, x1 = tiles[0].box
    assert len(tiles) >= 2 and (y1 - y0) * (x1 - x0) < plane.shape[0] * plane.shape[1] / 4  # crops first
    for tile in tiles:
        y0, y1, x0, x1 = tile.box
        np.testing.assert_allclose(tile.data.astype(int), whole[y0:y1, x0:x1].astype(int), atol=1, rtol=0)
    np.testing.assert_allclose(restored.data.astype(int), whole.astype(int), atol=1, rtol=0)


def test_a_curve_counts_its_passes_and_its_tiles_equal_apply(strong_weights):
    """Noise that follows brightness: a plane restored at 3 levels is previewed view first with the
    small first crop (a whole 520² gray plane at one level would be restored at once), and the
    crops, blended per pixel, show Apply's pixels."""
    from napari_hyperres.blind.brightness import LevelCurve

    curve = LevelCurve((0.1, 0.5, 0.9), (28.0, 10.0, 4.0))
    assert len(curve.scaled(10.0, DENOISE).levels_to_run(DENOISE)) == 3
    plane = np.random.default_rng(5).random((520, 520)).astype(np.float32)
    plane *= np.linspace(0.2, 1.0, 520, dtype=np.float32)[None, :]  # dark on the left: every band restored
    one_level = Request(task=DENOISE, level=10.0, device="cpu", weights=strong_weights, data=plane, rgb=False, value_range=(0.0, 1.0))
    by_brightness = dataclasses.replace(one_level, curve=curve)
    assert by_brightness.passes() == 3 * one_level.passes() == 3
    assert previews_whole(one_level, plane.shape) and not previews_whole(by_brightness, plane.shape)
    yielded, restored = _run(by_brightness)
    whole = Restorer("denoise", weights=strong_weights, device="cpu").restore(plane, curve.scaled(10.0, DENOISE), value_range=(0.0, 1.0))
    np.testing.assert_allclose(restored.data, whole, atol=1e-4, rtol=0)
    tiles = [step for step in yielded if step is not None]
    assert tiles[0].phase == "first" and tiles[0].box[1] - tiles[0].box[0] == first_edge(3) == 48
    assert {tile.phase for tile in tiles[1:]} == {"view"}  # no viewport known: the view is the plane
    for tile in tiles:
        y0, y1, x0, x1 = tile.box
        np.testing.assert_allclose(tile.data, whole[y0:y1, x0:x1], atol=1e-4, rtol=0)
