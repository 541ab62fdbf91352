"""The built-in ``microscopy`` task: raw counts in, Poisson–Gaussian noise fitted once, GAT + network + exact inverse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile
from test_photon_noise import camera, fluorescence_like

from napari_hyperres import LevelRangeError, ShapeError, restore
from napari_hyperres.blind.estimate import estimate_level, estimate_photon_noise
from napari_hyperres.cli.main import main
from napari_hyperres.core.photon_noise import PoissonGaussian
from napari_hyperres.core.plugins import get_task
from napari_hyperres.engine import Restorer, whole_noise, whole_value_range


@pytest.fixture(scope="module")
def microscopy() -> Restorer:
    return Restorer("microscopy", device="cpu")  # the shipped network: this is about real behaviour


def aligned_psnr(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR (peak = the target's range) after the least-squares affine map of ``output`` onto ``target``."""
    x = output.astype(np.float64).ravel()
    a, b = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), target.astype(np.float64).ravel(), rcond=None)[0]
    mse = np.mean((a * x + b - target.astype(np.float64).ravel()) ** 2)
    return 10 * np.log10(float(np.ptp(target)) ** 2 / mse)


def test_task_declares_its_capabilities():
    task = get_task("microscopy")
    assert task.noise_parameters == "poisson-gaussian" and task.level_scale == "log" and task.level_from_image
    assert task.unit == "photons" and "denoise" in task.accepted_weights


def test_raw_camera_counts_are_restored_in_counts(microscopy):
    """A 12-bit-like camera image (offset 100, counts ≈ 100–600 of 65535) stays in its counts and gets much cleaner."""
    clean = fluorescence_like((128, 128))
    gain, offset, peak = 2.0, 100.0, 250.0
    frame = camera(clean, gain, 3.0, offset, peak)
    truth = offset + gain * peak * clean
    out = microscopy.restore(frame, "auto")
    assert out.dtype == np.uint16 and out.shape == frame.shape
    assert abs(out.mean() - truth.mean()) < 0.02 * truth.mean()  # unbiased: the inverse is exact, not algebraic
    assert aligned_psnr(out, truth) > aligned_psnr(frame, truth) + 6.0
    denoise = restore(frame, "denoise", 25)  # the Gaussian task on the same counts, by the data's own range now
    assert denoise.dtype == np.uint16 and abs(float(denoise.mean()) - truth.mean()) < 0.05 * truth.mean()


def test_auto_level_is_the_fitted_photons(microscopy):
    frame = camera(fluorescence_like((256, 256)), 2.0, 3.0, 100.0, 250.0)
    photons, noise = estimate_photon_noise(frame)
    black, white = whole_value_range(frame)
    assert photons == pytest.approx((white - black) / noise.gain)
    assert estimate_level(frame, "microscopy") == pytest.approx(photons)
    assert microscopy.resolve_level(frame, "auto") == pytest.approx(photons)
    assert photons == pytest.approx((white - black) / 2.0, rel=0.15)  # the true gain is 2 counts per photo-electron (fit: ≈ 10 % here)


def test_counts_scaled_to_float_in_0_1_are_restored_as_the_counts_were(microscopy):
    """``skimage.img_as_float`` or ``/ 65535`` of camera counts fills 0.002–0.01 of [0, 1]. Before, the
    float rule "inside [0, 1]: as it is" put ~33,000 photons between 0 and 1, and auto was refused
    ("almost no photon noise"); a level given by hand then ruined the image."""
    frame = camera(fluorescence_like((128, 128)), 2.0, 3.0, 100.0, 250.0)
    scaled = (frame / 65535).astype(np.float32)
    assert estimate_level(scaled, "microscopy") == pytest.approx(estimate_level(frame, "microscopy"), rel=1e-3)
    assert whole_value_range(scaled, counts=True)[1] < 0.02  # read by its range, not 0–1
    out = microscopy.restore(scaled, "auto")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out * 65535, microscopy.restore(frame, "auto"), atol=1.0)


def test_a_stack_with_a_dark_first_frame_streams_as_it_restores_in_memory(tmp_path, capsys):
    """A stack above --memory-budget is streamed page by page. Before, its first page alone set the
    noise fit and the intensity map: a dark first frame (shutter closed) was refused as "not
    photon-limited" while the same file in memory restored; now both read the same sampled planes."""
    clean = fluorescence_like((96, 96))
    frames = [camera(clean, 2.0, 3.0, 100.0, 200.0, seed=s) for s in range(1, 7)]
    dark = camera(np.zeros_like(clean), 2.0, 3.0, 100.0, 200.0, seed=9)
    stack = np.stack([dark, *frames])
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    common = ["--task", "microscopy", "--level", "auto", "--device", "cpu"]
    assert main(["restore", str(tmp_path / "stack.tif"), str(tmp_path / "memory.tif"), *common]) == 0
    assert main(["restore", str(tmp_path / "stack.tif"), str(tmp_path / "streamed.tif"), *common, "--memory-budget", "0.05"]) == 0
    err = capsys.readouterr().err
    assert "(streaming)" in err and "sampled pages" in err
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "streamed.tif"), tifffile.imread(tmp_path / "memory.tif"))


