"""napari_hyperres.core.degradations: shapes, value ranges, seeds, level monotonicity, the real JPEG codec."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from napari_hyperres.core.degradations import (
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    bicubic_resize,
    downsample_upsample,
    gaussian_blur,
    jpeg_compress,
    jpeg_compress_kornia,
    rgb_to_y,
)
from napari_hyperres.errors import LevelRangeError, ShapeError


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / torch.mean((a - b) ** 2)))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- Gaussian noise --------------------------------------------------------------------------------
def test_gaussian_noise_shape_std_and_no_clipping(clean_rgb):
    noisy = add_gaussian_noise(clean_rgb, 25 / 255, gen())
    assert noisy.shape == clean_rgb.shape and noisy.dtype == clean_rgb.dtype
    assert abs(float((noisy - clean_rgb).std()) - 25 / 255) < 0.005
    assert noisy.min() < 0 or noisy.max() > 1  # the papers' protocol: unclipped


def test_gaussian_noise_same_seed_same_output(clean_gray):
    a = add_gaussian_noise(clean_gray, 0.1, gen(3))
    b = add_gaussian_noise(clean_gray, 0.1, gen(3))
    c = add_gaussian_noise(clean_gray, 0.1, gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gaussian_noise_higher_sigma_lower_psnr(clean_gray):
    psnrs = [psnr(add_gaussian_noise(clean_gray, s / 255, gen()), clean_gray) for s in (5, 15, 30, 60)]
    assert psnrs == sorted(psnrs, reverse=True)


def test_gaussian_noise_per_sample_std(clean_gray):
    batch = clean_gray.repeat(2, 1, 1, 1)
    noisy = add_gaussian_noise(batch, torch.tensor([0.0, 0.2]), gen())
    assert torch.equal(noisy[0], batch[0])
    assert float((noisy[1] - batch[1]).std()) > 0.15
    with pytest.raises(ShapeError, match="per sample"):
        add_gaussian_noise(batch, torch.tensor([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.zeros(1, 1, 8, 8, dtype=torch.uint8), np.zeros((1, 1, 8, 8))])
def test_batch_checks(bad):
    with pytest.raises(ShapeError, match="expected"):
        add_gaussian_noise(bad, 0.1)


# --- Poisson-Gaussian noise -----------------------------------------------------------------------
def test_poisson_noise_shape_seed_and_mean(clean_gray):
    a = add_poisson_gaussian_noise(clean_gray, 50.0, 0.01, gen(1))
    b = add_poisson_gaussian_noise(clean_gray, 50.0, 0.01, gen(1))
    assert a.shape == clean_gray.shape and torch.equal(a, b)
    assert abs(float(a.mean() - clean_gray.mean())) < 0.01


def test_poisson_noise_without_read_noise_is_on_the_photon_grid(clean_gray):
    noisy = add_poisson_gaussian_noise(clean_gray, 20.0, 0.0, gen())
    counts = noisy * 20.0
    torch.testing.assert_close(counts, counts.round(), atol=1e-4, rtol=0)
    assert noisy.min() >= 0


def test_poisson_noise_fewer_photons_lower_psnr(clean_gray):
    psnrs = [psnr(add_poisson_gaussian_noise(clean_gray, p, 0.0, gen()), clean_gray) for p in (1000, 100, 10, 2)]
    assert psnrs == sorted(psnrs, reverse=True)


def test_poisson_noise_rejects_non_positive_photons(clean_gray):
    with pytest.raises(LevelRangeError, match="photons"):
        add_poisson_gaussian_noise(clean_gray, 0.0)


def test_poisson_noise_gradient_is_straight_through(clean_gray):
    x = clean_gray.clone().requires_grad_(True)
    add_poisson_gaussian_noise(x, 30.0, 0.01, gen()).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


# --- JPEG ------------------------------------------------------------------------------------------
def _opencv_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_jpeg_gray_equals_opencv_exactly(clean_gray, quality):
    out = jpeg_compress(clean_gray, quality)
    u8 = (clean_gray[0, 0] * 255).round().to(torch.uint8).numpy()
    expected = _opencv_roundtrip(u8, quality)
    assert np.array_equal((out[0, 0] * 255).round().to(torch.uint8).numpy(), expected)
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)  # on the 1/255 grid


def test_jpeg_rgb_equals_opencv_exactly(clean_rgb):
    out = jpeg_compress(clean_rgb, 30)
    rgb = (clean_rgb[0] * 255).round().to(torch.uint8).numpy().transpose(1, 2, 0)
    expected = _opencv_roundtrip(np.ascontiguousarray(rgb[..., ::-1]), 30)[..., ::-1]
    got = (out[0] * 255).round().to(torch.uint8).numpy().transpose(1, 2, 0)
    assert np.array_equal(got, expected)
    assert out.min() >= 0 and out.max() <= 1


def test_jpeg_lower_quality_lower_psnr(clean_rgb):
    psnrs = [psnr(jpeg_compress(clean_rgb, q), clean_rgb) for q in (90, 50, 20, 5)]
    assert psnrs == sorted(psnrs, reverse=True)


def test_jpeg_per_sample_quality(clean_gray):
    batch = clean_gray.repeat(2, 1, 1, 1)
    out = jpeg_compress(batch, torch.tensor([10.0, 90.0]))
    assert torch.equal(out[0], jpeg_compress(clean_gray, 10)[0])
    assert torch.equal(out[1], jpeg_compress(clean_gray, 90)[0])


def test_jpeg_gradient_flows(clean_rgb):
    x = clean_rgb.clone().requires_grad_(True)
    y = jpeg_compress(x, 40)
    assert torch.equal(y.detach(), jpeg_compress(clean_rgb, 40))  # forward is still the real codec
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_jpeg_kornia_twin_shape_and_gradient(clean_gray):
    x = clean_gray[..., :30, :27].clone().requires_grad_(True)  # not a multiple of 16
    y = jpeg_compress_kornia(x, 50)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("quality", [0, 101])
def test_jpeg_rejects_quality_outside_1_100(clean_gray, quality):
    with pytest.raises(LevelRangeError, match="quality"):
        jpeg_compress(clean_gray, quality)


def test_jpeg_rejects_two_channels():
    with pytest.raises(ShapeError, match="channels"):
        jpeg_compress(torch.rand(1, 2, 16, 16), 50)


# --- resampling and blur ---------------------------------------------------------------------------
def test_bicubic_resize_shape(clean_rgb):
    assert bicubic_resize(clean_rgb, (20, 31)).shape == (1, 3, 20, 31)


def test_downsample_upsample_shape_and_scale_monotonicity(clean_rgb):
    outs = {s: downsample_upsample(clean_rgb, s) for s in (1.5, 2.0, 3.0, 4.0)}
    assert all(o.shape == clean_rgb.shape for o in outs.values())
    psnrs = [psnr(outs[s], clean_rgb) for s in sorted(outs)]
    assert psnrs == sorted(psnrs, reverse=True)
    with pytest.raises(LevelRangeError, match="scale"):
        downsample_upsample(clean_rgb, 0.5)


def test_gaussian_blur(clean_gray):
    assert torch.equal(gaussian_blur(clean_gray, 0.0), clean_gray)
    blurred = gaussian_blur(clean_gray, 1.5)
    assert blurred.shape == clean_gray.shape
    assert psnr(blurred, clean_gray) < psnr(gaussian_blur(clean_gray, 0.5), clean_gray)


def test_rgb_to_y_studio_range():
    y = rgb_to_y(torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)]).expand(-1, 3, -1, -1))
    assert y.shape == (2, 1, 4, 4)
    torch.testing.assert_close(y[0], torch.full((1, 4, 4), 16 / 255))
    torch.testing.assert_close(y[1], torch.full((1, 4, 4), 235 / 255), atol=1e-3, rtol=0)
