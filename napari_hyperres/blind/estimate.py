"""Blind mode: estimate a task's degradation level from the image itself.

``estimate_level(image, task)`` runs the task's trained :class:`LevelEstimator` on
crops of the image the size it was trained on (same intensity and channel rules as
the engine; :func:`crop_readings`) and returns the median, in the task's units, as found: it may lie outside
the task's range (:func:`napari_hyperres.blind.levels.resolve_level` reports that and
restores at the nearest end of the range).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..core.color import rgb_to_ycbcr
from ..core.devices import select_device
from ..core.images import is_rgb_image, split_channels, validate_image
from ..core.intensity import intensity_map_for
from ..core.photon_noise import PoissonGaussian
from ..core.plugins import get_task
from ..core.stabilize import fitted_photons, refuse_rgb
from ..core.tasks import Task
from ..core.weights import load_model
from ..errors import MissingWeightsError, ShapeError, WeightsError
from .crops import MAX_CROPS, grid_crops, trained_patch
from .photon_fit import fit_poisson_gaussian

MIN_ESTIMATE_SIZE = 32
"""Smallest plane edge the level estimators read (their pooled statistics need ≥ 2×2 features)."""

TRAINED_PATCH = 64
"""Crop edge of estimators whose weights do not record their training patch (all shipped before it was recorded)."""


def estimator_weights_name(task: Task, dtype=None, path=None) -> str:
    """Estimator weights for a task: its own (:attr:`Task.estimator`, a plugin's file), else the
    shipped ``"<task>.estimator-jpeg"`` for an image read from the JPEG file ``path`` where that
    ships (trained on noisy crops saved as JPEG files at quality 70–100: JPEG removes most of the
    noise's fine grain, and the 8-bit one read σ 25 at quality 90 as 19), or for a uint8 image
    ``"<task>.estimator-8bit"`` where that ships (trained on noise rounded and clipped to 0–255,
    as 8-bit files hold it; the general one reads σ 70 there as 58), else ``"<task>.estimator"``."""
    if task.estimator is not None:
        return task.estimator
    from ..core.weights import PRETRAINED_DIR

    def shipped(kind: str) -> bool:
        return (PRETRAINED_DIR / f"{task.name}.estimator-{kind}.safetensors").is_file()

    if path is not None and is_jpeg_file(path) and shipped("jpeg"):
        return f"{task.name}.estimator-jpeg"
    if dtype is not None and np.dtype(dtype) == np.uint8 and shipped("8bit"):
        return f"{task.name}.estimator-8bit"
    return f"{task.name}.estimator"


def has_estimator(task: Task) -> bool:
    """Whether the task's level estimator (:func:`estimator_weights_name`) exists as a file."""
    from ..core.weights import resolve_weights

    try:
        resolve_weights(estimator_weights_name(task))
    except WeightsError:
        return False
    return True


def is_jpeg_file(path) -> bool:
    """Whether ``path`` names a JPEG file (by its suffix)."""
    from pathlib import Path

    from ..core.jpeg_quality import JPEG_SUFFIXES

    return Path(path).suffix.lower() in JPEG_SUFFIXES


def prepare_plane(image: np.ndarray, task: Task, rgb: bool | None = None, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """The first 2-D plane of ``image`` as float ``(H, W, C)`` in the task's channels."""
    is_rgb = validate_image(image, rgb)
    image = np.asarray(image)
    lead = image.ndim - (3 if is_rgb else 2)
    plane = intensity_map_for(image, value_range).to_unit(image[(0,) * lead])  # only the first plane becomes float
    if is_rgb:
        plane = plane[..., :3]
        if task.in_channels == 1:
            return rgb_to_ycbcr(plane)[..., :1]
        return plane
    plane = plane[..., None]
    return np.repeat(plane, 3, axis=-1) if task.in_channels == 3 else plane


@torch.inference_mode()
def estimate_level(
    image: np.ndarray,
    task: str | Task,
    *,
    weights: str | None = None,
    device: str | None = None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
    channel_axis: int | None = None,
) -> float | list[float]:
    """The degradation level of ``image`` in ``task``'s units, from its trained estimator.

    For ``sr`` the estimator answers a different question than ``restore`` asks: given an
    image that was already enlarged by bicubic interpolation (what its network sees after
    pre-upsampling), by which factor it was enlarged. ``restore(low_res, "sr", "auto")``
    is refused: the factor to enlarge a low-resolution image by is the user's choice.

    Args:
        image: as for :func:`napari_hyperres.restore` (the first plane of a stack is used).
        task: task name or :class:`Task`.
        weights: estimator weights (default ``"<task>.estimator"``).
        value_range: ``(black, white)`` overriding the intensity rule, as for ``restore``
            (e.g. ``(0, 1)`` for float images whose noise leaves ``[0, 1]``).
        channel_axis: a leading axis that holds channels (``1`` for ``ZCYX``): one level per
            channel, as a list (what ``restore(..., channel_axis=)`` uses for each).

    Photon-limited tasks (``microscopy``) need no network: the level is the photons of the
    Poisson–Gaussian fit of the whole image (:func:`estimate_photon_noise`).

    Raises:
        WeightsError: the task has no trained estimator.
    """
    task = get_task(task)
    if channel_axis is not None:
        return [
            estimate_level(channel, task, weights=weights, device=device, rgb=rgb, value_range=value_range)
            for channel in split_channels(np.asarray(image), channel_axis, rgb)
        ]
    if task.noise_parameters:
        return estimate_photon_noise(image, task, rgb=rgb, value_range=value_range)[0]
    return float(np.median(crop_readings(image, task, weights=weights, device=device, rgb=rgb, value_range=value_range)))


def crop_readings(
    image: np.ndarray,
    task: str | Task,
    *,
    weights: str | None = None,
    device: str | None = None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The estimator's reading of each crop of ``image``'s first plane, in the task's units, ``(N,)``.

    :func:`estimate_level` is their median. Their spread says how much to trust it
    (:func:`uneven_readings`): noise varies little across a photo, texture and brightness do.
    Arguments and errors as for :func:`estimate_level` (a level-estimator task only).
    """
    return read_crops(image, task, weights=weights, device=device, rgb=rgb, value_range=value_range).levels


class CropReadings(NamedTuple):
    """What :func:`read_crops` reads of each of ``N`` crops, each ``(N,)``."""

    levels: np.ndarray
    """The estimator's reading, in the task's units."""
    brightness: np.ndarray
    """The crop's mean intensity on the 0–1 scale of the task's channels."""
    clipped: np.ndarray
    """The share of its values at or beyond black or white (0 or 1 there): clipped noise reads low."""


@torch.inference_mode()
def read_crops(
    image: np.ndarray,
    task: str | Task,
    *,
    weights: str | None = None,
    device: str | None = None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
    max_crops: int = MAX_CROPS,
    overlap: bool = False,
) -> CropReadings:
    """:func:`crop_readings`, with each crop's brightness and clipped share (:class:`CropReadings`).
    ``overlap``: crops half a crop apart (up to ``max_crops``), for more readings than
    non-overlapping crops give."""
    task = get_task(task)
    name = weights or estimator_weights_name(task, getattr(image, "dtype", None))
    try:
        model, info = load_model(name, task=task.name, kind="estimator", device=select_device(device))
    except MissingWeightsError as exc:  # a damaged or wrong file says so itself (not "train one")
        raise MissingWeightsError(
            f"task {task.name!r} has no level estimator ({exc}); train one with `python -m trainer train-estimator "
            f"--task {task.name} --data FOLDER --out FILE` and name it in the task (Task(estimator=FILE)); "
            "`napari-hyperres estimate --weights FILE` also reads with it directly. Meanwhile give the level as a number"
        ) from exc
    plane = prepare_plane(image, task, rgb, value_range)
    if min(plane.shape[:2]) < MIN_ESTIMATE_SIZE:
        raise ShapeError(
            f"the image is too small to estimate its level ({plane.shape[0]}×{plane.shape[1]} pixels; the estimator needs "
            f"at least {MIN_ESTIMATE_SIZE}×{MIN_ESTIMATE_SIZE}): give the level as a number ({task.unit})"
        )
    channels = plane.reshape(-1, plane.shape[-1])
    if not np.ptp(channels, axis=0).any():  # the estimator read σ 10.7 in an all-black PNG (a QA review); each channel flat
        colour = is_rgb_image(tuple(image.shape), rgb)
        stack = image.ndim > (3 if colour else 2)
        first = np.asarray(image[(0,) * (image.ndim - 1)] if colour else image[(0,) * image.ndim]).ravel()
        raise ShapeError(
            f"{'the first plane of this stack' if stack else 'the image'} is flat (every pixel is "
            f"{', '.join(f'{float(v):g}' for v in first[:3])}): it holds no noise or artefact to read a level from; "
            f"give the level as a number ({task.unit}), or check that this is the image you meant"
        )
    patch = trained_patch(info, TRAINED_PATCH)
    crops = grid_crops(plane, patch, max_crops, stride=patch // 2 if overlap else None)
    fractions = model(torch.from_numpy(np.ascontiguousarray(crops)).to(next(model.parameters()).device)).float().cpu().numpy().reshape(-1)
    if not np.isfinite(np.median(fractions)):
        raise ShapeError(f"the level estimator gave no finite answer for this image ({name}); give the level as a number ({task.unit})")
    low, high = task.level_range
    return CropReadings(
        low + fractions.astype(np.float64) * (high - low),
        crops.mean(axis=(1, 2, 3), dtype=np.float64),
        ((crops <= 0) | (crops >= 1)).mean(axis=(1, 2, 3)),
    )


UNEVEN_RATIO = 1.5
"""Crop readings whose 90th percentile is more than this times their 10th disagree (images with
white noise added at σ ≥ 15: ≤ 1.18; clean baboon: 2.24; noise only in a photo's dark parts: 5–11)."""

UNEVEN_SPAN = 0.03
"""… and by more than this fraction of the task's range (σ 3), so that near-zero readings of clean
photos (σ 0.5 against 0.8) are not called uneven."""


def uneven_readings(readings: np.ndarray, task: Task) -> tuple[float, float] | None:
    """``(10th, 90th percentile)`` of crop readings (:func:`crop_readings`) when they disagree
    enough that their median may be wrong for much of the image; ``None`` when they agree."""
    low_reading, high_reading = (float(v) for v in np.percentile(readings, [10, 90]))
    low, high = task.level_range
    if high_reading - low_reading > UNEVEN_SPAN * (high - low) and high_reading > UNEVEN_RATIO * max(low_reading - low, 1e-6) + low:
        return low_reading, high_reading
    return None


def estimate_photon_noise(
    image: np.ndarray,
    task: str | Task = "microscopy",
    *,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
    noise: PoissonGaussian | None = None,
    channel_axis: int | None = None,
) -> tuple[float, PoissonGaussian] | list[tuple[float, PoissonGaussian]]:
    """``(photons, noise)``: a photon-limited task's level and the Poisson–Gaussian parameters fitted to ``image``.

    The whole image (a stack: up to 8 of its planes) is fitted once; ``photons`` is the
    number of photo-electrons between its black and white points (intensity rule or
    ``value_range``), ``noise.gain`` the counts per photo-electron. ``noise``: a fit already
    made (the widget fits a layer once), used instead of fitting ``image`` again.
    ``channel_axis``: a leading axis that holds channels: one ``(photons, noise)`` per channel,
    as a list (detectors differ in gain and offset; a fit of all channels together is right for none).

    Raises:
        ShapeError: RGB input, or an image whose noise cannot be fitted.
        LevelRangeError: the photons found are outside the task's range.
    """
    task = get_task(task)
    if channel_axis is not None:
        return [
            estimate_photon_noise(channel, task, rgb=rgb, value_range=value_range, noise=noise)
            for channel in split_channels(np.asarray(image), channel_axis, rgb)
        ]
    if validate_image(image, rgb):
        refuse_rgb(task.name, image.shape)
    black, white = intensity_map_for(image, value_range, counts=True).value_range
    if noise is None:
        noise = fit_poisson_gaussian(np.asarray(image))
    return fitted_photons(task, noise, black, white), noise


def describe_fit(noise: PoissonGaussian) -> str:
    """How a photon task's level was found, for people: ``Poisson–Gaussian fit: gain α …``."""
    return f"Poisson–Gaussian fit: {noise.describe()}"