def test_each_channel_of_a_hyperstack_gets_its_own_noise_fit(tmp_path, capsys, microscopy):
    """Two detectors, gain 2 / offset 100 and gain 12 / offset 500: one fit for both (before) read a
    gain right for neither and lost 2.6 and 6.8 dB against restoring each channel alone (reviewer's probe)."""
    clean = fluorescence_like((96, 96))
    first = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=s) for s in (1, 2)])
    second = np.stack([camera(clean, 12.0, 3.0, 500.0, 150.0, seed=s) for s in (3, 4)])
    stack = np.stack([first, second], axis=1)  # Z, C, Y, X
    tifffile.imwrite(tmp_path / "two.tif", stack, imagej=True, metadata={"axes": "ZCYX"})
    assert main(["restore", str(tmp_path / "two.tif"), str(tmp_path / "out.tif"), "--task", "microscopy",
                 "--level", "auto", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "two.tif channel 0: " in err and "two.tif channel 1: " in err
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == stack.shape
    for c, channel in enumerate((first, second)):
        np.testing.assert_array_equal(out[:, c], microscopy.restore(channel, "auto"))
    np.testing.assert_array_equal(microscopy.restore(stack, "auto", channel_axis=1), out)  # the Python API's way
    # estimate reads the same levels (before: one mixed fit, 7566 photons at α 0.131 in a review's probe)
    levels = [estimate_level(channel, "microscopy") for channel in (first, second)]
    assert estimate_level(stack, "microscopy", channel_axis=1) == levels
    assert [p for p, _ in estimate_photon_noise(stack, channel_axis=1)] == levels
    assert main(["estimate", str(tmp_path / "two.tif"), "--task", "microscopy"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [f"{tmp_path / 'two.tif'} channel {c}" for c in (0, 1)]
    assert [float(line.split("\t")[1]) for line in lines] == pytest.approx(levels, rel=1e-3)
    with pytest.raises(ShapeError, match="give one of its leading axes"):
        microscopy.restore(stack, "auto", channel_axis=-1)  # X
    # streamed page by page (above --memory-budget) and chunk by chunk (a zarr output): each channel its own
    # fit too (a review: a streamed TCYX stack got one fit for both, 9.7× apart, and lost 8-12 dB)
    for target, budget in (("streamed.tif", "0.01"), ("chunked.zarr", "1000")):
        assert main(["restore", str(tmp_path / "two.tif"), str(tmp_path / target), "--task", "microscopy",
                     "--level", "auto", "--device", "cpu", "--memory-budget", budget]) == 0
        err = capsys.readouterr().err
        assert "two.tif channel 0: " in err and "two.tif channel 1: " in err and "different" not in err
        assert "(channel 0; each channel its own) -> " in err  # the summary names whose level it shows
        if target.endswith(".tif"):
            assert "(streaming)" in err
            np.testing.assert_array_equal(tifffile.imread(tmp_path / target), out)
        else:
            import zarr

            group = zarr.open_group(str(tmp_path / target), mode="r")  # NGFF's order, the file's axes named: C, Z, Y, X
            np.testing.assert_array_equal(np.asarray(group["0"]), np.moveaxis(out, 1, 0))


def test_channels_stored_as_samples_get_their_own_noise_fit(tmp_path, capsys, microscopy):
    """Two detectors stored as the samples of one min-is-black TIFF page: before, read as an image two
    pixels wide ("expected …"); now as two channels, each fitted on its own, the output a channel stack."""
    clean = fluorescence_like((96, 96))
    channels = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=1), camera(clean, 12.0, 3.0, 500.0, 150.0, seed=2)])
    tifffile.imwrite(tmp_path / "two.tif", np.moveaxis(channels, 0, -1), photometric="minisblack",
                     planarconfig="contig", metadata=None)
    assert main(["restore", str(tmp_path / "two.tif"), str(tmp_path / "out.tif"), "--task", "microscopy",
                 "--level", "auto", "--device", "cpu"]) == 0
    assert "two.tif channel 1: " in capsys.readouterr().err
    out = tifffile.imread(tmp_path / "out.tif")
    for c in range(2):
        np.testing.assert_array_equal(out[c], microscopy.restore(channels[c], "auto"))


def test_a_time_lapse_of_a_small_region_is_fitted_on_enough_planes(microscopy):
    """100 frames of 20×20 (a small ROI): before, the fit read 8 planes, too few pixels ("give at
    least 64×64"); now as many planes as its minimum of pixels takes."""
    clean = fluorescence_like((20, 20))
    frames = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=s) for s in range(100)])
    photons, noise = estimate_photon_noise(frames)
    assert noise.gain == pytest.approx(2.0, rel=0.2)
    assert microscopy.restore(frames, "auto").shape == frames.shape


def test_fewer_photons_smooth_more(microscopy):
    frame = camera(fluorescence_like((96, 96)), 2.0, 3.0, 100.0, 250.0)
    noise = whole_noise(frame)
    weak, strong = (microscopy.restore(frame, p, noise=noise) for p in (1000.0, 5.0))
    assert np.std(np.diff(strong.astype(float), axis=1)) < np.std(np.diff(weak.astype(float), axis=1))


