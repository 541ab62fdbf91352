"""Blind fit of Poisson–Gaussian noise (Foi et al., IEEE TIP 2008), and a photon task's setup.

- :func:`fit_poisson_gaussian`: (α, β) of ``var = α · y + β`` from one image or stack, no clean
  reference: local means vs. robust local noise variances on smooth pixels (second
  differences, texture left out), a robust line fit.
- :func:`photon_setup`: a photon-limited task's level (given, or "auto" from the fit) and the
  variance-stabilising map its restoration runs through.

Pure numpy; the model itself is :mod:`napari_hyperres.core.photon_noise`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.impulses import window_sum
from ..core.intensity import PERCENTILES, PILE_UP, intensity_map_for, piled, without_defect_lines
from ..core.photon_noise import PoissonGaussian
from ..core.stabilize import MAX_STABILIZED_SIGMA, StabilizedMap, fitted_photons, stabilized_map
from ..errors import NoiseFitError, ShapeError
from .levels import is_auto

DETAIL_KERNEL = np.outer([1.0, -2.0, 1.0], [1.0, -2.0, 1.0]) / 6.0
"""Second differences in y and x, scaled so white noise of variance v keeps variance v."""

MIN_PIXELS_PER_BIN = 400
"""Fewest usable pixels per intensity bin (fewer bins on small images)."""

SMOOTH_FRACTION = 0.25
"""Share of each intensity bin (its flattest pixels) whose detail measures the noise."""

VARIANCE_SPREAD = 3.0
"""Relative scatter of one bin's variance estimate times ``sqrt(pixels in the bin)``: ≈ 0.09 at
1,000 pixels on flat synthetic Poisson–Gaussian ramps (neighbouring details overlap, so it
is above the 2.3 of independent samples)."""

CURVE_BINS = 32
"""Intensity levels at which the noise variance is measured for the fit."""

TEXTURE_ENERGY = 2.5
"""Refinement threshold on the 5×5 mean of detail² / modelled noise variance. Pure noise
gives ≈ 1 (the chosen pixels' squared MAD is then 0.99 × the true variance on white
noise: no correction needed); texture exceeds it. On simulated camera images of Set12 it
halved the fit's median gain error (8.5 → 4.1 %; benchmarks/bench_photon_fit.py)."""

REFINE_PASSES = 2
"""Texture-rejecting refits after the first fit."""

REFINED_SMOOTH_FRACTION = 0.5
"""Share of each bin measured once texture is left out (more pixels, less scatter)."""

MIN_VARIANCE_GROWTH = 1.5
"""The fitted variance must grow at least this much from the darkest to the brightest level
measured, or the image is not photon-limited: white Gaussian noise fits a nearly flat line
(its scatter alone gave ×1.2 on a 256² test image), and where shot noise changes the noise by
less than this, one Gaussian σ (the ``denoise`` task) describes it well enough."""


