"""Noise that follows brightness: a level for each brightness of an image, then one for each pixel.

A camera's noise is photon noise (its variance grows with the light) seen through the tone curve,
which stretches the shadows: in an 8-bit photo the shadows are noisier than the highlights, and
one σ for the whole image leaves the shadows noisy or smooths the highlights. For tasks whose
level may do that (:attr:`~napari_hyperres.core.tasks.Task.level_follows_brightness`),
``level="by-brightness"`` reads the level estimator on overlapping crops, sorts them by
brightness and takes the median reading of each brightness band (:func:`level_curve`). The
engine then restores the image at a few levels spanning the curve (:meth:`LevelCurve.levels_to_run`)
and gives each pixel the blend of the two restorations around the level of its local brightness
(:func:`pixel_levels`, :func:`blend_weight`).

Pure numpy; the network runs in :mod:`napari_hyperres.engine.by_brightness`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.tasks import Task
from ..errors import LevelRangeError

BY_BRIGHTNESS = "by-brightness"

CURVE_CROPS = 256
"""Crops the estimator reads for a curve (half a crop apart; a 512² plane gives 225)."""

CROPS_PER_BAND = 16
"""Crops behind each band's median reading (fewer crops, fewer bands; at most :data:`MAX_BANDS`)."""

MAX_BANDS = 8

LOCAL_BRIGHTNESS_SIGMA = 4.0
"""Pixels of Gaussian blur over which a pixel's brightness is read (σ 50 noise then moves it by ≈ 1.4 %)."""

FLAT_RATIO = 1.15
"""Curves whose highest level is at most this times their lowest restore at one level (their median)."""

STEP_RATIO = 2.0
"""Neighbouring levels of the restorations blended differ by at most this factor …"""

MAX_PASSES = 3
"""… and at most this many restorations are made (the factor grows instead). Measured on 6 Set12 /
McMaster images (σ 30 in the dark parts; camera noise): factor 2.2 and 3 passes restored as well as
1.3 and 6 (28.35 against 28.33 dB; 31.68 against 31.69) in half the passes."""

CLIPPED_SHARE = 0.3
"""Bands whose crops have more than this share of values at black or white (median) read low: the
clipped noise shows less spread (white flats of a screenshot with σ 25 noise read σ 16). They take at
least the level of the nearest band below that share."""

LEVEL_FLOOR = 0.02
"""Levels below this fraction of the task's range (σ 2 for denoise) are restored at it: the blend's
steps are ratios, which need a level above the range's low end."""


def is_by_brightness(level) -> bool:
    """Whether ``level`` asks for a level that follows brightness (``"by-brightness"``, any case)."""
    return isinstance(level, str) and level.strip().lower() == BY_BRIGHTNESS


@dataclass(frozen=True)
class LevelCurve:
    """Levels of an image by brightness, read from its estimator crops.

    Attributes:
        brightness: band centres on the 0–1 scale of the task's channels, strictly increasing.
        levels: the task's level in each band (inside the task's range), as many as ``brightness``.
    """

    brightness: tuple[float, ...]
    levels: tuple[float, ...]

    def at(self, brightness) -> np.ndarray:
        """The level at ``brightness`` (any shape, 0–1), linear between band centres, flat beyond them."""
        return np.interp(brightness, self.brightness, self.levels).astype(np.float32)

    @property
    def level(self) -> float:
        """One number for the curve: the median of its bands' levels (reports, sliders)."""
        return float(np.median(self.levels))

    def scaled(self, level: float, task: Task) -> LevelCurve:
        """This curve with its :attr:`level` moved to ``level``, every band in proportion (clipped to
        the task's range): what the widget's slider does to a curve (shadows stay that much noisier)."""
        low, high = task.level_range
        factor = (level - low) / (self.level - low) if self.level > low else None
        levels = [level] * len(self.levels) if factor is None else [low + (v - low) * factor for v in self.levels]
        return LevelCurve(self.brightness, tuple(float(np.clip(v, low, high)) for v in levels))

    def _above_floor(self, task: Task) -> list[float]:
        """The levels measured from the range's low end, raised to :data:`LEVEL_FLOOR` of the range."""
        low, high = task.level_range
        return [max(level - low, LEVEL_FLOOR * (high - low)) for level in self.levels]

    def flat(self, task: Task) -> bool:
        """Whether one level serves every brightness: the highest is at most :data:`FLAT_RATIO` times
        the lowest, both raised to :data:`LEVEL_FLOOR` (a clean photo's σ 0.3 and 0.8 are both "clean")."""
        levels = self._above_floor(task)
        return max(levels) <= FLAT_RATIO * min(levels)

    def levels_to_run(self, task: Task) -> tuple[float, ...]:
        """The levels to restore at, lowest first: the median alone when the curve is :meth:`flat`,
        else levels from its lowest (raised to :data:`LEVEL_FLOOR` of the range: the steps are ratios)
        to its highest, a factor of at most :data:`STEP_RATIO` apart, at most :data:`MAX_PASSES`.
        Never above the highest level read."""
        if self.flat(task):
            return (self.level,)
        low = task.level_range[0]
        levels = self._above_floor(task)
        bottom, top = min(levels), max(levels)
        count = min(MAX_PASSES, int(np.ceil(np.log(top / bottom) / np.log(STEP_RATIO))) + 1)
        return tuple(float(low + v) for v in np.geomspace(bottom, top, count))

    def describe(self, task: Task) -> str:
        """For people: ``σ (8-bit) 23.1 in the darkest parts to 8.2 in the brightest (by brightness: 23.1, 18, …)``."""
        bands = ", ".join(f"{level:.3g}" for level in self.levels)
        if self.flat(task):
            return f"{task.unit} {self.level:.4g} at every brightness (by brightness: {bands}), restored at one level"
        return (
            f"{task.unit} {self.levels[0]:.3g} in the darkest parts to {self.levels[-1]:.3g} in the brightest "
            f"(by brightness, dark to bright: {bands})"
        )