def test_a_stack_is_fitted_once_and_planes_match_the_whole(microscopy):
    clean = np.stack([fluorescence_like((64, 64), seed=s) for s in range(3)])
    stack = camera(clean, 2.0, 3.0, 100.0, 250.0)
    whole = microscopy.restore(stack, 60.0)
    noise, value_range = whole_noise(stack), whole_value_range(stack)
    plane = microscopy.restore(stack[1], 60.0, noise=noise, value_range=value_range)  # what the widget's preview does
    np.testing.assert_array_equal(plane, whole[1])
    alone = microscopy.restore(stack[1], 60.0)  # the plane's own fit and range differ
    assert not np.array_equal(alone, whole[1])


def test_lazy_equals_eager_with_the_same_fit(microscopy):
    dask = pytest.importorskip("dask.array")
    stack = camera(np.stack([fluorescence_like((64, 64), seed=s) for s in range(2)]), 2.0, 3.0, 100.0, 250.0)
    noise, value_range = whole_noise(stack), whole_value_range(stack)
    lazy = microscopy.restore(dask.from_array(stack, chunks=(1, 64, 64)), "auto", noise=noise, value_range=value_range)
    eager = microscopy.restore(stack, "auto", noise=noise, value_range=value_range)
    np.testing.assert_array_equal(lazy.compute(), eager)


def test_rgb_and_unfit_images_are_refused_with_advice(microscopy):
    with pytest.raises(ShapeError, match="split"):  # gray stored as RGB too: a photon fit reads one channel of counts
        microscopy.restore(np.zeros((32, 32, 3), np.uint8), 30)
    flat_noise = (500 + np.random.default_rng(0).normal(0, 5, (96, 96))).astype(np.uint16)
    with pytest.raises(ShapeError, match="denoise"):
        microscopy.restore(flat_noise, "auto")
    with pytest.raises(LevelRangeError, match="1–10000"):
        microscopy.restore(camera(fluorescence_like((64, 64)), 2.0, 3.0, 100.0, 250.0), 0.5)


@pytest.mark.parametrize(
    ("values", "dtype"),
    [((1000, 1010), np.uint16), ((-100, 500), np.int16), ((-100, 500), np.int32), ((100, 4000), np.uint16)],
)
def test_integers_using_a_small_part_of_their_range_come_back_in_place(values, dtype):
    """Every task maps non-8-bit integers by their own range: no near-black input, no ±3·10⁷ output."""
    rng = np.random.default_rng(0)
    smooth = fluorescence_like((48, 48))
    image = np.round(values[0] + (values[1] - values[0]) * smooth + rng.normal(0, 0.02 * (values[1] - values[0]), smooth.shape))
    image = np.clip(image, *values).astype(dtype)
    out = restore(image, "denoise", 25)
    assert out.dtype == dtype
    span = values[1] - values[0]
    assert out.min() >= values[0] - 0.1 * span and out.max() <= values[1] + 0.1 * span
    assert np.abs(out.astype(float) - values[0] - span * smooth).mean() < np.abs(image.astype(float) - values[0] - span * smooth).mean()