def _filter3(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``(H, W)`` correlated with a 3×3 ``kernel``, interior → ``(H-2, W-2)``."""
    h, w = image.shape
    out = np.zeros((h - 2, w - 2), dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            if kernel[dy, dx]:
                out += kernel[dy, dx] * image[dy : dy + h - 2, dx : dx + w - 2]
    return out


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over ``(2r+1)²`` windows, valid part only (:func:`~napari_hyperres.core.impulses.window_sum`)."""
    k = 2 * radius + 1
    return window_sum(image, radius) / (k * k)


def _local_stats(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per interior pixel: local mean (5×5 box), noise detail (second differences) and structure.

    Structure is the squared gradient of the 5×5-smoothed image at the pixel (central
    differences 4 px apart). That filter is odd around the pixel and the detail filter even,
    so for Gaussian noise the two are independent: choosing pixels by low structure does not
    choose quieter noise, only flatter signal.

    Shape:
        - plane: ``(H, W)``; outputs: ``(H-8, W-8)``, aligned.
    """
    plane = plane.astype(np.float64, copy=False)
    detail = _filter3(plane, DETAIL_KERNEL)[3:-3, 3:-3]  # centred at [4:-4, 4:-4]
    smooth = _box(plane, 2)  # centred at [2:-2, 2:-2]
    mean = smooth[2:-2, 2:-2]
    gy = smooth[4:, 2:-2] - smooth[:-4, 2:-2]
    gx = smooth[2:-2, 4:] - smooth[2:-2, :-4]
    return mean, detail, gx**2 + gy**2


def _noise_curve_line(means: np.ndarray, variances: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Fit ``variance = a · mean + b`` to measured points, robust to image structure.

    Each measured variance is the true one times ``1 ± VARIANCE_SPREAD / sqrt(count)``
    (the scatter of a squared MAD, measured on flat synthetic images); structure only ever
    adds to it. The fit starts from the lower envelope (points above a plain fit by more
    than their scatter lose their weight, points below keep it), then refines with a
    symmetric Tukey biweight at 3× each point's expected scatter around the current line.
    The start is biased low by the scatter; the refinement removes that bias for the points
    that fit and leaves out those that structure pushed up.
    """
    measured = variances > 0  # a bin of integer data whose noise rounds away (MAD 0) says nothing about the line
    if np.count_nonzero(measured) < 3:
        raise NoiseFitError(
            "the noise is below one count in almost all of the image, too little to fit: give raw camera "
            "counts (not a rescaled or averaged image), or use the 'denoise' task with a σ"
        )
    means, variances, counts = means[measured], variances[measured], counts[measured]
    spread = VARIANCE_SPREAD / np.sqrt(counts)

    def weighted_fit(w: np.ndarray) -> tuple[float, float]:
        root = np.sqrt(w)
        return tuple(np.linalg.lstsq(np.stack([means * root, root], axis=1), variances * root, rcond=None)[0])

    a, b = weighted_fit(1.0 / (variances * spread) ** 2)
    for _ in range(10):  # lower envelope
        line = np.maximum(a * means + b, 1e-12)
        u = np.maximum(variances - line, 0) / (line * spread)
        w = np.where(u < 1, (1 - u**2) ** 2, 0.0) / (line * spread) ** 2
        if np.count_nonzero(w) < 3:
            break
        a, b = weighted_fit(w)
    for _ in range(20):  # symmetric refinement at the expected scatter
        line = np.maximum(a * means + b, 1e-12)
        u = (variances - line) / (3.0 * line * spread)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0) / (line * spread) ** 2
        if np.count_nonzero(w) < 3:
            break
        a, b = weighted_fit(w)
    return float(a), float(b)


@dataclass(frozen=True)
class CurveSamples:
    """The per-pixel measurements a noise-curve fit reads, computed once for all its passes.

    Attributes:
        planes: per plane ``(mean, detail, energy, usable)``, each ``(H-8, W-8)``
            (see :func:`_local_stats`; ``usable``: not near a clipped value).
        mean, detail, energy: the usable pixels of all planes, concatenated ``(P,)``.
        order: indices sorting ``mean`` (stable), so each pass selects instead of sorting.
    """

    planes: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    mean: np.ndarray
    detail: np.ndarray
    energy: np.ndarray
    order: np.ndarray

    @classmethod
    def measure(cls, planes, clip: tuple[float, float] | None = None) -> "CurveSamples":
        """Local statistics of ``planes`` (``N`` float arrays ``(H, W)``, each at least 16×16);
        pixels whose neighbourhood touches ``clip`` (saturated or zero-clipped) are unusable."""
        measured = []
        for plane in planes:
            mean, detail, energy = _local_stats(plane)
            usable = np.ones(mean.shape, dtype=bool)
            if clip is not None:
                low, high = clip
                usable &= _box(((plane <= low) | (plane >= high)).astype(np.float64), 4) == 0
            measured.append((mean, detail, energy, usable))
        mean = np.concatenate([m[u] for m, _, _, u in measured])
        return cls(
            planes=tuple(measured),
            mean=mean,
            detail=np.concatenate([d[u] for _, d, _, u in measured]),
            energy=np.concatenate([e[u] for _, _, e, u in measured]),
            order=np.argsort(mean, kind="stable"),
        )

    def without_texture(self, model: tuple[float, float]) -> np.ndarray:
        """``(P,)`` bool: usable pixels whose 5×5 neighbourhood holds no more detail than the
        noise ``model=(gain, beta)`` explains (mean of detail² / variance < :data:`TEXTURE_ENERGY`)."""
        keep = []
        for mean, detail, _, usable in self.planes:
            variance = np.maximum(model[0] * mean + model[1], 1e-12)
            texture = _box(np.pad(detail**2 / variance, 2, mode="reflect"), 2)
            keep.append((texture < TEXTURE_ENERGY)[usable])
        return np.concatenate(keep)


def noise_curve_points(
    planes, bins: int = 24, clip: tuple[float, float] | None = None, model: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(means, variances, counts)``: the robust noise variance at each of ``bins`` intensity levels.

    Pixels are binned by local mean (equal-count bins); in each bin the noise variance is
    the squared MAD of the second-difference detail over the bin's flattest
    :data:`SMOOTH_FRACTION` of pixels (lowest local gradient). Pixels whose
    neighbourhood touches ``clip`` (saturated or zero-clipped values) are left out.

    ``model=(gain, beta)`` (a first fit) refines the choice: pixels whose 5×5 neighbourhood
    holds more detail than that noise explains (mean of detail² / model variance ≥
    :data:`TEXTURE_ENERGY`: texture, not noise) are left out, and of the rest the flatter
    :data:`REFINED_SMOOTH_FRACTION` of each bin is measured.

    Shape:
        - planes: ``N`` float arrays ``(H, W)`` in data units (sizes may differ), each at least
          16×16, or their :class:`CurveSamples` (then ``clip`` was applied when measuring).
    """
    samples = planes if isinstance(planes, CurveSamples) else CurveSamples.measure(planes, clip)
    order = samples.order
    if model is not None:
        order = order[samples.without_texture(model)[order]]  # still sorted by mean, stable
    if order.size < MIN_PIXELS_PER_BIN * 4:
        raise NoiseFitError(
            f"too few usable pixels ({order.size}) to fit the noise: give an image of at least 64×64 pixels "
            "that is not mostly saturated, or give the camera's noise yourself (CLI: --camera GAIN READ_NOISE OFFSET; "
            "Python: noise=PoissonGaussian.from_read_noise(gain, read_noise, offset))"
        )
    bins = int(min(bins, order.size // MIN_PIXELS_PER_BIN))
    fraction = SMOOTH_FRACTION if model is None else REFINED_SMOOTH_FRACTION
    means, variances, counts = [], [], []
    for chunk in np.array_split(order, bins):
        e = samples.energy[chunk]
        smooth = chunk[e <= np.quantile(e, fraction)]
        d = samples.detail[smooth]
        mad = np.median(np.abs(d - np.median(d)))
        means.append(float(np.mean(samples.mean[smooth])))
        variances.append(float((1.4826 * mad) ** 2))
        counts.append(smooth.size)
    return np.array(means), np.array(variances), np.array(counts)


FIT_CROP = 512
"""Planes larger than this are fitted on a 3×3 grid of crops this size (bounded memory and time)."""


def _fit_crops(plane: np.ndarray) -> list[np.ndarray]:
    """``plane`` as float64, or a 3×3 grid of :data:`FIT_CROP`² crops of it when larger."""
    h, w = plane.shape
    if h * w <= 4 * FIT_CROP**2:
        return [plane.astype(np.float64)]
    ys = np.linspace(0, max(h - FIT_CROP, 0), 3).round().astype(int)
    xs = np.linspace(0, max(w - FIT_CROP, 0), 3).round().astype(int)
    return [plane[y : y + FIT_CROP, x : x + FIT_CROP].astype(np.float64) for y in ys for x in xs]


def saturation_levels(planes: list[np.ndarray], dtype_range: np.iinfo) -> tuple[float, float]:
    """``(low, high)`` at which integer data saturates: its lowest / highest value where at least
    :data:`~napari_hyperres.core.intensity.PILE_UP` of the pixels sit there (a 12-bit camera's 4095 in a uint16 array), else the
    dtype's limit (nothing there is clipped)."""
    values = np.concatenate([p.ravel() for p in planes])
    low, high = float(values.min()), float(values.max())
    return (low if piled(values, low) else float(dtype_range.min), high if piled(values, high) else float(dtype_range.max))


def saturation_ceiling(planes: list[np.ndarray], dtype: np.dtype) -> float | None:
    """The value at which integer data saturates: its highest value where that piles up
    (:func:`~napari_hyperres.core.intensity.piled`: 4095 of a 12-bit camera in a uint16 array,
    65535 of a 16-bit one, a clip at 30000) in patches: at least :data:`SATURATED_TOGETHER` of
    those pixels have a neighbour there too. Else ``None`` (float data never is). Hot pixels
    pile up alone: W2S frames hold 0.18 % 255s, where the 400-frame average reads 49–255 (mean
    194), and they are restored, or kept as impulses."""
    if not np.issubdtype(np.dtype(dtype), np.integer):
        return None
    high = max(float(np.max(p)) for p in planes)
    at_top = [np.asarray(p) == high for p in planes]
    count = sum(int(np.count_nonzero(top)) for top in at_top)
    if count < PILE_UP * sum(np.size(p) for p in planes):
        return None
    together = 0
    for top in at_top:
        beside = np.zeros_like(top)
        beside[1:] |= top[:-1]
        beside[:-1] |= top[1:]
        beside[:, 1:] |= top[:, :-1]
        beside[:, :-1] |= top[:, 1:]
        together += int(np.count_nonzero(top & beside))
    return high if together >= SATURATED_TOGETHER * count else None


SATURATED_TOGETHER = 0.5
"""Share of the pixels at a piled-up maximum that must touch another one (4-neighbours) for it to
be a saturation (clipped plateaus), not hot pixels (alone)."""


def darkest_level(planes: list[np.ndarray]) -> float:
    """The black level a fit assumes where none is given: the 0.1st percentile of the planes' local
    (5×5) means, leaving out windows that are all one value at the data's minimum where that
    value piles up (:func:`~napari_hyperres.core.intensity.piled`: zeros around stitched tiles, a blank frame in a stack), and
    the windows that overlap them (the edge of the padding). Such windows have no noise at all,
    so they are no camera's black; counted, they made the offset 0 under a camera's 100 and cost
    0.7–2.4 dB on the other planes (a review's probe). Zeros scattered through data clipped at a
    floor (background subtracted) leave few windows all zero: the floor still reads there."""
    means = [_box(plane, 2) for plane in planes]
    values = np.concatenate([plane.ravel() for plane in planes])
    floor = float(values.min())
    if piled(values, floor):
        kept = []
        for mean, plane in zip(means, planes, strict=True):
            flat = _box((plane != floor).astype(np.float64), 2) == 0  # windows all at the floor
            near = _box(np.pad(flat.astype(np.float64), 4), 4) > 0  # windows overlapping one of them
            kept.append(mean[~near])
        if sum(k.size for k in kept) > 0:
            means = kept
    return float(np.percentile(np.concatenate([m.ravel() for m in means]), 0.1))


OFFSET_SIGMAS = 1.0
"""How far (read noise σ, at least 1 count) an image's darkest local means may lie below a given
camera offset before the offset is refused as not this image's (:func:`check_offset_below`).

The darkest local means are 5×5 means: their spread is a fifth of the read noise, so at the camera's
true offset they lie near it (W2S averages made into camera counts, 20–300 photons, read noise 1.5–3:
−0.51σ to +2.80σ; ``benchmarks/bench_camera_offset.py``). It was 5σ, which let an offset 10 counts high
through (a review: offset 100 for a camera of 90, σ 3) at −7 to −8 dB. Now the right camera is never
refused there, an offset 1 count high passes at up to −0.6 dB (20 photons), and 3 or more counts high at
20 photons are refused."""


def given_noise_on(noise: PoissonGaussian, planes: np.ndarray, black: float, white: float) -> PoissonGaussian:
    """A noise model given rather than fitted (``--camera``, the panel's camera field, ``noise=`` in Python, a
    fit made earlier) checked against the ``planes`` that stand for the whole image (:func:`sampled_planes`): an
    offset above their darkest parts is refused (:func:`check_offset_below`), their saturation level
    is added where the model has none, and a camera's numbers that do not describe them are warned
    about (:func:`_warn_if_camera_misfits`; ``black``, ``white``: the image's intensity range).

    Every path that restores a whole image calls it on the image as the file holds it: ``--float-output``
    restored a float copy, read as a part of an image, and skipped all three (a review: an offset 30
    counts high, −10 dB, without a word).
    """
    check_offset_below(noise, list(without_defect_lines(np.asarray(planes))))  # a dead column at 0 is no black (a review)
    ceiling = saturation_ceiling(list(planes), planes.dtype) if noise.ceiling is None else noise.ceiling
    noise = noise if ceiling is None else dataclasses.replace(noise, ceiling=ceiling)
    if noise.camera:  # a camera's numbers, not a fit passed along (the widget's, the CLI's)
        _warn_if_camera_misfits(planes, noise, black, white)
    return noise


def check_offset_below(noise: PoissonGaussian, planes: list[np.ndarray]) -> None:
    """Refuse a given camera (``--camera``) whose offset lies above the image's darkest parts:
    there the data would hold negative photons. A review gave offset 400 to data of offset 100
    (all of it 88–247): the output came back identical to the input without a word.

    Raises:
        ShapeError: naming both levels and what to do.
    """
    usable = [np.asarray(p, dtype=np.float64) for p in planes if min(np.shape(p)) >= 5]
    if not usable:  # planes under 5 pixels across have no local level to compare (a review: a bare ValueError)
        return
    black = darkest_level(usable)
    if black < noise.offset - OFFSET_SIGMAS * max(noise.sigma, 1.0):
        raise ShapeError(
            f"the camera offset given ({noise.offset:g}) lies above this image's darkest parts ({black:.4g}): "
            "they would hold negative photons. Check the camera's OFFSET (counts at zero light: a dark frame's mean; "
            "CLI: --camera GAIN READ_NOISE OFFSET, napari: the panel's camera field), or leave the camera out to fit "
            "the noise from the image"
        )


MIN_FIT_PIXELS = 2**16
"""Pixels a stack's fit reads at least, where it has them: a time-lapse of small regions (100 ×
20×20) is fitted on as many planes as that takes, not on 8 planes too few to fit."""


def fit_plane_indices(planes: int, plane_pixels: int, max_planes: int = 8) -> list[int]:
    """Indices of the planes of a stack that its noise fit reads: all, or evenly spaced ones,
    ``max_planes`` of them or as many as :data:`MIN_FIT_PIXELS` takes (lazy and streamed
    restorations read the same ones)."""
    wanted = max(max_planes, -(-MIN_FIT_PIXELS // max(plane_pixels, 1)))
    if planes <= wanted:
        return list(range(planes))
    return [int(i) for i in np.linspace(0, planes - 1, wanted).round().astype(int)]


def sampled_planes(image: np.ndarray, max_planes: int = 8) -> np.ndarray:
    """The planes of ``image`` (``(..., Y, X)``) that a fit reads (:func:`fit_plane_indices`), as
    ``(K, Y, X)``: the same ones wherever the whole stack stands for itself."""
    stack = np.asarray(image).reshape((-1,) + np.shape(image)[-2:])
    return stack[fit_plane_indices(stack.shape[0], stack.shape[1] * stack.shape[2], max_planes)]


def fit_poisson_gaussian(
    image: np.ndarray, *, offset: float | None = None, max_planes: int = 8, clip: tuple[float, float] | None = None
) -> PoissonGaussian:
    """Fit ``var = α · y + β`` to one image or stack, blind (no clean reference).

    Args:
        image: ``(..., Y, X)`` gray data in its own units (counts); a stack is fitted as a
            whole (up to ``max_planes`` planes evenly spaced, more where they are small:
            :func:`fit_plane_indices`), not plane by plane.
        offset: the camera's black level, if known: the reported ``sigma`` is read there, and
            the fit keeps ``σ² = β + α·offset`` ≥ 0. Default: the darkest local mean (0.1st
            percentile), i.e. assuming the darkest region of the image collects no photons.
        clip: ``(low, high)`` values at which the data saturates (default for integers:
            :func:`saturation_levels`, e.g. 4095 for a 12-bit camera in a uint16 array; none
            for floats). Pixels near them are left out.

    Raises:
        NoiseFitError: the image is too small or too flat to fit, or the fit finds no
            signal-dependent noise (then the ``denoise`` task is the right one).
        ShapeError: channels stored as a page's samples.
    """
    array = np.asarray(image)
    if array.ndim >= 3 and array.shape[-1] < 16 <= min(array.shape[-3:-1]):
        raise ShapeError(
            f"the last axis of this image ({array.shape[-1]} values, shape {array.shape}) looks like channels stored as a "
            "page's samples, not part of an image plane: restore each channel on its own (napari: the Restore panel's "
            "'Split channels' button, for a TIFF that names them; Python: np.moveaxis(image, -1, 0) and channel_axis=0; "
            "the CLI reads such TIFFs as channels)"
        )
    if array.ndim < 2 or min(array.shape[-2:]) < 16:
        raise NoiseFitError(
            f"the noise fit needs at least 16×16 pixels per plane (better 64×64), got shape {array.shape}; "
            "for a smaller image give the camera's noise (CLI: --camera GAIN READ_NOISE OFFSET)"
        )
    sampled = without_defect_lines(sampled_planes(array, max_planes))  # a hot column is no noise, a dead one no black
    if np.all(sampled == sampled.flat[0]):
        raise NoiseFitError(f"every pixel of this image is {sampled.flat[0]}: there is no noise to fit and nothing to restore")
    crops = [_fit_crops(plane) for plane in sampled]
    planes = [crop for plane_crops in crops for crop in plane_crops]
    if clip is None and np.issubdtype(array.dtype, np.integer):
        clip = saturation_levels(planes, np.iinfo(array.dtype))
    samples = CurveSamples.measure(planes, clip)
    means, variances, counts = noise_curve_points(samples, bins=CURVE_BINS)
    gain, beta = _noise_curve_line(means, variances, counts)
    for _ in range(REFINE_PASSES):  # leave out texture that the first fit's noise level cannot explain
        if not gain > 0:
            break
        try:
            refined = noise_curve_points(samples, bins=CURVE_BINS, model=(gain, beta))
        except ShapeError:
            break  # a small image: too few pixels left to refine on; the first fit stands
        means, variances, counts = refined
        gain, beta = _noise_curve_line(means, variances, counts)
    if offset is None:
        offset = darkest_level(planes)
    if gain > 0:
        # β = σ² − α·offset: the read noise variance σ² cannot be negative. Without this bound, data
        # clipped at a floor (background subtraction, an offset removed) showed the fit no flat
        # background and it extrapolated β far below (W2S 001_0 minus its 20th percentile: β −746 at
        # α 36, σ² −683): the stabilising transform then mapped every dark pixel to one grey (24.92 dB
        # against 29.90 with the bound; raw frames, whose β stays above it, are unchanged)
        beta = max(beta, -gain * float(offset))
    low, high = float(means.min()), float(means.max())
    growth = (gain * high + beta) / max(gain * low + beta, 1e-12)
    if not gain > 0 or growth < MIN_VARIANCE_GROWTH:
        several = f"; if the {len(sampled)} planes read are channels of different detectors or dyes, {CHANNELS_ADVICE}" \
            if len(sampled) > 1 else ""
        raise NoiseFitError(
            f"the noise of this image barely grows with intensity (fitted gain {gain:.3g}; noise variance ×{growth:.2g} "
            "from the darkest to the brightest level): if it is fluorescence with only a few photons per pixel, or "
            "sparse bright spots on a dark field, read noise hides the shot noise from the fit: give your camera's "
            "noise (CLI: --camera GAIN READ_NOISE OFFSET; napari: the camera field; Python: "
            "noise=PoissonGaussian.from_read_noise(gain, read_noise, offset)); if it is not photon-limited, use the "
            f"'denoise' task (one σ for the whole image){several}"
        )
    if len(crops) > 1:
        _warn_if_planes_differ(samples, [len(plane_crops) for plane_crops in crops], gain, beta)
    return PoissonGaussian(gain, beta, float(offset), saturation_ceiling(planes, array.dtype))


CHANNELS_ADVICE = (
    "restore each channel on its own (Python: channel_axis=; napari: the Restore panel's 'Split channels' button, "
    "shown for a TIFF whose axes name C, else one layer per channel: viewer.open(path, channel_axis=...) or "
    "viewer.add_image(data, channel_axis=...); the CLI does it for TIFFs whose axes name channels and OME-Zarr "
    "stores with a c axis)"
)
"""What the stack warnings advise for a stack of several channels fitted as one."""

GAUSSIAN_DETAIL_MEDIAN = 0.455
"""The median of ``detail² / variance`` for Gaussian noise: a noise model that describes the data reads ≈ 1 over it."""


def _noise_over_model(parts, gain: float, beta: float) -> np.ndarray:
    """``detail² / (gain · mean + beta)`` over the usable pixels of ``parts`` (:attr:`CurveSamples.planes`
    entries), concatenated: what the data's noise is over what the curve predicts, pixel by pixel."""
    scaled = [detail[usable] ** 2 / np.maximum(gain * mean[usable] + beta, 1e-12) for mean, detail, _, usable in parts]
    return np.concatenate(scaled) if scaled else np.empty(0)


MAX_PLANE_NOISE_SPREAD = 2.0
"""Largest ratio between two sampled planes' noise, each measured against the stack's fit, before
the fit warns (:class:`~napari_hyperres.errors.MixedNoiseWarning`). Measured: planes of one camera
(bleaching to a tenth, a defocus series, two dyes) 1.01–1.04, a shutter-closed frame among lit ones
1.66 (the fit's read noise is least certain there); two detectors at gain 2 and 12: 3.4; W2S frames
of different fields or channels (each normalised on its own) 2.7–3.8."""

MIN_PLANE_CHECK_PIXELS = 64 * 64
"""Pixels a sampled plane needs to take part in that check (the median of fewer scatters too much)."""


def _warn_if_planes_differ(samples: CurveSamples, crops_per_plane: list[int], gain: float, beta: float) -> None:
    """Warn when the fitted curve describes some sampled planes' noise far worse than others'.

    Each plane's ratio is the median of its usable pixels' :func:`_noise_over_model` over that of
    Gaussian noise (:data:`GAUSSIAN_DETAIL_MEDIAN`): ≈ 1 on every plane where the fit is right for the stack.
    """
    ratios, start = [], 0
    for count in crops_per_plane:
        values = _noise_over_model(samples.planes[start : start + count], gain, beta)
        start += count
        if values.size >= MIN_PLANE_CHECK_PIXELS:
            ratios.append(float(np.median(values)) / GAUSSIAN_DETAIL_MEDIAN)
    if len(ratios) > 1 and max(ratios) > MAX_PLANE_NOISE_SPREAD * max(min(ratios), 1e-12):
        import warnings

        from ..errors import MixedNoiseWarning

        warnings.warn(
            f"the planes of this stack differ in noise ({max(ratios) / max(min(ratios), 1e-12):.1f}× between the sampled "
            f"planes, against one fit for all): if it holds several channels from different detectors, {CHANNELS_ADVICE}",
            MixedNoiseWarning,
            stacklevel=3,
        )


MAX_PLANE_DIMMING = 25.0
"""How many times fewer photons than its stack (each between its own black and white) a sampled
plane may hold before :class:`~napari_hyperres.errors.MixedBrightnessWarning`. Measured (the same
camera, one fit; aligned PSNR of the dim plane, stack's range against its own): a bleaching series
to 1/15: −0.04 to −0.07 dB; 2,000 beside 60 / 20 / 5 photons: −2.0 / −0.7 / −3.5 dB."""


def _warn_if_planes_dimmer(planes: np.ndarray, noise: PoissonGaussian, photons: float) -> None:
    """Warn when the sampled ``planes`` (:func:`sampled_planes`) of a stack restored at ``photons``
    hold far fewer photons each."""
    if len(planes) < 2:
        return
    own = []
    for plane in planes:
        low, high = np.percentile(plane, PERCENTILES)
        if high > low:
            own.append(noise.photons(float(low), float(high)))
    if own and photons > MAX_PLANE_DIMMING * max(min(own), 1e-12):
        import warnings

        from ..errors import MixedBrightnessWarning

        warnings.warn(
            f"some planes of this stack hold far fewer photons than the stack ({min(own):.3g} against {photons:.3g}): "
            "restored at the stack's level they keep more noise (a 5-photon channel beside a 2,000-photon one: "
            f"−2.6 dB). If the stack holds channels, {CHANNELS_ADVICE}",
            MixedBrightnessWarning,
            stacklevel=4,
        )


CAMERA_MISFIT = (0.5, 1.5)
"""The span of :func:`camera_noise_ratio` a given camera's model (:class:`PoissonGaussian` given, ``--camera``)
may show before :class:`~napari_hyperres.errors.CameraMismatchWarning`. Measured: the camera that made the
image 0.97–1.03 (simulated from W2S averages and a fluorescence-like field; real W2S frames against their
own fit 0.75–1.05); the camera's gain wrong ×1.5 / ×2: 0.65 / 0.49; a channel of another detector (gain 8,
offset 500, read with gain 2.2 and offset 100), which a review restored 6.3 dB below its own fit without
a word: 1.83."""


def camera_noise_ratio(planes: np.ndarray, noise: PoissonGaussian) -> float:
    """The image's noise over what ``noise`` predicts for it: the median over the usable pixels of the
    sampled ``planes`` (:func:`sampled_planes`) of ``detail² / (gain · mean + beta)``, over Gaussian
    noise's 0.455 (the statistic the fit reads): ≈ 1 where ``noise`` describes the image."""
    crops = [crop for plane in planes for crop in _fit_crops(plane)]
    clip = saturation_levels(crops, np.iinfo(planes.dtype)) if np.issubdtype(planes.dtype, np.integer) else None
    values = _noise_over_model(CurveSamples.measure(crops, clip).planes, noise.gain, noise.beta)
    return float(np.median(values)) / GAUSSIAN_DETAIL_MEDIAN if values.size else 1.0


CAMERA_LEVEL_MISFIT = (0.6, 1.6)
"""The span of (photons under the camera given) / (photons under the image's own fit) a camera may show
before :class:`~napari_hyperres.errors.CameraMismatchWarning`, where the fit reads at most
:data:`CAMERA_CHECK_PHOTONS`: the level a wrong camera sets is what costs (a re-review: a gain given ×0.5,
i.e. the level ×2, lost 6–7 dB while its noise variance matched within ×1.4). Measured with the right camera on
16 simulated W2S frames per brightness (two cameras): 0.68–1.06 at 5 photons, 0.75–1.05 at 10, 0.96–1.11 at
40–200; the fit reads bright images low (1.00–1.64 at 1,000, up to 4.1 at 5,000), so they are not compared."""

CAMERA_CHECK_PHOTONS = 500.0
"""The fit's reading (photons between black and white) above which it is not compared with a camera given."""


CAMERA_CHECK_PIXELS = 2 * 512 * 512
"""Pixels the camera check reads: central crops of up to 512 × 512 (the size of the W2S frames its spans
were measured on) of evenly spaced sampled planes. The whole sample cost 2.5–12.9 s per 8 × 1024² stack (a
noise fit the camera was given to spare), these crops 0.09–0.51 s (``bench_camera_check.md``)."""


def camera_check_planes(planes: np.ndarray) -> np.ndarray:
    """``(K, Y, X)`` sampled ``planes`` cut to what the camera check reads (:data:`CAMERA_CHECK_PIXELS`)."""
    h, w = planes.shape[-2:]
    ch, cw = min(h, 512), min(w, 512)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    wanted = min(len(planes), max(1, -(-CAMERA_CHECK_PIXELS // (ch * cw))))
    index = np.unique(np.linspace(0, len(planes) - 1, wanted).round().astype(int))
    return planes[index, y0 : y0 + ch, x0 : x0 + cw]


def _warn_if_camera_misfits(planes: np.ndarray, noise: PoissonGaussian, black: float, white: float) -> None:
    """Warn when the camera given does not describe the noise of these sampled ``planes`` (read as
    :func:`camera_check_planes`): its noise model strays from the image's noise (:func:`camera_noise_ratio`),
    or the level it sets strays from the level the image's own fit reads (where the fit can read it, up to
    :data:`CAMERA_CHECK_PHOTONS`)."""
    planes = camera_check_planes(planes)
    ratio = camera_noise_ratio(planes, noise)
    low, high = CAMERA_MISFIT
    problem = None
    if not low <= ratio <= high:
        problem = f"measured against it, the image's noise variance is {ratio:.2g}× what it predicts"
    else:
        try:
            reading = fit_poisson_gaussian(planes).photons(black, white)
        except ShapeError:
            reading = None  # the fit cannot read this image (a few photons under read noise): what the camera is for
        given = noise.photons(black, white)
        low, high = CAMERA_LEVEL_MISFIT
        if reading is not None and reading <= CAMERA_CHECK_PHOTONS and not low <= given / reading <= high:
            problem = (f"it sets {given:.4g} photons where the image's own noise fit reads {reading:.4g} "
                       f"({given / reading:.2g}×; a gain half the true one doubles the level and keeps the noise)")
    if problem is not None:
        import warnings

        from ..errors import CameraMismatchWarning

        warnings.warn(
            f"the camera given ({noise.describe()}) does not describe this image's noise: {problem}. Check GAIN, "
            "READ_NOISE and OFFSET (another detector's channel? each channel of a file has its own), or leave the "
            "camera out to fit the image (CLI: --camera; Python: noise=)",
            CameraMismatchWarning,
            stacklevel=4,
        )


LEVEL_MISFIT = (0.5, 1.4)
"""A level given below ×0.5 or above ×1.4 of the photons the image's noise reads draws a
:class:`~napari_hyperres.errors.LevelMismatchWarning`. Measured on 36 W2S frames against the fitted
level (``bench_microscopy_level_ratio.md``, since the level turns the noise curve about the offset): ×0.5 −1.24 dB,
×1.4 −1.77, ×2 −6.14 (before: −1.39 / −3.27 / −8.02; then a review's ×5 came out below the noisy input,
17.54 against 18.24 dB)."""


def level_misfit(photons: float, reading: float, level_range: tuple[float, float]) -> str | None:
    """What is wrong with a level given that lies far from what the image's noise reads, in words; ``None``
    within ``LEVEL_MISFIT`` of it (the reading taken within the task's ``level_range``: the end of the
    range is the nearest level to a reading beyond it). One text for the CLI's and Python's
    :class:`~napari_hyperres.errors.LevelMismatchWarning` and the widget's status."""
    low, high = LEVEL_MISFIT
    reading = min(max(reading, level_range[0]), level_range[1])
    if not reading > 0 or low * reading <= photons <= high * reading:
        return None
    side = "above" if photons > reading else "below"
    effect = "keeps most of the noise (×2: −6 dB on real frames)" if side == "above" else "smooths detail away (×0.5: −1.2 dB)"
    return (f"the level given ({photons:.4g} photons) is {photons / reading:.2g}× what this image's noise reads "
            f"({reading:.4g}): so far {side} it, the restoration {effect}; within ×{low:g}–×{high:g} of {reading:.4g} it does not")


def _warn_if_level_misfits(photons: float, reading: float, level_range: tuple[float, float]) -> None:
    """Warn (:class:`~napari_hyperres.errors.LevelMismatchWarning`) where :func:`level_misfit` finds the level far off."""
    problem = level_misfit(photons, reading, level_range)
    if problem is not None:
        import warnings

        from ..errors import LevelMismatchWarning

        warnings.warn(f"{problem}. Give the level \"auto\" (CLI: --level auto)", LevelMismatchWarning, stacklevel=4)


def photon_setup(
    task,
    image: np.ndarray,
    level: float | str,
    *,
    noise: PoissonGaussian | None = None,
    value_range: tuple[float, float] | None = None,
    max_sigma: float = MAX_STABILIZED_SIGMA,
) -> tuple[float, StabilizedMap]:
    """Resolve a photon-limited task's level and the map its restoration runs through.

    Args:
        task: a :class:`~napari_hyperres.core.tasks.Task` with ``noise_parameters="poisson-gaussian"``.
        image: ``(..., Y, X)`` gray data in its own units (a whole stack: fitted once).
        level: photo-electrons between black and white, or ``"auto"`` (from the fitted gain).
        noise: fitted parameters to use instead of fitting (the widget fits once per layer).
        value_range: ``(black, white)``, overriding the intensity rule's percentiles.
        max_sigma: the Gaussian network's largest level (8-bit σ).

    Returns:
        ``(photons, map)``: the level used and the :class:`StabilizedMap` at that level.

    Raises:
        NoiseFitError: the noise cannot be fitted (too small, flat, or not photon-limited).
        LevelRangeError: the level, or the one "auto" finds, is outside the task's range.
    """
    black, white = intensity_map_for(image, value_range, counts=True).value_range
    # the planes standing for a whole image; none for a part of one (a preview crop, a streamed page, a chunk:
    # they come with the whole image's range and noise, which must decide for them as for all of it)
    planes = sampled_planes(image) if value_range is None else None
    if noise is None:
        noise = fit_poisson_gaussian(image)
    elif planes is not None:
        noise = given_noise_on(noise, planes, black, white)
    if planes is not None:
        _warn_if_planes_dimmer(planes, noise, noise.photons(black, white))
    measured = noise  # what the data holds: defects are found against it, whatever the level
    if is_auto(level):
        photons = fitted_photons(task, noise, black, white)
    else:
        photons = task.check_level(level)
        if planes is not None:
            _warn_if_level_misfits(photons, noise.photons(black, white), task.level_range)
        noise = noise.with_photons(photons, black, white)
    return photons, stabilized_map(noise, black, white, np.dtype(image.dtype), max_sigma, measured)
