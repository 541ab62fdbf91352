"""napari_hyperres.engine.ensemble: the geometric self-ensemble (8 rotations / mirrors, averaged)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import strong_model

from napari_hyperres.engine import Restorer
from napari_hyperres.engine.ensemble import (
    DIHEDRAL_TRANSFORMS,
    dihedral,
    dihedral_tiles,
    undo_dihedral,
)
from napari_hyperres.engine.tiling import tile_boxes
from napari_hyperres.errors import CancelledError


def _mean(run, x, tile=None, overlap=0):
    steps = list(dihedral_tiles(run, x, tile, overlap))
    return steps[-1]


@pytest.mark.parametrize("k", range(DIHEDRAL_TRANSFORMS))
def test_undo_inverts_each_transform(k):
    x = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7)
    assert torch.equal(undo_dihedral(dihedral(x, k), k), x)


def test_the_eight_transforms_are_distinct():
    x = torch.arange(4 * 6, dtype=torch.float32).reshape(1, 1, 4, 6)
    seen = {tuple(dihedral(x, k).flatten().tolist()) + tuple(dihedral(x, k).shape) for k in range(8)}
    assert len(seen) == DIHEDRAL_TRANSFORMS


def test_average_of_an_equivariant_map_is_the_map(rng):
    piece = torch.from_numpy(rng.random((1, 3, 9, 12)).astype(np.float32))  # odd height: padded, cropped back
    out = _mean(lambda t: t * 2.0 + 1.0, piece)
    torch.testing.assert_close(out, piece * 2.0 + 1.0)


def test_average_symmetrises_a_map_that_is_not_equivariant():
    """A map that adds a left-to-right ramp: averaged over mirrors and turns the ramp cancels."""

    def ramp(t: torch.Tensor) -> torch.Tensor:
        return t + torch.linspace(0, 1, t.shape[-1])

    piece = torch.zeros(1, 1, 6, 6)
    out = _mean(ramp, piece)
    torch.testing.assert_close(out, torch.full_like(piece, 0.5))


def test_progress_counts_every_tile_of_every_pass_and_cancel_stops_within_one(rng):
    restorer = Restorer("denoise", device="cpu", model=strong_model(3), self_ensemble=True)
    image = rng.random((40, 36)).astype(np.float32)
    calls: list[tuple[int, int]] = []
    restorer.restore(image, 25, tile=20, progress=lambda done, total: calls.append((done, total)))
    tiles = len(tile_boxes(40, 36, 20))
    assert calls[-1] == (8 * tiles, 8 * tiles) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    calls.clear()
    with pytest.raises(CancelledError):
        restorer.restore(image, 25, tile=20, progress=lambda done, total: calls.append((done, total)),
                         cancel=lambda: len(calls) >= 3)
    assert len(calls) == 3  # stopped at the third tile of the first pass, not after all 8 passes


def test_restorer_self_ensemble_tiles_without_seams(rng):
    restorer = Restorer("denoise", device="cpu", model=strong_model(3), self_ensemble=True)
    image = rng.random((103, 77)).astype(np.float32)
    whole = restorer.restore(image, 25)
    plain = Restorer("denoise", device="cpu", model=strong_model(3)).restore(image, 25)
    assert np.abs(whole - plain).max() > 1e-3  # the ensemble really changes the output
    np.testing.assert_allclose(restorer.restore(image, 25, tile=32), whole, atol=1e-4, rtol=0)


def test_self_ensemble_on_rgb_jpeg_chroma_and_sr(rng):
    image = (rng.random((34, 30, 3)) * 255).astype(np.uint8)
    for task, level, shape in (("dejpeg", 20, (34, 30, 3)), ("sr", 2.0, (68, 60, 3))):
        out = Restorer(task, device="cpu", model=strong_model(1 if task == "dejpeg" else 3), self_ensemble=True).restore(image, level)
        assert out.shape == shape and out.dtype == np.uint8


def test_self_ensemble_raises_psnr_with_the_shipped_denoiser(set12_root):
    """On a real Set12 image at σ 25, the shipped weights gain from the ensemble (Set12 mean: +0.08 dB)."""
    from trainer.data import load_for_task

    clean = load_for_task(sorted(set12_root.iterdir())[0], 1)[0][64:192, 64:192, 0]
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)

    def psnr(out: np.ndarray) -> float:
        return float(10 * np.log10(1 / np.mean((np.clip(out, 0, 1) - clean) ** 2)))

    plain = psnr(Restorer("denoise", device="cpu").restore(noisy, 25, value_range=(0, 1)))
    ensembled = psnr(Restorer("denoise", device="cpu", self_ensemble=True).restore(noisy, 25, value_range=(0, 1)))
    assert ensembled > plain + 0.02


def test_self_ensemble_lazy_blocks_equal_the_whole(rng):
    da = pytest.importorskip("dask.array")
    restorer = Restorer("denoise", device="cpu", model=strong_model(3), self_ensemble=True)
    stack = rng.random((1, 70, 61)).astype(np.float32)  # odd chunk edges: 35 / 31
    lazy = restorer.restore(da.from_array(stack, chunks=(1, 35, 31)), 25)
    np.testing.assert_allclose(lazy.compute(), restorer.restore(stack, 25), atol=1e-4, rtol=0)


def test_with_self_ensemble_shares_the_model_and_its_generated_networks():
    plain = Restorer("denoise", device="cpu", model=strong_model(3))
    net = plain.network_for(25)
    ensembled = plain.with_self_ensemble()
    assert ensembled.self_ensemble and not plain.self_ensemble
    assert ensembled.model is plain.model and ensembled.network_for(25) is net
    assert plain.with_self_ensemble(False) is plain and ensembled.with_self_ensemble() is ensembled