def test_cli_restores_and_estimates_a_camera_stack(tmp_path, capsys):
    stack = camera(np.stack([fluorescence_like((64, 64), seed=s) for s in range(2)]), 2.0, 3.0, 100.0, 250.0)
    src, dst = tmp_path / "counts.tif", tmp_path / "restored.tif"
    tifffile.imwrite(src, stack)
    assert main(["restore", str(src), str(dst), "--task", "microscopy", "--level", "auto", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "Poisson–Gaussian fit: gain α" in err and "photons" in err
    out = tifffile.imread(dst)
    assert out.dtype == np.uint16 and out.shape == stack.shape
    np.testing.assert_array_equal(out, Restorer("microscopy", device="cpu").restore(stack, "auto"))
    assert main(["estimate", str(src), "--task", "microscopy"]) == 0
    line = capsys.readouterr().out.strip().split("\t")
    assert float(line[1]) == pytest.approx(estimate_level(stack, "microscopy"), rel=1e-3) and line[2].startswith("Poisson–Gaussian fit")


def test_real_widefield_frame_is_restored_without_losing_to_its_input(w2s_root, microscopy):
    """A real W2S frame (8-bit, Poisson–Gaussian): much closer to the 400-frame average than the input or denoise."""
    noisy = tifffile.imread(w2s_root / "noisy" / "input_avg1_010_1.tif")
    clean = tifffile.imread(w2s_root / "clean" / "target_avg400_010_1.tif")
    out = microscopy.restore(noisy, "auto")
    gaussian = restore(noisy, "denoise", "auto")
    before, after = aligned_psnr(noisy, clean), aligned_psnr(out, clean)
    assert out.dtype == np.uint8
    assert after > before + 8.0 and after > aligned_psnr(gaussian, clean) + 2.0


def test_a_level_above_the_reading_leaves_noise_in_and_never_flattens_the_frame(w2s_root, microscopy):
    """A newcomer's review: W2S frame 060_2 (Auto reads 7 photons) at 50 photons came out flat grey, at 300 all
    white: the noise curve turned about the frame's 0.1st percentile (0, below the offset of 9), so β stayed at
    the fit's large negative value while the gain shrank and the variance went negative over most of the frame.
    It now turns about the offset: more photons than there are leave noise in, as the README says."""
    noisy = tifffile.imread(w2s_root / "noisy" / "input_avg1_060_2.tif")
    clean = tifffile.imread(w2s_root / "clean" / "target_avg400_060_2.tif")
    photons, noise = estimate_photon_noise(noisy)
    auto = microscopy.restore(noisy, photons, noise=noise).astype(np.float64)
    for factor in (2, 7, 40):
        out = microscopy.restore(noisy, photons * factor, noise=noise).astype(np.float64)
        assert out.std() > 0.8 * auto.std() and abs(out.mean() - auto.mean()) < 0.1 * auto.mean(), factor
        assert aligned_psnr(out, clean) > aligned_psnr(noisy, clean), factor  # never below its noisy input


def test_background_subtracted_frames_are_restored_about_as_well_as_raw(w2s_root, microscopy):
    """A real W2S frame minus its 20th percentile, clipped at 0 (what background subtraction
    writes): the fit sees no flat background and extrapolated the noise variance below zero
    there (β −746), so every dark pixel came back as one grey level: 24.92 dB against 30.47 raw.
    The fit now keeps the read noise variance σ² = β + α·offset ≥ 0: 29.90 dB."""
    noisy = tifffile.imread(w2s_root / "noisy" / "input_avg1_001_0.tif")
    clean = tifffile.imread(w2s_root / "clean" / "target_avg400_001_0.tif")
    subtracted = np.clip(noisy.astype(np.int32) - int(np.percentile(noisy, 20)), 0, 255).astype(np.uint8)
    assert (subtracted == 0).mean() > 0.2
    raw = aligned_psnr(microscopy.restore(noisy, "auto"), clean)
    assert aligned_psnr(microscopy.restore(subtracted, "auto"), clean) > raw - 1.0


def test_zero_clipped_camera_counts_keep_their_dark_background(w2s_root, microscopy):
    """Offset 0 (a W2S average as the photons, peak 30): 26 % of the pixels are clipped at 0. The
    background (true mean 1.3 counts) came back at 13.0 and the PSNR was 24.0 dB (reviewer's
    probe); now within a count of the truth and as good as with the true noise (39 dB)."""
    from scipy.ndimage import gaussian_filter

    clean = tifffile.imread(w2s_root / "clean" / "target_avg400_002_0.tif").astype(np.float64)[:256, :256]
    photons = gaussian_filter(clean, 0.7) / 255 * 30 + 0.2
    rng = np.random.default_rng(4)
    frame = np.clip(np.round(2.2 * rng.poisson(photons) + 3.5 * rng.standard_normal(photons.shape)), 0, None).astype(np.uint16)
    assert (frame == 0).mean() > 0.2
    background = photons < np.percentile(photons, 30)
    out = microscopy.restore(frame, "auto")
    truth = 2.2 * photons
    assert abs(out[background].mean() - truth[background].mean()) < 1.0
    assert aligned_psnr(out, truth) > 37.0


def test_a_saturated_12_bit_camera_is_restored_within_4095(microscopy):
    """Before: restored values reached 4173 (reviewer's probe; here 4100+) from a camera that cannot
    record above 4095: the fit knew the ceiling and dropped it."""
    counts = camera(fluorescence_like((128, 128), seed=3), 2.2, 3.5, 100.0, 4000.0)
    frame = np.minimum(counts, 4095).astype(np.uint16)
    saturated = frame == 4095
    assert saturated.mean() > 0.01
    out = microscopy.restore(frame, "auto")
    assert out.max() == 4095 and np.mean(out[saturated] == 4095) > 0.5
    assert microscopy.restore(frame, 500.0).max() <= 4095  # a level by hand keeps the fitted ceiling too
    unsaturated = camera(fluorescence_like((128, 128), seed=3), 2.2, 3.5, 100.0, 300.0)
    assert estimate_photon_noise(unsaturated)[1].ceiling is None  # nothing piles up at the top: no ceiling


def test_a_known_camera_replaces_the_fit(tmp_path, capsys):
    """``--camera GAIN READ_NOISE OFFSET``: for images the fit cannot read (a few photons under read noise,
    a review's 1-2 photons at white were refused with advice to use denoise), the camera's own numbers."""
    frame = camera(fluorescence_like((96, 96)), 2.2, 3.5, 100.0, 1.5)
    tifffile.imwrite(tmp_path / "dim.tif", frame)
    common = ["--task", "microscopy", "--camera", "2.2", "3.5", "100", "--device", "cpu"]
    assert main(["estimate", str(tmp_path / "dim.tif"), *common]) == 0
    known = PoissonGaussian.from_read_noise(2.2, 3.5, 100.0)
    black, white = whole_value_range(frame)
    photons = float(capsys.readouterr().out.split("\t")[1])
    assert photons == pytest.approx(known.photons(black, white), rel=1e-3)
    assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "out.tif"), *common, "--level", "auto"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), restore(frame, "microscopy", "auto", noise=known))
    # a level by hand with a camera: the level sets the strength (a bright image's message advises it)
    assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "five.tif"), *common, "--level", "5"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "five.tif"), restore(frame, "microscopy", 5, noise=known))
    for wrong, message in (
        (["--level", "auto", "--task", "denoise"], "photon-limited tasks"),
        (["--level", "auto", "--camera", "0", "3", "100"], "gain > 0"),
    ):
        assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "x.tif"), *common, *wrong]) != 0
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_a_level_far_from_what_the_noise_reads_is_warned_about():
    """A batch review: one --level 70 for a folder restored a frame whose fit reads 14 photons to 17.54 dB,
    below its noisy input's 18.24, without a word. A level beyond ×0.5–×1.4 of the reading warns."""
    import warnings

    from napari_hyperres import LevelMismatchWarning
    from napari_hyperres.blind.photon_fit import LEVEL_MISFIT

    frame = camera(fluorescence_like((128, 128)), 2.0, 3.0, 100.0, 60.0)
    reading = estimate_level(frame, "microscopy")
    with pytest.warns(LevelMismatchWarning, match=r"is 5× what this image's noise reads"):
        restore(frame, "microscopy", 5 * reading)
    with pytest.warns(LevelMismatchWarning, match="below it"):
        restore(frame, "microscopy", 0.3 * reading)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LevelMismatchWarning)
        for factor in (LEVEL_MISFIT[0] * 1.01, 1.1, LEVEL_MISFIT[1] * 0.99):  # the README's × 1.1 is quiet
            restore(frame, "microscopy", factor * reading)


