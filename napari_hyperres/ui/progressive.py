"""The live preview, what is on screen first: the middle of the view, then the view, then the plane.

A slider move on a large plane must show restored pixels at the speed of the hand, and
those pixels must be Apply's pixels (no draft network). :func:`preview_steps` restores
crops of the displayed plane with a margin of the network's receptive field on every side,
starting on the grid of the networks' stride-2 head, so each crop's inside equals the same
pixels of the whole plane restored at once (the engine's tiling rule). It yields each
:class:`PreviewTile` as it is done; the widget writes it into the preview layer.

Planes of at most :data:`WHOLE_PLANE_PIXELS` are restored at once (a crop would only add its
margin); so are tasks whose output has another size (``sr``) or whose network is chosen
from the whole image (``auto``).

Qt-free; runs in a worker thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..core.images import is_neutral_colour
from .labels import is_image_conditioned
from .preview import Request, Restored, RestorerCache, drain_restore_steps

WHOLE_PLANE_PIXELS = 640 * 640
"""Planes up to this size (in one-pass pixels: colour as opponent planes counts three times,
:meth:`Task.passes`) are previewed whole: a first crop would only add its margin's cost."""

FIRST_TILE = 128
"""Edge of the first crop, at the middle of the view: what a slider move shows first (for one
network pass; tasks that run more per pixel show a smaller first crop, :func:`first_edge`)."""

REST_TILE = 512
"""Tile edge for the rest of the plane: a new slider move can stop it after any tile."""

Box = tuple[int, int, int, int]
"""``(y0, y1, x0, x1)``: rows ``y0:y1`` and columns ``x0:x1`` of a plane."""


@dataclass(frozen=True)
class PreviewTile:
    """Restored pixels of the displayed plane: ``data`` is ``plane[box]`` restored.

    Attributes:
        box: where they go, ``(y0, y1, x0, x1)``.
        data: ``(y1 - y0, x1 - x0[, C])`` in the input's dtype, equal to Apply's there.
        seconds: since the request started.
        phase: ``"first"`` (middle of the view), ``"view"`` or ``"plane"`` (the rest).
    """

    box: Box
    data: np.ndarray
    seconds: float
    phase: str


def previews_whole(request: Request, shape_yx: tuple[int, int]) -> bool:
    """Whether the plane is restored at once rather than view first (its work counted in passes,
    :meth:`Request.passes`: a curve's several levels too)."""
    task = request.task
    work = shape_yx[0] * shape_yx[1] * request.passes()
    return work <= WHOLE_PLANE_PIXELS or task.resamples or is_image_conditioned(task)


def view_box(viewport: Box | None, shape_yx: tuple[int, int]) -> Box:
    """The displayed part of the plane (clipped; the whole plane when unknown or empty)."""
    h, w = shape_yx
    if viewport is None:
        return (0, h, 0, w)
    y0, y1, x0, x1 = (int(v) for v in viewport)
    y0, x0 = min(max(y0, 0), h), min(max(x0, 0), w)
    y1, x1 = min(max(y1, y0), h), min(max(x1, x0), w)
    return (0, h, 0, w) if y1 <= y0 or x1 <= x0 else (y0, y1, x0, x1)


def first_edge(passes: float) -> int:
    """Edge of the first crop for a task running ``passes`` networks per pixel (:meth:`Task.passes`):
    :data:`FIRST_TILE` for one, 3/8 of it (48 px) for more (the receptive field around the crop costs
    more than the crop). Measured on a 2048² plane, 512² view, 2 threads: gray 39 ms, colour as
    opponent planes 97–98 ms, in a sitting where gray took 63 ms (BENCHMARKS.md; a 40-px crop was no faster)."""
    return FIRST_TILE if passes <= 1.5 else FIRST_TILE * 3 // 8


