"""Poisson–Gaussian noise: model, blind fit, generalized Anscombe transform and its exact unbiased inverse."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hyperres.blind.photon_fit import CurveSamples, fit_poisson_gaussian, noise_curve_points
from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts, gat, gat_inverse
from napari_hyperres.core.stabilize import stabilized_map
from napari_hyperres.errors import ShapeError


def fluorescence_like(shape=(256, 256), seed=0) -> np.ndarray:
    """A smooth ``[0, 1]`` image with blobs and a ramp: what a widefield field of view looks like."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / max(shape)
    image = 0.05 + 0.3 * x
    for _ in range(12):
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.12)
        image = image + rng.uniform(0.2, 0.6) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    return np.clip(image / image.max(), 0, 1)


def camera(clean: np.ndarray, gain: float, sigma: float, offset: float, peak: float, seed: int = 1) -> np.ndarray:
    """Raw uint16 counts: ``offset + gain · Poisson(peak · clean) + N(0, σ²)``, rounded."""
    return camera_counts(clean * peak, gain, sigma, offset, np.random.default_rng(seed))


def test_noise_curve_points_are_unbiased_on_white_noise():
    """Choosing flat pixels must not choose quieter noise (the odd/even filter independence)."""
    noise = np.random.default_rng(0).normal(100.0, 3.0, size=(4, 256, 256))
    _, variances, _ = noise_curve_points(list(noise))
    assert abs(np.median(variances) / 9.0 - 1.0) < 0.05


def test_measured_samples_give_the_points_of_the_planes():
    """The fit measures local statistics once (CurveSamples) for all passes: same points as from the planes."""
    planes = [camera(fluorescence_like(seed=s), 3.0, 4.0, 100.0, 150.0).astype(np.float64) for s in range(2)]
    samples = CurveSamples.measure(planes, clip=(0.0, 65535.0))
    for model in (None, (3.0, 16.0 - 300.0)):
        expected = noise_curve_points(planes, clip=(0.0, 65535.0), model=model)
        for got, want in zip(noise_curve_points(samples, model=model), expected, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("gain", "sigma", "offset", "peak"), [(2.0, 5.0, 100.0, 200.0), (0.5, 2.0, 400.0, 1000.0), (8.0, 10.0, 50.0, 30.0)])
def test_fit_recovers_camera_parameters(gain, sigma, offset, peak):
    image = camera(fluorescence_like(), gain, sigma, offset, peak)
    fitted = fit_poisson_gaussian(image, offset=offset)
    assert fitted.gain == pytest.approx(gain, rel=0.08)
    true_beta = sigma**2 - gain * offset
    assert fitted.beta == pytest.approx(true_beta, abs=0.1 * abs(true_beta) + 0.5 * sigma**2)


def test_a_stack_is_fitted_as_a_whole():
    clean = np.stack([fluorescence_like(seed=s) for s in range(3)])
    stack = camera(clean, 3.0, 4.0, 100.0, 150.0)
    assert fit_poisson_gaussian(stack).gain == pytest.approx(3.0, rel=0.08)


def test_white_gaussian_noise_is_not_photon_limited():
    image = 0.2 + 0.6 * fluorescence_like()
    noisy = image * 1000 + np.random.default_rng(2).normal(0, 8.0, image.shape)
    with pytest.raises(ShapeError, match="not photon-limited"):
        fit_poisson_gaussian(noisy)


def test_too_small_image_is_refused():
    with pytest.raises(ShapeError, match="at least"):
        fit_poisson_gaussian(np.zeros((8, 8)))


@pytest.mark.parametrize("photons", [3.0, 10.0, 50.0])
def test_transform_has_unit_noise_and_its_inverse_is_unbiased(photons):
    """GAT: std ≈ 1; the exact unbiased inverse of E[GAT(z)] returns the expected counts."""
    noise = PoissonGaussian.from_read_noise(gain=2.5, sigma=3.0, offset=100.0)
    rng = np.random.default_rng(3)
    z = 100.0 + 2.5 * rng.poisson(photons, size=400_000) + 3.0 * rng.standard_normal(400_000)
    transformed = gat(z, noise)
    assert transformed.std() == pytest.approx(1.0, abs=0.1)
    expected_counts = 100.0 + 2.5 * photons
    assert float(gat_inverse(np.array([transformed.mean()]), noise)[0]) == pytest.approx(expected_counts, rel=0.01)
    algebraic = (transformed.mean() / 2) ** 2 - 3 / 8 - noise.beta / noise.gain**2  # the biased inverse
    assert abs(2.5 * algebraic - expected_counts) > abs(float(gat_inverse(np.array([transformed.mean()]), noise)[0]) - expected_counts)


def test_photons_and_gain_are_two_views_of_one_level():
    noise = PoissonGaussian.from_read_noise(gain=4.0, sigma=2.0, offset=10.0)
    assert noise.photons(10.0, 410.0) == pytest.approx(100.0)
    half = noise.with_photons(50.0, 10.0, 410.0)
    assert half.gain == pytest.approx(8.0)
    assert half.variance(10.0) == pytest.approx(noise.variance(10.0))  # the background's noise is kept
    assert noise.sigma == pytest.approx(2.0)