def test_a_camera_that_does_not_describe_the_image_is_warned_about(tmp_path, capsys):
    """A batch review: --camera of the first detector applied to a second detector's channel (gain 8,
    offset 500) restored it 6.3 dB below its own fit, and the log called the camera a "Poisson–Gaussian fit"."""
    import warnings

    from napari_hyperres import CameraMismatchWarning
    from napari_hyperres.blind.photon_fit import fit_poisson_gaussian

    clean = fluorescence_like((128, 128))
    first, second = camera(clean, 2.2, 3.5, 100.0, 200.0), camera(clean, 8.0, 3.5, 500.0, 200.0)
    given = PoissonGaussian.from_read_noise(2.2, 3.5, 100.0)
    with pytest.warns(CameraMismatchWarning, match="does not describe this image's noise"):
        restore(second, "microscopy", "auto", noise=given)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CameraMismatchWarning)
        restore(first, "microscopy", "auto", noise=given)
        # a fit passed along (the widget's whole-layer fit, the CLI's auto level) is no camera: nothing to check
        # (a diff review found every noise= taken for one, and the widget's Auto saying "camera given")
        restore(second, "microscopy", "auto", noise=fit_poisson_gaussian(second))
    assert not fit_poisson_gaussian(second).camera and given.camera and given.with_photons(10, 100, 600).camera
    tifffile.imwrite(tmp_path / "first.tif", first)
    assert main(["restore", str(tmp_path / "first.tif"), str(tmp_path / "out.tif"), "--task", "microscopy",
                 "--level", "auto", "--camera", "2.2", "3.5", "100", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "camera given: gain α 2.2" in err and "fit" not in err.split("camera given")[1].split("\n")[0], err


def test_channels_of_different_detectors_fitted_together_are_warned_about(microscopy):
    """A review: a ZCYX layer without channel_axis (the widget's 4-D layer) was fitted as one, 26.71 dB
    on the second channel against 34.32 fitted alone, with no word. Planes of one camera do not warn."""
    import warnings

    from napari_hyperres import MixedNoiseWarning

    clean = fluorescence_like((96, 96))
    first = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=s) for s in (1, 2)])
    second = np.stack([camera(clean, 12.0, 3.0, 500.0, 150.0, seed=s) for s in (3, 4)])
    stack = np.stack([first, second], axis=1)
    with pytest.warns(MixedNoiseWarning, match="restore each channel on its own"):
        whole_noise(stack)
    bleaching = np.stack([camera(clean * f, 2.0, 3.0, 100.0, 200.0, seed=s) for s, f in enumerate((1, 0.5, 0.25, 0.1))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedNoiseWarning)
        whole_noise(bleaching)
        estimate_level(stack, "microscopy", channel_axis=1)


def test_each_channel_can_have_its_own_level():
    """A batch review: estimate prints a level per channel, but restore took one number for all
    (``restore(x, 'microscopy', [40, 180], channel_axis=2)`` raised "expected a number")."""
    clean = fluorescence_like((96, 96))
    stack = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=1), camera(clean, 12.0, 3.0, 500.0, 150.0, seed=2)])[None]
    both = restore(stack, "microscopy", [150, "auto"], channel_axis=1)
    np.testing.assert_array_equal(both[:, 0], restore(stack[:, 0], "microscopy", 150))
    np.testing.assert_array_equal(both[:, 1], restore(stack[:, 1], "microscopy", "auto"))
    with pytest.raises(LevelRangeError, match="one level per channel"):
        restore(stack, "microscopy", [40, 50, 60], channel_axis=1)
    np.testing.assert_array_equal(restore(stack, "microscopy", np.array([150.0, 140.0]), channel_axis=1)[:, 0], both[:, 0])
    with pytest.raises(LevelRangeError, match="pass channel_axis="):  # said first, not "expected a number" after a fit
        restore(stack, "microscopy", [150, "auto"])


def test_a_bright_image_is_refused_with_a_level_that_can_be_given():
    """Above the range the advice was "give a level by hand", though no level above 10000 is accepted."""
    frame = camera(fluorescence_like((128, 128)), 2.0, 3.0, 100.0, 40000.0)
    with pytest.raises(LevelRangeError, match="little to restore; if you still want to, give the level 10000 by hand"):
        restore(frame, "microscopy", "auto")
    assert restore(frame, "microscopy", 10000).shape == frame.shape


