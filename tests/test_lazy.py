"""Lazy restoration: a dask array in gives a dask array out whose values equal the eager result.

Level-conditioned tasks keep spatial chunks (``map_overlap``, the network's receptive
field as overlap); ``sr`` and ``auto`` restore whole planes. A tiny network with enlarged
weights makes every output pixel depend on its surroundings, so a block seam or a block
starting off the stride-2 head's grid would show far above the tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import strong_model, tiny_hair_model

from napari_hyperres.core.tasks import SR
from napari_hyperres.engine import Restorer, output_shape

da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def strong_rgb() -> Restorer:
    return Restorer("denoise", device="cpu", model=strong_model(3))


@pytest.fixture(scope="module")
def strong_sr() -> Restorer:
    return Restorer("sr", device="cpu", model=strong_model(3))


@pytest.fixture(scope="module")
def hair() -> Restorer:
    return Restorer("auto", device="cpu", model=tiny_hair_model(3))


def _lazy(restorer: Restorer, array: np.ndarray, chunks: tuple[int, ...], level, **kwargs):
    lazy = restorer.restore(da.from_array(array, chunks=chunks), level, **kwargs)
    assert isinstance(lazy, da.Array)
    return lazy


@pytest.mark.parametrize(
    "shape, chunks",
    [
        ((2, 96, 80), (1, 40, 40)),
        ((2, 95, 81), (1, 37, 45)),  # odd chunks: blocks must still start on even offsets
        ((2, 90, 81), (1, 40, 40)),  # a last piece shorter than the overlap
        ((1, 10, 120), (1, 10, 40)),  # an axis shorter than the overlap
    ],
)
def test_uint16_stack_equals_eager(strong_rgb, rng, shape, chunks):
    stack = rng.integers(0, 65535, shape, dtype=np.uint16)
    lazy = _lazy(strong_rgb, stack, chunks, 25)
    assert lazy.shape == stack.shape and lazy.dtype == np.uint16
    out = lazy.compute()
    eager = strong_rgb.restore(stack, 25)
    assert out.dtype == np.uint16
    assert np.abs(out.astype(np.int64) - eager).max() <= 1
    assert np.abs(out.astype(np.int64) - stack).max() > 1000  # the network really changes the data


def test_float_stack_equals_eager(strong_rgb, rng):
    stack = rng.random((2, 96, 80)).astype(np.float32)
    out = _lazy(strong_rgb, stack, (1, 40, 40), 25).compute()
    np.testing.assert_allclose(out, strong_rgb.restore(stack, 25), atol=1e-4, rtol=0)


def test_float_outside_unit_range_with_value_range(strong_rgb, rng):
    stack = (rng.random((2, 64, 72)) * 1000).astype(np.float32)
    out = _lazy(strong_rgb, stack, (1, 32, 36), 25, value_range=(0, 1000)).compute()
    np.testing.assert_allclose(out, strong_rgb.restore(stack, 25, value_range=(0, 1000)), atol=1e-4 * 1000, rtol=0)


def test_rgb_stack_equals_eager(strong_rgb, rng):
    stack = rng.integers(0, 255, (2, 70, 66, 3), dtype=np.uint8)
    lazy = _lazy(strong_rgb, stack, (1, 40, 40, 3), 25)
    assert lazy.shape == stack.shape
    assert np.abs(lazy.compute().astype(int) - strong_rgb.restore(stack, 25)).max() <= 1


def test_colour_jpeg_chroma_blocks_equal_eager(rng):
    """dejpeg restores chroma at half resolution: blocks need twice the context, on a 4-pixel grid."""
    restorer = Restorer("dejpeg", device="cpu", model=strong_model(1))
    stack = rng.random((1, 150, 142, 3)).astype(np.float32)
    out = _lazy(restorer, stack, (1, 50, 45, 3), 20, value_range=(0, 1)).compute()
    np.testing.assert_allclose(out, restorer.restore(stack, 20, value_range=(0, 1)), atol=1e-4, rtol=0)


def test_tile_inside_blocks(strong_rgb, rng):
    stack = rng.random((1, 80, 80)).astype(np.float32)
    out = _lazy(strong_rgb, stack, (1, 40, 40), 25, tile=32).compute()
    np.testing.assert_allclose(out, strong_rgb.restore(stack, 25), atol=1e-4, rtol=0)


@pytest.mark.parametrize("scale", [2.0, 1.5])
def test_sr_scaled_output(strong_sr, rng, scale):
    stack = rng.integers(0, 65535, (2, 48, 41), dtype=np.uint16)
    lazy = _lazy(strong_sr, stack, (1, 20, 20), scale)
    expected_shape = output_shape(SR, stack.shape, scale, rgb=False)
    assert lazy.shape == expected_shape
    out = lazy.compute()
    eager = strong_sr.restore(stack, scale)
    assert out.shape == eager.shape == expected_shape and out.dtype == np.uint16
    assert np.abs(out.astype(np.int64) - eager).max() <= 1


def test_auto_whole_planes(hair, rng):
    stack = rng.random((2, 64, 56, 3)).astype(np.float32)
    stack[1] = stack[1] ** 3  # a different plane: a different selection
    lazy = _lazy(hair, stack, (1, 32, 32, 3), "auto")
    out = lazy.compute()
    np.testing.assert_allclose(out, hair.restore(stack, "auto"), atol=1e-4, rtol=0)


def test_nothing_runs_before_compute(strong_rgb, rng, monkeypatch):
    calls = []
    original = Restorer.restore_steps

    def counting(self, image, *args, **kwargs):
        if np.asarray(image).size:  # dask may probe the function with an empty array for its meta
            calls.append(1)
        return original(self, image, *args, **kwargs)

    monkeypatch.setattr(Restorer, "restore_steps", counting)
    lazy = _lazy(strong_rgb, rng.random((2, 64, 64)).astype(np.float32), (1, 32, 32), 25)
    assert calls == []
    lazy.compute()
    assert len(calls) == len(lazy.chunks[0]) * len(lazy.chunks[1]) * len(lazy.chunks[2])


def test_restorer_pickles_for_workers(strong_rgb, rng):
    import pickle

    image = rng.integers(0, 255, (40, 48), dtype=np.uint8)
    strong_rgb.network_for(25)  # a cached network and the lock must not block pickling
    clone = pickle.loads(pickle.dumps(strong_rgb))
    assert clone.task is strong_rgb.task and not clone._generated
    assert np.array_equal(clone.restore(image, 25), strong_rgb.restore(image, 25))


@pytest.mark.slow
def test_lazy_result_computes_in_worker_processes(strong_rgb, rng):
    """What a dask.distributed cluster does: the graph (with the Restorer) pickled into other processes."""
    stack = rng.integers(0, 65535, (2, 64, 72), dtype=np.uint16)
    lazy = _lazy(strong_rgb, stack, (1, 32, 40), 25)
    out = lazy.compute(scheduler="processes", num_workers=2)
    assert np.abs(out.astype(np.int64) - strong_rgb.restore(stack, 25)).max() <= 1