def test_a_level_keeps_the_read_noise_where_black_lies_below_the_offset():
    """An 8-bit frame clipped at 0 has black (its 0.1st percentile) 0, below the offset of 9.4 counts: the
    curve turns about the offset, so more photons never make the variance negative above it."""
    fitted = PoissonGaussian(35.0, 9.0 - 35.0 * 9.4, 9.4)  # read noise σ 3 at an offset of 9.4 counts, black 0
    assert fitted.sigma == pytest.approx(3.0)
    for photons in (14.0, 50.0, 300.0):
        brighter = fitted.with_photons(photons, 0.0, 255.0)
        assert brighter.variance(9.4) == pytest.approx(9.0) and brighter.sigma == pytest.approx(3.0)  # the read noise kept
        assert brighter.photons(0.0, 255.0) == pytest.approx(photons)
    # no offset known (0, the default): the image's black stands in, as before (a diff review: turning about 0
    # made the variance at black negative for a camera given by gain and β alone)
    unknown = PoissonGaussian(2.0, 9.0 - 200.0)  # gain 2, σ 3, offset 100, built by gain and β only
    for photons in (2000.0, 5000.0):
        assert unknown.with_photons(photons, 95.0, 1095.0).variance(95.0) == pytest.approx(unknown.variance(95.0))


def test_stabilized_map_spans_black_to_white_and_caps_sigma():
    noise = PoissonGaussian.from_read_noise(gain=2.0, sigma=2.0, offset=100.0)
    smap = stabilized_map(noise, 100.0, 300.0, np.dtype(np.uint16))
    np.testing.assert_allclose(smap.to_unit(np.array([100.0, 300.0])), [0.0, 1.0], atol=1e-5)
    assert smap.sigma == pytest.approx(255.0 / (float(gat(np.array([300.0]), noise)[0]) - float(gat(np.array([100.0]), noise)[0])))
    dim = stabilized_map(noise, 100.0, 102.0, np.dtype(np.uint16), max_sigma=100.0)  # one photon between black and white
    assert dim.sigma == pytest.approx(100.0)
    counts = np.array([150, 200, 250], dtype=np.uint16)
    back = smap.from_unit(smap.to_unit(counts))
    assert back.dtype == np.uint16 and np.all(np.abs(back.astype(int) - counts) <= 2)  # the unbiased inverse is not the algebraic one


def test_parameters_are_checked():
    with pytest.raises(ShapeError, match="positive"):
        PoissonGaussian(gain=0.0, beta=1.0)
    with pytest.raises(ShapeError, match="finite"):
        PoissonGaussian(gain=1.0, beta=float("nan"))


def test_a_12_bit_camera_saturating_at_4095_in_a_uint16_array_is_fitted():
    """Saturated pixels pile up at 4095, far below uint16's 65535: they are found and left out."""
    counts = camera(fluorescence_like(seed=3), 2.2, 3.5, 100.0, 4000.0)
    frame = np.minimum(counts, 4095).astype(np.uint16)
    assert (frame == 4095).mean() > 0.05
    fit = fit_poisson_gaussian(frame)
    assert fit.gain == pytest.approx(2.2, rel=0.1)


def test_noise_that_rounds_away_is_a_shape_error_not_a_linalg_error():
    counts = camera(fluorescence_like(seed=4), 0.02, 0.2, 100.0, 3.0)  # noise far below one count
    frame = np.round(counts).astype(np.uint16)
    with pytest.raises(ShapeError):
        fit_poisson_gaussian(frame)


def test_the_camera_check_reads_central_crops_of_a_few_planes():
    """--camera is given to spare the noise fit, but its check fitted the whole sample again (9 s per
    8 × 1024² stack); it reads central 512² crops of evenly spaced planes, up to 2 × 512² pixels."""
    from napari_hyperres.blind.photon_fit import CAMERA_CHECK_PIXELS, camera_check_planes

    planes = np.arange(8 * 1024 * 1200, dtype=np.float32).reshape(8, 1024, 1200)
    cut = camera_check_planes(planes)
    assert cut.shape == (2, 512, 512) and cut.size <= CAMERA_CHECK_PIXELS
    np.testing.assert_array_equal(cut[1], planes[7, 256:768, 344:856])  # the first and last planes, centred
    small = planes[:, :128, :128]
    assert camera_check_planes(small).shape == (8, 128, 128)  # small planes: all of them, whole


def test_a_failed_fit_of_several_planes_names_channels_and_the_camera_first():
    """A review: a two-detector stack given without its channel axis failed with "barely grows ... use the 'denoise'
    task", which sent a microscopist the wrong way; the camera, the usual remedy for fluorescence, came second and
    channels not at all."""
    from napari_hyperres.blind.photon_fit import fit_poisson_gaussian
    from napari_hyperres.errors import NoiseFitError

    clean = fluorescence_like((128, 128))
    stack = np.stack([camera(clean, 2.0, 3.0, 100.0, 200.0, seed=1), camera(clean, 0.5, 3.0, 300.0, 40.0, seed=2)] * 3)
    with pytest.raises(NoiseFitError) as raised:
        fit_poisson_gaussian(stack)
    message = str(raised.value)
    assert "channel_axis" in message and "6 planes" in message
    assert message.index("--camera") < message.index("'denoise'")
