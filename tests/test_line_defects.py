"""Defective columns and rows of a camera (``napari_hyperres.core.line_defects``): found by the noise model (and without
one, for the white point), kept out of the network, given their offset back."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
from test_photon_noise import camera, fluorescence_like

from napari_hyperres.core.intensity import defect_lines_mask, intensity_map_for
from napari_hyperres.core.line_defects import fill_lines, find_defect_lines, lines_mask
from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts
from napari_hyperres.engine import Restorer, whole_noise

TRUE_NOISE = PoissonGaussian(2.2, 3.5**2 - 2.2 * 100.0, 100.0)
W2S = Path(__file__).resolve().parents[2] / "shared" / "data" / "microscopy" / "W2S" / "noisy"


@pytest.fixture(scope="module")
def microscopy() -> Restorer:
    return Restorer("microscopy", device="cpu")  # the shipped network: the spread is its real behaviour


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return camera(fluorescence_like((320, 288)), 2.2, 3.5, 100.0, 50.0)


@pytest.mark.parametrize("photons", [0.3, 3.0, 100.0, 5000.0])
def test_noise_alone_is_never_a_line(photons):
    flat = camera_counts(np.full((600, 600), photons), 2.2, 3.5, 100.0, np.random.default_rng(0))
    assert find_defect_lines(flat, TRUE_NOISE) == [] and defect_lines_mask(flat) is None


def described(lines) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """``(axis, index, runs)`` of each line, sorted."""
    return sorted((line.axis, line.index, line.runs) for line in lines)


@pytest.mark.skipif(not W2S.is_dir(), reason="../shared/data (W2S) is not beside the checkout")
def test_real_widefield_frames_have_no_line():
    """Real camera frames (W2S: every field's three channels of the first 20 fields) hold no defect: nothing is found
    in them, with the noise model or without (their restoration and white point are untouched)."""
    import tifffile

    paths = sorted(glob.glob(str(W2S / "*.tif")))[:60]
    assert len(paths) == 60
    for path in paths:
        counts = tifffile.imread(path).astype(np.uint16) * 2 + 100  # as a 16-bit camera's counts: the white point's path
        assert find_defect_lines(counts, whole_noise(counts)) == [], path
        assert defect_lines_mask(counts) is None, path


def _with(frame: np.ndarray, region, value=None, add=None) -> np.ndarray:
    bad = frame.copy()
    bad[region] = value if add is None else bad[region] + add
    return bad


@pytest.mark.parametrize(
    ("region", "value", "add", "expected"),
    [
        ((slice(None), 100), None, 300, [(1, 100, [(0, 320)])]),  # a hot column (an sCMOS column's dark current)
        ((slice(None), 100), 0, None, [(1, 100, [(0, 320)])]),  # a dead one, below the black level
        ((slice(None), slice(100, 102)), None, 300, [(1, 100, [(0, 320)]), (1, 101, [(0, 320)])]),  # two side by side
        ((slice(None), 0), None, 300, [(1, 0, [(0, 320)])]),  # on the border
        ((57, slice(None)), None, 300, [(0, 57, [(0, 288)])]),  # a row (a camera mounted turned)
    ],
)
def test_lines_are_found(frame, region, value, add, expected):
    assert described(find_defect_lines(_with(frame, region, value, add), TRUE_NOISE)) == expected


def test_a_column_stuck_at_the_black_level_is_found_where_the_sample_is_brighter(frame):
    """Where its neighbours are background it does not stand out, and the network restores the background there."""
    (line,) = find_defect_lines(_with(frame, (slice(None), 100), 100), TRUE_NOISE)
    assert line.index == 100 and line.along.mean() > 0.5
    bright = np.abs(frame[:, 99].astype(float) - 100) > 40
    assert line.along[bright].mean() > 0.9


@pytest.mark.parametrize("start", [100, 300, 700])
def test_a_line_from_a_charge_trap_is_found_from_the_trap_on(start):
    """A review: decided over 256-row segments, a column hot from row 300 was found from row 256, and the 44 good
    pixels above the trap were given +300 counts never recorded (−7 dB); from row 100, 100 of them. Now it starts
    where it starts, within a few pixels, and a faint one (~1 σ) is left to the network."""
    tall = camera(fluorescence_like((768, 300)), 2.2, 3.5, 100.0, 50.0)
    (line,) = find_defect_lines(_with(tall, (slice(start, 768), 40), add=250), TRUE_NOISE)
    ((first, last),) = line.runs
    assert line.axis == 1 and line.index == 40 and abs(first - start) <= 3 and last == 768
    assert find_defect_lines(_with(tall, (slice(None), 40), add=20), TRUE_NOISE) == []


def test_filled_lines_lose_their_offset_over_their_neighbours(frame):
    bad = _with(frame, (slice(None), slice(100, 102)), add=300)
    bad[:, 200] = 0  # a dead column: one value all along
    lines = find_defect_lines(bad, TRUE_NOISE)
    filled, taken = fill_lines(bad, lines)
    mask = lines_mask(lines, bad.shape)
    assert filled.dtype == bad.dtype and np.array_equal(filled[~mask], bad[~mask])
    assert sorted(set(taken.xs)) == [100, 101, 200] and np.array_equal(bad[taken.ys, taken.xs], taken.recorded)
    hot = taken.xs < 200
    assert np.all((taken.offsets[hot] > 285) & (taken.offsets[hot] < 315)) and not taken.stuck[hot].any()
    assert taken.stuck[~hot].all()  # given back as recorded
    around = (bad[:, 99].astype(float) + bad[:, 102]) / 2  # both columns of the pair take columns 99 and 102
    y = 160
    expected = np.median(bad[y - 16 : y + 17, 100] - around[y - 16 : y + 17])
    assert taken.offsets[(taken.xs == 100) & (taken.ys == y)][0] == expected
    assert filled[y, 100] == np.rint(bad[y, 100] - expected)


def test_a_hot_column_does_not_spread_and_stays_as_bright(microscopy, frame):
    """A column 300 counts high was restored as structure: it moved pixels around it by up to 18 counts (361 of them
    by more than 5, in a 50-photon W2S frame; a review's 2048² frame: 768 pixels by 5–32). Now the pixels beside it are
    restored as without it, and it is restored as without its offset, which is then added back: as much brighter,
    without its noise."""
    noise = whole_noise(frame)
    bad = _with(frame, (slice(None), 100), add=300)
    plain, restored = (microscopy.restore(image, "auto", noise=noise) for image in (frame, bad))
    difference = restored.astype(float) - plain
    away = np.ones(frame.shape, bool)
    away[:, 100] = False
    assert np.abs(difference[away]).max() <= 2.0
    assert abs(difference[:, 100].mean() - 300) < 5 and difference[:, 100].std() < 5  # noise: ≈ 15 counts


def test_a_hot_column_is_no_white_point(frame):
    """0.35 % of this frame is one hot column, above its 99.9th percentile: the white point was read there (a 61-photon
    W2S frame read 170 photons, and 1,398 with a column 3,000 counts high)."""
    plain = intensity_map_for(frame, counts=True).value_range
    for add in (300, 3000):
        # the column's pixels are left out of the percentiles: the black may move by a fraction of a count
        assert intensity_map_for(_with(frame, (slice(None), 100), add=add), counts=True).value_range == pytest.approx(plain, abs=0.5)
    stack = np.stack([frame, _with(frame, (slice(None), 7), add=3000)])
    expected = intensity_map_for(np.stack([frame, frame]), counts=True).value_range
    assert intensity_map_for(stack, counts=True).value_range == pytest.approx(expected, abs=0.5)


def test_a_chunked_restore_with_a_hot_column_equals_the_whole(microscopy):
    """A review: blocks decided their lines over their own rows, and a column hot from row 600 of 1,024 came out up to
    294 counts apart between dask and in-memory restores (and between the panel's preview and Apply)."""
    da = pytest.importorskip("dask.array")
    frame = camera(fluorescence_like((256, 256)), 2.2, 3.5, 100.0, 50.0)
    frame = _with(_with(frame, (slice(None), 150), add=400), (slice(130, 256), 60), add=300)
    noise = whole_noise(frame)
    lazy = microscopy.restore(da.from_array(frame, chunks=(96, 96)), "auto", noise=noise, value_range=(100.0, 300.0))
    assert lazy.numblocks != (1, 1)
    chunked, whole = lazy.compute(), microscopy.restore(frame, "auto", noise=noise, value_range=(100.0, 300.0))
    difference = np.abs(chunked.astype(int) - whole)  # float32 sums may round a count the other way
    assert difference.max() <= 1 and np.count_nonzero(difference) <= 4, (difference.max(), np.count_nonzero(difference))


@pytest.mark.parametrize("psf_sigma", [1.0, 1.5])
def test_a_kymographs_lines_are_the_samples_not_the_cameras(psf_sigma):
    """A diff review: a kymograph's stationary particles (vertical lines as wide as the optics make them) were taken
    for hot columns and lost 1.4 dB near them. A line blurred by the optics has shoulders (its neighbours stand above
    the pixels beyond them); a camera's line sits on its neighbours' level."""
    x = np.arange(256)
    for peak in (15, 30, 60, 120, 300, 1000):
        for centre in (128.0, 128.25, 128.5):
            photons = np.full((256, 256), 10.0) + peak * np.exp(-((x - centre) ** 2) / (2 * psf_sigma**2))[None, :]
            counts = camera_counts(photons, 2.0, 3.0, 100.0, np.random.default_rng(peak))
            assert find_defect_lines(counts, PoissonGaussian.from_read_noise(2.0, 3.0, 100.0)) == [], (peak, centre)
            assert defect_lines_mask(counts) is None


def test_a_pattern_of_lines_is_no_defect_and_costs_nothing():
    """A diff review: alternating rows (every other one +60 counts, ~5 σ) made every pixel a line: the white point read
    no pixel at all (IndexError), and alternating columns took 21 s to fill a 256² plane. Lines covering more than 5 %
    of a plane are the sample's pattern: none."""
    import time

    frame = camera(fluorescence_like((300, 300)), 2.2, 3.5, 100.0, 30.0)
    rows, columns = frame.copy(), frame.copy()
    rows[::2] += 60
    columns[:, ::2] += 60
    for image in (rows, columns, frame[:3] + np.array([[0], [300], [0]], dtype=np.uint16)):
        start = time.perf_counter()
        assert find_defect_lines(image, TRUE_NOISE) == [] and defect_lines_mask(image) is None
        assert time.perf_counter() - start < 5.0  # (seconds: a hang, not a timing target)
        intensity_map_for(image, counts=True)


def test_a_dead_column_does_not_refuse_the_camera_given():
    """A diff review: a column at 0 was the image's darkest part, and the camera typed (offset 100) was refused as
    lying above it."""
    frame = _with(camera(fluorescence_like((320, 288)), 2.0, 3.5, 100.0, 50.0), (slice(None), 100), 0)
    restored = Restorer("microscopy", device="cpu").restore(frame, "auto", noise=PoissonGaussian.from_read_noise(2.0, 3.5, 100.0))
    assert restored.shape == frame.shape and np.all(restored[:, 100] == 0)  # stuck: kept as recorded


def test_a_failed_noise_fit_says_so_by_its_type():
    """The panel tells a failed fit (no level restores the image: type the camera) from other Auto errors by the
    error's type, not by words in its message (a diff review: 6 of 7 fit messages name the camera)."""
    from napari_hyperres.blind.photon_fit import fit_poisson_gaussian
    from napari_hyperres.errors import NoiseFitError

    gaussian = np.random.default_rng(0).normal(500.0, 5.0, (128, 128))  # white noise: nothing grows with the signal
    with pytest.raises(NoiseFitError, match="barely grows"):
        fit_poisson_gaussian(gaussian)
    with pytest.raises(NoiseFitError, match="16×16"):
        fit_poisson_gaussian(gaussian[:8, :8])


def test_the_previews_tiles_are_applys_pixels_beside_a_cameras_lines():
    """A review: the panel's preview crops decided lines over their own rows, and the preview of a 2048² frame stood up
    to 290 counts from Apply along a column hot from row 600. Crops now carry the lines' reach as context."""
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.engine import whole_value_range
    from napari_hyperres.ui.preview import Request, RestorerCache
    from napari_hyperres.ui.progressive import preview_steps

    plane = camera(fluorescence_like((700, 660)), 2.2, 3.5, 100.0, 50.0)
    plane = _with(_with(_with(plane, (slice(300, 700), 400), add=300), (slice(None), 252), add=500), (420, slice(None)), add=200)
    noise, value_range = whole_noise(plane), whole_value_range(plane, counts=True)
    request = Request(task=get_task("microscopy"), level=60.0, device="cpu", weights=None, data=plane, rgb=False,
                      value_range=value_range, noise=noise, viewport=(101, 413, 250, 611))
    steps, tiles = preview_steps(RestorerCache(), request), []
    while True:
        try:
            tile = next(steps)
        except StopIteration:
            break
        if tile is not None:
            tiles.append(tile)
    whole = Restorer("microscopy", device="cpu").restore(plane, 60.0, value_range=value_range, noise=noise)
    assert {tile.phase for tile in tiles} >= {"first", "view"}
    for tile in tiles:
        y0, y1, x0, x1 = tile.box
        difference = np.abs(tile.data.astype(int) - whole[y0:y1, x0:x1])
        assert difference.max() <= 1 and np.count_nonzero(difference) <= 8, (tile.phase, difference.max(), np.count_nonzero(difference))


def test_a_pattern_far_away_leaves_a_hot_column_found_in_chunks_and_whole():
    """A second diff review: a cap on the share of a plane in lines was one decision for the whole array, so a pattern
    in one corner left a hot column elsewhere uncorrected in memory, while dask chunks away from it corrected it (85
    counts apart). Patterns are now told pixel by pixel (more than 8 lines within 16 pixels)."""
    da = pytest.importorskip("dask.array")
    frame = camera(fluorescence_like((288, 288)), 2.2, 3.5, 100.0, 50.0)
    frame[:120:2, :120] += 60  # alternating rows in one corner: the sample's pattern
    frame = _with(frame, (slice(None), 230), add=300)
    lines = find_defect_lines(frame, TRUE_NOISE)
    (hot,) = [line for line in lines if line.axis == 1]
    assert hot.index == 230 and hot.along.all()
    pattern = [line for line in lines if line.axis == 0]  # at most a few pixels where the pattern ends, no more
    assert sum(int(line.along.sum()) for line in pattern) <= 20 and all(line.pixels()[1].max() < 126 for line in pattern)
    noise = whole_noise(frame)
    microscopy = Restorer("microscopy", device="cpu")
    lazy = microscopy.restore(da.from_array(frame, chunks=(96, 96)), "auto", noise=noise, value_range=(100.0, 300.0))
    difference = np.abs(lazy.compute().astype(int) - microscopy.restore(frame, "auto", noise=noise, value_range=(100.0, 300.0)))
    assert difference.max() <= 1 and np.count_nonzero(difference) <= 8, (difference.max(), np.count_nonzero(difference))


@pytest.mark.parametrize("offset", [3, 6])
def test_a_hot_column_beside_a_bright_edge_is_found(offset):
    """A second diff review: with one shoulder enough to call a line the sample's, a hot column 2–3 px inside a bright
    edge was missed (the pixels beside it moved by up to 86 counts). A blurred line stands on shoulders on both sides."""
    x = np.arange(256)
    photons = np.tile(20 + 500 / (1 + np.exp(-(x - 128) / 0.8)), (256, 1))
    counts = camera_counts(photons, 2.0, 3.0, 100.0, np.random.default_rng(offset))
    counts[:, 128 + offset] += 200
    (line,) = find_defect_lines(counts, PoissonGaussian.from_read_noise(2.0, 3.0, 100.0))
    assert line.index == 128 + offset and line.along.all()