def check_follows_brightness(task: Task) -> None:
    """Raise :class:`LevelRangeError` unless ``task``'s level may follow brightness (the message says
    what the task takes instead)."""
    if task.level_follows_brightness:
        return
    if task.conditioning == "image":
        task.check_auto()  # raises: such a task takes no level at all
    low, high = task.level_range
    instead = f"give a number in {low:g}-{high:g} or 'auto'" if task.level_from_image else f"give a number in {low:g}-{high:g}"
    raise LevelRangeError(
        f"task {task.name!r}: its level ({task.unit}) does not vary with brightness, so '{BY_BRIGHTNESS}' does not apply; {instead}"
    )


def curve_from_readings(readings: np.ndarray, brightness: np.ndarray, task: Task, clipped: np.ndarray | None = None) -> LevelCurve:
    """The :class:`LevelCurve` of crop ``readings`` ``(N,)`` at crop ``brightness`` ``(N,)``: crops
    sorted by brightness into equal bands of about :data:`CROPS_PER_BAND`, each band's median
    brightness and median reading (clipped to the task's range). ``clipped`` ``(N,)``: each crop's
    share of values at black or white; bands above :data:`CLIPPED_SHARE` are raised to the level of
    the nearest band below it."""
    low, high = task.level_range
    order = np.argsort(brightness, kind="stable")
    groups: list[np.ndarray] = []
    for band in np.array_split(order, int(np.clip(len(order) // CROPS_PER_BAND, 1, MAX_BANDS))):
        if groups and np.median(brightness[band]) <= np.median(brightness[groups[-1]]):
            groups[-1] = np.concatenate([groups[-1], band])  # bands of one brightness (flat parts) pool their crops
        else:
            groups.append(band)
    levels = [float(np.clip(np.median(readings[group]), low, high)) for group in groups]
    if clipped is not None:
        clear = [i for i, group in enumerate(groups) if np.median(clipped[group]) <= CLIPPED_SHARE]
        for i in range(len(groups)):
            if clear and i not in clear:
                nearest = min(clear, key=lambda j: abs(j - i))
                levels[i] = max(levels[i], levels[nearest])
    return LevelCurve(tuple(float(np.median(brightness[group])) for group in groups), tuple(levels))


def level_curve(
    image: np.ndarray,
    task,
    *,
    weights: str | None = None,
    device: str | None = None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
) -> LevelCurve:
    """The :class:`LevelCurve` of ``image``'s first plane (arguments as for
    :func:`~napari_hyperres.blind.estimate.estimate_level`).

    Raises:
        LevelRangeError: the task's level does not follow brightness.
        ShapeError / WeightsError: as for ``estimate_level``.
    """
    from ..core.plugins import get_task
    from .estimate import read_crops

    task = get_task(task)
    check_follows_brightness(task)
    crops = read_crops(image, task, weights=weights, device=device, rgb=rgb, value_range=value_range, max_crops=CURVE_CROPS, overlap=True)
    return curve_from_readings(crops.levels, crops.brightness, task, crops.clipped)


def pixel_levels(unit_plane: np.ndarray, curve: LevelCurve) -> np.ndarray:
    """The level of each pixel of a float ``(H, W)`` or ``(H, W, C)`` plane on the 0–1 scale:
    the curve at its local brightness (channel mean, blurred by :data:`LOCAL_BRIGHTNESS_SIGMA`). ``(H, W)`` float32."""
    plane = np.asarray(unit_plane, dtype=np.float32)
    mean = plane[..., :3].mean(axis=-1) if plane.ndim == 3 else plane
    return curve.at(cv2.GaussianBlur(mean, (0, 0), LOCAL_BRIGHTNESS_SIGMA, borderType=cv2.BORDER_REFLECT))


def blend_weight(levels_per_pixel: np.ndarray, levels: tuple[float, ...], k: int) -> np.ndarray:
    """How much of the restoration at ``levels[k]`` each pixel takes: linear between neighbouring
    levels (the weights of all ``k`` add up to 1), all of the lowest (highest) below (above) them.
    The hat function of ``levels[k]``, i.e. ``np.interp`` of the ``k``-th unit vector."""
    return np.interp(levels_per_pixel, levels, np.eye(len(levels))[k]).astype(np.float32)