def test_a_field_in_zero_padding_is_restored_to_its_edge_as_on_its_own(microscopy):
    """A review: a field inside a stitched mosaic's zeros (or a rotated tile) ended at a flat black level fed to the
    network, an edge it restored dark: the outermost columns 5–8 counts low, the 8 columns along it 3.5 dB worse than
    the field restored on its own. The padding is now fed the data mirrored across the field's edge."""
    from napari_hyperres.blind.photon_fit import fit_poisson_gaussian
    from napari_hyperres.core.impulses import fill_padding, padding_mask

    clean = fluorescence_like((192, 192), seed=4)
    field = camera(clean, 2.2, 3.5, 100.0, 50.0, seed=6)
    canvas = np.zeros((256, 256), np.uint16)
    canvas[32:224, 40:232] = field
    noise = fit_poisson_gaussian(field)
    alone = microscopy.restore(field, "auto", noise=noise, value_range=(100.0, 230.0)).astype(float)
    inside = microscopy.restore(canvas, "auto", noise=noise, value_range=(100.0, 230.0)).astype(float)[32:224, 40:232]
    rim = np.ones(clean.shape, bool)
    rim[8:-8, 8:-8] = False
    assert aligned_psnr(inside[rim], clean[rim]) > aligned_psnr(alone[rim], clean[rim]) - 1.0  # −0.54; before: −9.6 dB
    assert aligned_psnr(inside, clean) > aligned_psnr(alone, clean) - 0.1  # −0.01; before: −2.1 dB
    assert abs((inside - alone)[:, 0].mean()) < 1.0 and abs((inside - alone)[0].mean()) < 1.0  # before: 1.3 and 3.8 counts dark
    mask = padding_mask(canvas, noise)
    filled = fill_padding(canvas, mask, 100.0)
    assert np.array_equal(filled[~mask], canvas[~mask]) and (filled[:, :10] == 100).all()  # beyond the band: black
    assert np.array_equal(filled[32:224, 39], canvas[32:224, 41]) and np.array_equal(filled[31, 40:232], canvas[33, 40:232])


def test_zero_padding_and_a_blank_frame_neither_move_the_fit_nor_get_restored(microscopy):
    """A review: zeros around stitched tiles, or one blank frame in a time-lapse, under a camera's
    offset of 100 made the fitted offset 0 (β bound 0 instead of about −200): the other planes lost
    0.7–2.4 dB, the padding came out 94 with a dark line along it. The offset now leaves out
    windows that are all at a piled-up minimum; padding is fed the black level and kept as recorded."""
    from napari_hyperres.blind.photon_fit import fit_poisson_gaussian
    from napari_hyperres.core.impulses import padding_mask

    clean = fluorescence_like((160, 160))
    frame = camera(clean, 2.2, 3.5, 100.0, 150.0, seed=5)
    padded = np.zeros((160, 220), np.uint16)
    padded[:, 60:] = frame
    plain_fit, padded_fit = fit_poisson_gaussian(frame), fit_poisson_gaussian(padded)
    assert padded_fit.offset == pytest.approx(plain_fit.offset, abs=1.0)
    assert padded_fit.beta == pytest.approx(plain_fit.beta, rel=0.05)
    assert padding_mask(padded, padded_fit)[:, :60].all() and not padding_mask(padded, padded_fit)[:, 60:].any()
    restored = microscopy.restore(padded, "auto")
    assert (restored[:, :60] == 0).all()  # the padding as recorded
    from napari_hyperres.core.intensity import padded_below

    subtracted = np.clip(frame.astype(np.int32) - 125, 0, None)  # background subtracted, clipped at 0: data, not padding
    assert padded_below(padded, 0) and not padded_below(subtracted, 0) and not padded_below(frame, float(frame.min()))
    # the intensity map leaves the padding out too (padded_below): the same photons, within 0.15 dB
    assert estimate_level(padded, "microscopy") == pytest.approx(estimate_level(frame, "microscopy"), rel=0.02)
    assert aligned_psnr(restored[:, 60:], clean) > aligned_psnr(microscopy.restore(frame, "auto"), clean) - 0.15

    stack = np.stack([camera(clean, 2.2, 3.5, 100.0, 150.0 * b, seed=s) for s, b in ((1, 1.0), (2, 0.7), (3, 0.5))])
    blank = stack.copy()
    blank[1] = 0
    assert fit_poisson_gaussian(blank).offset == pytest.approx(fit_poisson_gaussian(stack).offset, abs=1.0)
    restored = microscopy.restore(blank, "auto")
    assert (restored[1] == 0).all()
    for p in (0, 2):
        assert aligned_psnr(restored[p], clean) > aligned_psnr(microscopy.restore(stack, "auto")[p], clean) - 0.15


