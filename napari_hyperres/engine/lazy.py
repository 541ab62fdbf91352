"""Dask arrays: restored lazily, block by block, equal to restoring the whole array.

What every block must share (the level, the intensity map, a photon task's noise fit) is
read once from a sample of planes (:func:`stack_sample`) before the graph is built.
"""

from __future__ import annotations

import math

import numpy as np

from ..blind.photon_fit import (
    fit_plane_indices,
    fit_poisson_gaussian,
    given_noise_on,
    sampled_planes,
)
from ..core.images import is_rgb_image
from ..core.intensity import check_dtype, intensity_map_for, reads_data_range
from ..core.photon_noise import PoissonGaussian
from ..core.stabilize import refuse_rgb
from ..errors import ShapeError
from .tiling import check_tile


def restore_lazy(restorer, image, level, *, tile=None, rgb=None, value_range=None, noise=None):
    """:meth:`napari_hyperres.engine.Restorer.restore_lazy` (see there): a dask array whose
    blocks ``restorer`` restores when computed."""
    import dask.array as da

    check_dtype(np.dtype(image.dtype))
    check_tile(tile)
    is_rgb = is_rgb_image(tuple(image.shape), rgb)
    spatial_ndim = 3 if is_rgb else 2
    if image.ndim < 2 or image.size == 0:
        raise ShapeError(f"expected a non-empty image with at least 2 dimensions (Y, X), got shape {image.shape}")
    lead = image.ndim - spatial_ndim
    sample = stack_sample(image, lead)
    level, value_range, noise = restorer.settle(sample, level, is_rgb, value_range, noise)
    y_axis = lead
    whole_plane = restorer.task.resamples or restorer.image_conditioned
    chunks = {axis: 1 for axis in range(lead)}
    if is_rgb:
        chunks[image.ndim - 1] = -1
    if whole_plane:
        chunks.update({y_axis: -1, y_axis + 1: -1})
    else:
        for axis in (y_axis, y_axis + 1):
            size = max(int(tile or 0), *(c for c in image.chunks[axis]), 2 * restorer.context, 2)
            size += -size % restorer.grid  # chunks start on the grid
            chunks[axis] = _even_chunks(image.shape[axis], size, restorer.context)
    image = image.rechunk(chunks)

    # a chunk of a plane cannot tell whether the plane is gray stored as colour: chunks of whole planes decide
    # as in memory; pieces of planes restore colour as colour
    neutral_as_gray = whole_plane or all(len(image.chunks[axis]) == 1 for axis in (y_axis, y_axis + 1))

    def restore_block(block: np.ndarray) -> np.ndarray:
        return restorer.restore(block, level, tile=tile, rgb=is_rgb, value_range=value_range, noise=noise,
                                neutral_as_gray=neutral_as_gray)

    if whole_plane:
        out_chunks = list(image.chunks)
        for axis in (y_axis, y_axis + 1):
            out_chunks[axis] = tuple(restorer.task.output_size(c, c, level)[0] for c in image.chunks[axis])
        return da.map_blocks(restore_block, image, chunks=tuple(out_chunks), dtype=image.dtype)
    spatial = [a for a in (y_axis, y_axis + 1) if len(image.chunks[a]) > 1]  # one chunk: no overlap needed
    depth = {axis: (restorer.context if axis in spatial else 0) for axis in range(image.ndim)}
    return da.map_overlap(restore_block, image, depth=depth, boundary="none", trim=True, dtype=image.dtype)


