"""The level slider and the viewer's geometry: slider positions ↔ levels (log-scale tasks
move by decades), sweeps, the displayed plane, and where an output overlays its input.
Pure functions, no Qt."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..core.tasks import Task
from ..errors import LevelRangeError, ShapeError


def slider_from_level(task: Task, level: float) -> float:
    """The slider position of ``level``: the level itself, or its log10 for a log-scale task."""
    return float(np.log10(level)) if task.level_scale == "log" else float(level)


def level_from_slider(task: Task, position: float) -> float:
    """The level at slider ``position`` (inverse of :func:`slider_from_level`), rounded to 3 significant digits on a log scale."""
    if task.level_scale != "log":
        return float(position)
    return float(f"{10.0 ** float(position):.3g}")


def field_step(task: Task) -> float:
    """The level fields' step (and so their decimals): the task's ``level_step``, finer where its
    range is narrow, so that a range such as 0.001–0.05 has about 100 steps (with the default
    step of 1 it had none, and the fields showed 0.00–0.05 in two decimals)."""
    low, high = task.level_range
    span = high - low
    if span <= 0 or task.level_step * 20 <= span:  # at least 20 steps: the task's own step
        return task.level_step
    return float(10.0 ** np.floor(np.log10(span / 100)))


def level_label(task: Task) -> str:
    """The level slider's label: the task's unit, once (``σ (8-bit)``, ``photons``, ``JPEG quality``)."""
    return task.unit


def unplaned_view(ndisplay: int, displayed: Sequence[int], world_ndim: int, layer_ndim: int) -> str | None:
    """Why the viewer does not show a layer's Y–X planes, or ``None`` where it does: the 3-D display, or two other
    axes displayed (a Z–X view after ``dims.order`` moved them). The preview restores the displayed Y–X plane of
    2-D views only (a review saw a Y–X plane drawn over a Z–X slice, and a flat slab in a volume).

    Args:
        ndisplay: ``viewer.dims.ndisplay``; displayed: ``viewer.dims.displayed`` (world axes).
        world_ndim: ``viewer.dims.ndim``; layer_ndim: the layer's ``ndim`` (its Y and X are its last two, aligned
            with the world's last axes as napari aligns layers).
    """
    if ndisplay == 3:
        return "the 3-D view"
    yx = {world_ndim - 2, world_ndim - 1}
    if layer_ndim >= 2 and set(displayed) != yx:
        return "this view of other axes than Y and X"
    return None


def plane_index(data_point: Sequence[float], shape: Sequence[int], rgb: bool) -> tuple[int, ...]:
    """Index of the displayed 2-D plane along the leading axes of an array of ``shape``.

    Args:
        data_point: the viewer's position in the layer's data coordinates
            (``layer.world_to_data(viewer.dims.point)``), one value per non-channel axis.
        shape: the layer's data shape (``(..., Y, X)`` or ``(..., Y, X, 3|4)``).
        rgb: whether the last axis is colour.

    Returns:
        One integer per leading axis (Z, T, …), rounded like napari's slicing and
        clipped to the array; ``()`` for a single plane.
    """
    lead = len(shape) - (3 if rgb else 2)
    if lead < 0:
        raise ShapeError(f"expected an image with at least 2 spatial axes, got shape {tuple(shape)}")
    index = []
    for axis in range(lead):
        value = float(data_point[axis]) if axis < len(data_point) else 0.0
        index.append(int(np.clip(np.round(value), 0, shape[axis] - 1)))
    return tuple(index)


def output_geometry(
    scale: Sequence[float], translate: Sequence[float], in_yx: Sequence[int], out_yx: Sequence[int],
    yx_linear: np.ndarray | None = None,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scale and translate of a restored layer so that it overlays its input.

    Only the last two entries (Y, X) change, and only when the output has another
    size than the input (super-resolution): the pixel pitch becomes ``scale · in / out``
    and the grid is shifted so that both images cover the same extent (output pixel
    ``j`` is centred on input coordinate ``(j + 0.5) · in / out - 0.5``).

    Args:
        scale, translate: the input layer's (one value per non-channel axis).
        in_yx, out_yx: input and output plane sizes ``(height, width)``.
        yx_linear: the input layer's rotation and shear in its Y and X (2×2, :func:`yx_rotation_shear`), which
            turn that shift as they turn the pixel grid (a review: a rotated layer's outputs lay upright across it).
    """
    scale_out = [float(s) for s in scale]
    translate_out = [float(t) for t in translate]
    shift = np.zeros(2)
    for k in (1, 2):
        n_in, n_out = int(in_yx[-k]), int(out_yx[-k])
        if n_in == n_out:
            continue
        pitch_ratio = n_in / n_out
        s = scale_out[-k]
        scale_out[-k] = s * pitch_ratio
        shift[-k] = s * (0.5 * pitch_ratio - 0.5)
    if yx_linear is not None:
        shift = np.asarray(yx_linear, dtype=float) @ shift
    translate_out[-2] += float(shift[0])
    translate_out[-1] += float(shift[1])
    return tuple(scale_out), tuple(translate_out)