def centre_box(view: Box, edge: int = FIRST_TILE) -> Box:
    """An ``edge``² box at the middle of ``view`` (smaller if the view is), starting on even pixels."""
    y0, y1, x0, x1 = view
    boxes = []
    for lo, hi in ((y0, y1), (x0, x1)):
        size = min(edge, hi - lo)
        start = max(lo, (lo + hi - size) // 2)
        start -= start % 2
        boxes += [start, min(hi, start + size)]
    return (boxes[0], boxes[1], boxes[2], boxes[3])


def with_margin(box: Box, margin: int, shape_yx: tuple[int, int], grid: int = 2) -> Box:
    """``box`` grown by ``margin`` on every side, clipped, its start rounded down to a multiple of
    ``grid`` (the networks' stride-2 head then sees the crop on the whole plane's grid)."""
    y0, y1, x0, x1 = box
    h, w = shape_yx
    top, left = max(0, y0 - margin), max(0, x0 - margin)
    return (top - top % grid, min(h, y1 + margin), left - left % grid, min(w, x1 + margin))


def restore_box(restorer, plane: np.ndarray, box: Box, request: Request, neutral: bool | None = None) -> np.ndarray:
    """``plane[box]`` restored as the whole plane would be there (a crop with the receptive field around it).
    ``neutral``: whether the whole plane is gray stored as colour (:func:`plane_is_neutral`; read here where not given),
    which decides for the crop as it does for Apply's plane."""
    y0, y1, x0, x1 = box
    cy0, cy1, cx0, cx1 = with_margin(box, restorer.context, plane.shape[:2], restorer.grid)
    crop = np.ascontiguousarray(plane[cy0:cy1, cx0:cx1])
    neutral = plane_is_neutral(plane, request) if neutral is None else neutral
    out = restorer.restore(crop, request.restore_level(), rgb=request.rgb, value_range=request.value_range, noise=request.noise,
                           neutral_as_gray=neutral)
    return out[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]


def plane_is_neutral(plane: np.ndarray, request: Request) -> bool:
    """Whether the displayed ``plane`` of ``request`` is colour with equal channels (restored as gray)."""
    return bool(request.rgb) and is_neutral_colour(plane[..., :3])


def grid_boxes(region: Box, edge: int, centre: tuple[float, float]) -> list[Box]:
    """``region`` cut into tiles of at most ``edge``² (starts on even pixels), the tiles nearest
    ``centre`` ``(y, x)`` first: what is looked at fills in first."""
    y0, y1, x0, x1 = region
    boxes = [
        (y, min(y + edge, y1), x, min(x + edge, x1))
        for y in range(y0 - y0 % 2, y1, edge)
        for x in range(x0 - x0 % 2, x1, edge)
    ]
    boxes = [(max(a, y0), b, max(c, x0), d) for a, b, c, d in boxes if b > max(a, y0) and d > max(c, x0)]
    return sorted(boxes, key=lambda b: ((b[0] + b[1]) / 2 - centre[0]) ** 2 + ((b[2] + b[3]) / 2 - centre[1]) ** 2)


def inside(box: Box, outer: Box) -> bool:
    """Whether ``box`` lies wholly in ``outer``."""
    return outer[0] <= box[0] and box[1] <= outer[1] and outer[2] <= box[2] and box[3] <= outer[3]


def preview_steps(cache: RestorerCache, request: Request) -> Iterator[PreviewTile | None]:
    """The preview of the displayed plane, view first; returns the whole plane as a :class:`Restored`.

    Yields :class:`PreviewTile`\\ s: the middle of the view, then the rest of the view, then the
    rest of the plane, each in tiles of at most :data:`REST_TILE`² nearest the middle first, so a
    worker asked to quit stops after any of them (the widget quits the running preview when the
    slider moves again) and the picture fills in as it goes. The whole plane is put together from
    the tiles (each restored with the receptive field around it: Apply's pixels), not restored a
    second time. Before, the view was one crop (a zoomed-out 4000×3000 photo: 105 s that no
    slider move could stop) and the rest of the plane was restored again, whole, and shown only at
    the end (a review; colour previews cost 2–3× Apply's time).

    A plane restored whole (small; or sr / auto, which need all of it) yields ``None`` between
    its tiles only when it has several (large planes), so a small one is always shown.
    """
    start = time.perf_counter()
    request = request.with_statistics()  # the whole layer's range (and noise fit): read here, off the GUI thread
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    shape_yx = plane.shape[:2]
    if previews_whole(request, shape_yx):
        steps = drain_restore_steps(restorer, plane, request, start)
        while True:
            try:
                done, total = next(steps)
            except StopIteration as end:
                return end.value
            if 0 < done < total:
                yield None  # between the tiles of a large sr / auto plane: a point to stop at (one tile runs to the end)
    view = view_box(request.viewport, shape_yx)
    centre = ((view[0] + view[1]) / 2, (view[2] + view[3]) / 2)
    first = centre_box(view, first_edge(request.passes()))
    result: np.ndarray | None = None
    neutral = plane_is_neutral(plane, request)  # once for the plane, not per tile

    def tile(box: Box, phase: str) -> PreviewTile:
        nonlocal result
        data = restore_box(restorer, plane, box, request, neutral)
        if result is None:
            result = np.empty(shape_yx + data.shape[2:], dtype=data.dtype)
        result[box[0] : box[1], box[2] : box[3]] = data
        return PreviewTile(box, data, time.perf_counter() - start, phase)

    yield tile(first, "first")
    for box in grid_boxes(view, REST_TILE, centre):
        if not inside(box, first):
            yield tile(box, "view")
    for box in grid_boxes((0, shape_yx[0], 0, shape_yx[1]), REST_TILE, centre):
        if not inside(box, view):
            yield tile(box, "plane")
    return Restored(result, time.perf_counter() - start, None)