def test_float_output_keeps_what_whole_counts_round_away(tmp_path, capsys):
    """A review: at about 3 photons peak the uint16 output held 10 distinct values (terraces); the
    same restoration as floats scored 25.3 dB against 23.4. `--float-output` writes it as float32,
    read and fitted from the file as it is (its rounding to counts is the only difference)."""
    clean = fluorescence_like((128, 128))
    frame = camera(clean, 2.2, 3.5, 100.0, 4.0, seed=7)
    tifffile.imwrite(tmp_path / "dim.tif", frame)
    common = ["--task", "microscopy", "--level", "auto", "--device", "cpu", "--quiet"]
    loud = [arg for arg in common if arg != "--quiet"]
    assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "counts.tif"), *loud]) == 0
    assert "distinct values (a few photons per pixel" in capsys.readouterr().err  # the CLI points to --float-output
    assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "float.tif"), *loud, "--float-output"]) == 0
    assert "--float-output writes" not in capsys.readouterr().err
    counts, floats = tifffile.imread(tmp_path / "counts.tif"), tifffile.imread(tmp_path / "float.tif")
    assert counts.dtype == np.uint16 and floats.dtype == np.float32
    assert np.abs(np.round(floats) - counts.astype(np.float64)).max() <= 1
    assert len(np.unique(floats)) > 20 * len(np.unique(counts))
    assert aligned_psnr(floats, clean) > aligned_psnr(counts, clean)
    assert main(["restore", str(tmp_path / "dim.tif"), str(tmp_path / "x.png"), *common, "--float-output"]) == 2
    assert "give OUT a .tif" in capsys.readouterr().err