def shear_matrix(shear: Any, n: int) -> np.ndarray:
    """napari's ``layer.shear`` (its upper-triangular values, row by row, or a matrix) as an ``n × n`` matrix."""
    values = np.asarray(shear, dtype=float)
    if values.ndim == 2:
        return values
    matrix = np.eye(n)
    matrix[np.triu_indices(n, 1)] = values
    return matrix


def yx_rotation_shear(layer: Any) -> np.ndarray:
    """The 2×2 rotation and shear (in that order, as napari composes them) of a layer's Y and X axes."""
    n = len(layer.scale)
    return (np.asarray(layer.rotate, dtype=float) @ shear_matrix(layer.shear, n))[-2:, -2:]


def linear_kwargs(layer: Any, ndim: int) -> dict[str, np.ndarray]:
    """``rotate`` / ``shear`` / ``affine`` of ``layer`` for an output of ``ndim`` (non-channel) axes, those the layer
    has other than the identity: the block of its last ``ndim`` axes (a preview's plane: Y and X), or the layer's
    own with leading axes of no turn (a sweep's level axis). Scale and translate are :func:`output_geometry`'s."""
    n = len(layer.scale)

    def block(matrix: np.ndarray, size: int, extra: int = 0) -> np.ndarray:
        m = size + extra  # an affine's homogeneous row and column come last
        if size <= n:
            keep = list(range(n - size, n)) + list(range(n, n + extra))
            return matrix[np.ix_(keep, keep)]
        out = np.eye(m)
        out[m - n - extra :, m - n - extra :] = matrix
        return out

    found: dict[str, np.ndarray] = {}
    rotate, shear = np.asarray(layer.rotate, dtype=float), shear_matrix(layer.shear, n)
    affine = np.asarray(layer.affine.affine_matrix, dtype=float)
    if not np.allclose(rotate, np.eye(n)):
        found["rotate"] = block(rotate, ndim)
    if not np.allclose(shear, np.eye(n)):
        found["shear"] = block(shear, ndim)
    if not np.allclose(affine, np.eye(n + 1)):
        found["affine"] = block(affine, ndim, 1)
    return found


def sweep_levels(task: Task, n: int, low: float | None = None, high: float | None = None) -> list[float]:
    """``n`` evenly spaced levels from ``low`` to ``high`` (default: the task's whole range).

    Raises:
        LevelRangeError: ``low``/``high`` outside the task's range, or ``low >= high``.
        ValueError: ``n < 2``.
    """
    if int(n) < 2:
        raise ValueError(f"expected at least 2 levels for a sweep, got {n}")
    lo = task.check_level(task.level_range[0] if low is None else low)
    hi = task.check_level(task.level_range[1] if high is None else high)
    if not lo < hi:
        raise LevelRangeError(f"task {task.name!r}: expected a sweep from a lower to a higher level, got {lo:g} to {hi:g}")
    spaced = np.geomspace if task.level_scale == "log" else np.linspace  # log tasks: equal ratios
    return [float(np.round(v, 6)) for v in spaced(lo, hi, int(n))]


def sweep_bounds(task: Task, level: float) -> tuple[float, float]:
    """The sweep's default ``(from, to)`` at ``level``: a log-scale task's ×0.5 to ×2 of it (within the
    range: the whole of microscopy's 1–10,000 photons swept 1, 10, 100, 1,000, 10,000, two of them far from
    any image, a newcomer's review), a linear task's whole range."""
    low, high = task.level_range
    if task.level_scale != "log":
        return low, high
    return max(low, level / 2.0), min(high, level * 2.0)