def _even_chunks(length: int, size: int, minimum: int) -> tuple[int, ...]:
    """Chunks of even ``size`` along an axis of ``length``; a last piece shorter than ``minimum`` joins its neighbour.

    Every block then starts at an even offset (on the grid of the networks' stride-2 head)
    and none is shorter than the overlap (dask would otherwise re-chunk it unevenly).
    """
    chunks = [size] * (length // size)
    rest = length - size * len(chunks)
    if rest and chunks and rest < minimum:
        chunks[-1] += rest
    elif rest:
        chunks.append(rest)
    return tuple(chunks)


SAMPLE_PIXELS = 2**20
"""About how many pixels of each sampled plane are read (a larger plane is read with a stride)."""


def sample_planes(read_plane, planes: int) -> np.ndarray:
    """``(k, y, x[, c])``: the planes of a stack that the in-memory noise fit reads
    (:func:`~napari_hyperres.blind.photon_fit.fit_plane_indices`: up to 8 evenly spaced, more
    when they are small), each read by ``read_plane(index)`` (a flat plane index) with a stride
    that keeps it near :data:`SAMPLE_PIXELS`. What the lazy and streamed paths settle on before
    restoring, so a dark first frame or a defocused first z-plane does not decide for the stack."""
    first = read_plane(0)
    sample = []
    for index in fit_plane_indices(planes, first.shape[0] * first.shape[1]):
        plane = first if index == 0 else read_plane(index)
        stride = max(1, int(np.sqrt(plane.shape[0] * plane.shape[1] / SAMPLE_PIXELS)))
        sample.append(np.asarray(plane[::stride, ::stride]))
    return np.stack(sample)


def stack_sample(image, lead: int) -> np.ndarray:
    """:func:`sample_planes` of ``image`` (``lead`` leading axes; a dask array is read only there):
    one plane for a single image, else ``(k, y, x[, c])``."""
    lead_shape = tuple(image.shape[:lead])
    sample = sample_planes(lambda i: image[np.unravel_index(i, lead_shape)] if lead else image, math.prod(lead_shape))
    return sample[0] if lead == 0 else sample


def whole_value_range(image, rgb: bool | None = None, *, counts: bool = False) -> tuple[float, float]:
    """The ``(black, white)`` that restoring all of ``image`` maps to ``[0, 1]``.

    uint8: 0–255. Anything else: the intensity rule on the whole array (numpy),
    or on its sampled planes (dask, as :meth:`Restorer.restore_lazy`: :func:`stack_sample`). Passing it as
    ``value_range`` when restoring one plane gives that plane exactly as in the whole result.
    ``counts``: photon-limited tasks' rule (:func:`~napari_hyperres.core.intensity.intensity_map_for`).
    """
    check_dtype(np.dtype(image.dtype))
    is_rgb = is_rgb_image(tuple(image.shape), rgb)
    if is_rgb and image.shape[-1] == 4:
        image = image[..., :3]  # alpha is no intensity (the restorer maps colour alone)
    if is_dask_array(image) and reads_data_range(image.dtype):
        lead = image.ndim - (3 if is_rgb else 2)
        return intensity_map_for(stack_sample(image, lead), counts=counts).value_range
    return intensity_map_for(image, counts=counts).value_range


def whole_noise(image, rgb: bool | None = None, task: str = "microscopy") -> PoissonGaussian:
    """The Poisson–Gaussian fit that restoring all of ``image`` with a photon-limited task uses.

    numpy: the whole array (up to 8 planes of a stack); dask: its sampled planes, as
    :meth:`Restorer.restore_lazy`. Passing it as ``noise`` when restoring one plane gives
    that plane as in the whole result (with :func:`whole_value_range`). ``task``: the
    photon-limited task's name, for the error an RGB image gets.
    """
    if is_rgb_image(tuple(image.shape), rgb):
        refuse_rgb(task, image.shape)
    if is_dask_array(image):
        return fit_poisson_gaussian(stack_sample(image, image.ndim - 2))
    return fit_poisson_gaussian(np.asarray(image))


def whole_camera(noise: PoissonGaussian, image, value_range: tuple[float, float], rgb: bool | None = None,
                 task: str = "microscopy") -> PoissonGaussian:
    """A camera given for all of ``image`` (the panel's camera field, ``--camera``) checked against the planes
    that stand for it (:func:`~napari_hyperres.blind.photon_fit.given_noise_on`: an offset above its darkest
    parts refused, its saturation level added, a misfit warned about), as restoring all of it in memory does;
    ``value_range``: its :func:`whole_value_range`. Passing the result as ``noise`` when restoring one plane
    gives that plane as in the whole result."""
    if is_rgb_image(tuple(image.shape), rgb):
        refuse_rgb(task, image.shape)
    planes = stack_sample(image, image.ndim - 2) if is_dask_array(image) else sampled_planes(np.asarray(image))
    return given_noise_on(noise, planes.reshape((-1,) + planes.shape[-2:]), *value_range)


def is_dask_array(image) -> bool:
    """Whether ``image`` is a dask array (napari hands plugins those for large or multi-file data)."""
    return type(image).__module__.startswith("dask.")