def test_each_files_warning_names_the_file(tmp_path, capsys):
    """A review: estimating several files printed the mixed-noise warning once, after all the result
    lines, naming no file. Each file's warnings now come with its name, in estimate and restore."""
    clean = fluorescence_like((96, 96))
    mixed = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=1), camera(clean, 12.0, 3.0, 500.0, 150.0, seed=2)])
    for name in ("a.tif", "b.tif"):
        tifffile.imwrite(tmp_path / name, mixed)  # no axes: the two detectors are fitted as one stack
    assert main(["estimate", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--task", "microscopy"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'a.tif'}: the planes of this stack differ in noise" in err
    assert f"warning: {tmp_path / 'b.tif'}: the planes of this stack differ in noise" in err
    assert main(["restore", str(tmp_path), str(tmp_path / "out"), "--task", "microscopy", "--level", "auto", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: a.tif: the planes" in err and "warning: b.tif: the planes" in err


def test_a_clipped_patch_keeps_its_recorded_values_and_hot_pixels_are_no_saturation(microscopy, tmp_path):
    """A camera clipping at a value below its dtype's top (here 4 % of a 3,000-photon frame): before,
    the restored plateau dipped below the clip; with a camera given (``--camera``) nothing was known
    of the clip at all. Now the inside of each clipped patch keeps what was recorded, with a fitted
    noise or a given one; 255s scattered alone (W2S's 8-bit hot pixels) are no ceiling."""
    from napari_hyperres.blind.photon_fit import saturation_ceiling

    clean = fluorescence_like((256, 256), seed=3)
    counts = camera(clean, 2.0, 3.0, 100.0, 3000.0, seed=2)
    clip = int(np.quantile(counts, 0.96))
    clipped = np.minimum(counts, clip).astype(np.uint16)
    top = clipped >= clip
    inside = top.copy()
    padded = np.pad(top, 1)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            inside &= padded[dy : dy + 256, dx : dx + 256]
    assert inside.sum() > 1000
    assert saturation_ceiling([clipped], clipped.dtype) == clip
    for noise in (None, PoissonGaussian.from_read_noise(2.0, 3.0, 100.0)):
        out = microscopy.restore(clipped, "auto", noise=noise)
        np.testing.assert_array_equal(out[inside], clip)
        assert out.max() <= clip
    # a given camera on a stack streamed page by page decides as in memory (its sampled pages stand for it)
    stack = np.stack([clipped, np.minimum(camera(clean, 2.0, 3.0, 100.0, 3000.0, seed=5), clip).astype(np.uint16)])
    tifffile.imwrite(tmp_path / "clipped.tif", stack)
    outputs = []
    for name, budget in (("memory.tif", "1000"), ("streamed.tif", "0.01")):
        assert main(["restore", str(tmp_path / "clipped.tif"), str(tmp_path / name), "--task", "microscopy", "--level", "auto",
                     "--camera", "2", "3", "100", "--device", "cpu", "--quiet", "--memory-budget", budget]) == 0
        outputs.append(tifffile.imread(tmp_path / name))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[1][0][inside], clip)
    hot = np.random.default_rng(0).integers(20, 200, (256, 256)).astype(np.uint8)
    hot.ravel()[np.random.default_rng(1).choice(hot.size, 200, replace=False)] = 255  # 0.3 %, alone
    assert saturation_ceiling([hot], hot.dtype) is None


def test_a_camera_offset_above_the_data_is_refused(tmp_path, capsys):
    """A review gave ``--camera 2 3 400`` to data of offset 100 (all of it 88–247): the output was the
    input, without a word. Now refused, naming both levels; the right offset restores."""
    frame = camera(fluorescence_like((96, 96)), 2.0, 3.0, 100.0, 50.0)
    with pytest.raises(ShapeError, match=r"offset given \(400\) lies above this image's darkest parts \(1\d\d"):
        restore(frame, "microscopy", "auto", noise=PoissonGaussian.from_read_noise(2.0, 3.0, 400.0))
    tifffile.imwrite(tmp_path / "f.tif", frame)
    assert main(["restore", str(tmp_path / "f.tif"), str(tmp_path / "o.tif"), "--task", "microscopy", "--level", "auto",
                 "--camera", "2", "3", "400", "--device", "cpu"]) == 2
    assert "Check the camera's OFFSET" in capsys.readouterr().err and not (tmp_path / "o.tif").exists()
    assert restore(frame, "microscopy", "auto", noise=PoissonGaussian.from_read_noise(2.0, 3.0, 100.0)).shape == frame.shape


def test_a_camera_offset_a_few_counts_high_is_refused_in_every_path(tmp_path, capsys):
    """A review gave offset 100 to a camera of 90 (σ 3, 20 photons; its darkest parts 88): accepted, −7 to −8 dB,
    with a variance ratio of 6e12 for a warning; and with ``--float-output`` nothing was checked at all."""
    clean = np.clip(fluorescence_like((128, 128)) * 1.25 - 0.25, 0, 1)  # a background with no light, as cells on glass
    frame = camera(clean, 1.5, 3.0, 90.0, 20.0)
    for offset in (93.0, 100.0):
        with pytest.raises(ShapeError, match=rf"offset given \({offset:g}\) lies above"):
            restore(frame, "microscopy", "auto", noise=PoissonGaussian.from_read_noise(1.5, 3.0, offset))
    assert restore(frame, "microscopy", "auto", noise=PoissonGaussian.from_read_noise(1.5, 3.0, 90.0)).shape == frame.shape
    tifffile.imwrite(tmp_path / "f.tif", frame)
    for extra in ([], ["--float-output"]):
        code = main(["restore", str(tmp_path / "f.tif"), str(tmp_path / "o.tif"), "--task", "microscopy", "--level", "auto",
                     "--camera", "1.5", "3", "100", "--device", "cpu", "--quiet", *extra])
        assert code == 2 and "Check the camera's OFFSET" in capsys.readouterr().err and not (tmp_path / "o.tif").exists()
    # a gain given at half the true one: warned with --float-output too
    assert main(["restore", str(tmp_path / "f.tif"), str(tmp_path / "o.tif"), "--task", "microscopy", "--level", "auto",
                 "--camera", "0.75", "3", "90", "--device", "cpu", "--quiet", "--float-output"]) == 0
    assert "does not describe this image's noise" in capsys.readouterr().err


def test_a_dim_plane_beside_bright_ones_is_warned_about(microscopy):
    """A review: a 5-photon channel in one array with a 2,000-photon one (napari's one 4-D layer) was
    restored at the stack's level, 2.6 dB below the channel on its own, without a word. A bleaching
    series (a tenth of the light by its end: within 0.07 dB) stays quiet."""
    from napari_hyperres import MixedBrightnessWarning

    clean = fluorescence_like((128, 128))
    mixed = np.stack([camera(clean, 2.0, 3.0, 100.0, 2000.0, seed=1), camera(clean, 2.0, 3.0, 100.0, 5.0, seed=2)])
    with pytest.warns(MixedBrightnessWarning, match="far fewer photons than the stack"):
        microscopy.restore(mixed, "auto")
    bleaching = np.stack([camera(clean, 2.0, 3.0, 100.0, peak, seed=s) for s, peak in enumerate((300.0, 120.0, 30.0))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedBrightnessWarning)
        microscopy.restore(bleaching, "auto")
        microscopy.restore(mixed, "auto", channel_axis=0)  # each channel on its own: nothing to warn about


def test_one_camera_per_channel_of_a_hyperstack(tmp_path, capsys, microscopy):
    """A microscopy review: one --camera applied to every channel of a two-camera hyperstack, so the second
    detector had to be split off by hand. --camera once per channel gives each its own."""
    clean = fluorescence_like((96, 96))
    first = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=s) for s in (1, 2)])
    second = np.stack([camera(clean, 12.0, 3.0, 500.0, 150.0, seed=s) for s in (3, 4)])
    stack = np.stack([first, second], axis=1)  # Z, C, Y, X
    tifffile.imwrite(tmp_path / "two.tif", stack, imagej=True, metadata={"axes": "ZCYX"})
    cameras = ["--camera", "2", "3", "100", "--camera", "12", "3", "500"]
    for level in ("auto", "60"):
        assert main(["restore", str(tmp_path / "two.tif"), str(tmp_path / "out.tif"), "--task", "microscopy", "--level", level,
                     "--device", "cpu", "--quiet", "--overwrite", *cameras]) == 0
        out = tifffile.imread(tmp_path / "out.tif")
        for c, (channel, (gain, offset)) in enumerate(zip((first, second), ((2.0, 100.0), (12.0, 500.0)), strict=True)):
            own = PoissonGaussian.from_read_noise(gain, 3.0, offset)
            np.testing.assert_array_equal(out[:, c], microscopy.restore(channel, "auto" if level == "auto" else 60.0, noise=own))
    assert "does not describe" not in capsys.readouterr().err  # each detector read with its own camera
    assert main(["estimate", str(tmp_path / "two.tif"), "--task", "microscopy", *cameras]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert ["camera given: gain α 2 " in lines[0], "camera given: gain α 12 " in lines[1]] == [True, True]
    assert main(["restore", str(tmp_path / "two.tif"), str(tmp_path / "x.tif"), "--task", "microscopy", "--level", "auto",
                 "--device", "cpu", *cameras, "--camera", "1", "1", "1"]) == 2
    assert "3 --camera given for 2 channel(s)" in capsys.readouterr().err and not (tmp_path / "x.tif").exists()
