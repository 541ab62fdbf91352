"""The exceptions napari-hyperres raises.

Every message says what was expected, what was given, and what to do.
"""

from __future__ import annotations


class HyperResError(Exception):
    """Base class of every error this package raises on purpose."""


class LevelRangeError(HyperResError, ValueError):
    """A degradation level outside the task's range (never clipped silently)."""


class LevelRangeWarning(UserWarning):
    """An estimated level outside the task's range: restored at the nearest end of the range."""


class MixedNoiseWarning(UserWarning):
    """A stack whose planes differ in noise under one Poisson–Gaussian fit (channels of different
    detectors fitted together): restore each channel on its own."""


class MixedBrightnessWarning(UserWarning):
    """A stack restored at one photon level whose planes hold far fewer photons than it (a dim
    channel beside a bright one in one array): restore those planes on their own."""


class LevelMismatchWarning(UserWarning):
    """A level given far from what the image's noise reads (photon-limited tasks: its Poisson–Gaussian fit)."""


class CameraMismatchWarning(UserWarning):
    """A camera's noise given (``--camera``) that does not describe the image's noise."""


class ShapeError(HyperResError, ValueError):
    """An image whose shape, channel count, dtype or values cannot be restored."""


class NoiseFitError(ShapeError):
    """A photon-limited image whose noise could not be fitted (too small, too flat, no noise that grows with the
    signal): no level restores it without the camera's noise given (nor with it, an image of one value), as the
    slider's level needs the same fit."""


class UnknownTaskError(HyperResError, KeyError):
    """A task name that no installed plugin registers."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class PluginError(HyperResError):
    """A third-party plugin that misbehaves (duplicate task names, bad return values)."""


class WeightsError(HyperResError):
    """A weights file that is missing, corrupt, truncated or does not fit the task."""


class MissingWeightsError(WeightsError):
    """No weights where they were looked for: a file that does not exist, a shipped name that is not
    shipped, a task that has none yet. (What to do differs from a damaged file's: train and export.)"""


class WrongTaskWeightsError(WeightsError):
    """Weights made for another task than the one they were given to."""


class DeviceError(HyperResError, ValueError):
    """A device that was asked for but is not available."""


class CancelledError(HyperResError):
    """A restoration stopped because its caller cancelled it."""
