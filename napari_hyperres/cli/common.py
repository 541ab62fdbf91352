"""What the command line's subcommands share: exit codes, one-line errors, the progress line,
argument types."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import warnings
from typing import Callable, Iterator, TextIO

from ..core.arguments import whole_number  # noqa: F401 — the CLI modules take it from here
from ..errors import WeightsError

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def weights_status(task) -> tuple[bool, str]:
    """``(available, text)`` for a task's shipped weights, as the ``tasks`` listing shows it."""
    from ..core.weights import read_info, resolve_weights, training_hint

    hint = f"no weights yet: {training_hint(task.name)}"
    if task.weights is None:
        return False, hint
    try:
        path = resolve_weights(task.weights)
    except WeightsError:
        if not task.weights.endswith(".safetensors") and "/" not in task.weights and "\\" not in task.weights:
            return False, hint  # a shipped name that is not shipped (yet)
        return False, (
            f"its weights {task.weights!r} were not found (a relative path is read from the current folder: a plugin "
            "gives the absolute path of the file it ships, e.g. str(Path(__file__).parent / NAME))"
        )
    try:
        info = read_info(path)
    except WeightsError as exc:
        return False, f"its weights {task.weights!r} cannot be read: {exc}"
    if info.task not in task.accepted_weights:  # restore would refuse them: say so in the listing too
        return False, f"its weights {task.weights!r} are for task {info.task!r}, not {task.name!r}; train its own"
    return True, f"{task.weights} ({path.name})"


def one_line(exc: BaseException) -> str:
    """An exception's message on a single line (never empty)."""
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror and not exc.filename2 else str(exc)  # no "[Errno 17]"
    text = " ".join(str(message).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text


def folder_images(folder) -> list:
    """The images a folder run reads: files with a supported suffix, sorted, without hidden files
    (macOS writes ``._name.tif`` beside each file on other disks; they are not images). Subfolders
    are not searched; notes on stderr say how many were left (zarr stores, which are folders, aside), and
    which files of other types (.webp, .gif, text files) were skipped."""
    from ..io.chunked import is_zarr
    from ..io.files import is_readable

    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    subfolders = [p for p in entries if p.is_dir() and not is_zarr(p)]
    if subfolders:
        print(f"note: {folder}: {len(subfolders)} subfolder(s) not searched (e.g. {subfolders[0].name}); "
              "run each folder on its own", file=sys.stderr)
    skipped = sorted({p.suffix.lower() or "(no suffix)" for p in entries if p.is_file() and not is_readable(p)})
    if skipped:
        count = sum(p.is_file() and not is_readable(p) for p in entries)
        print(f"note: {folder}: {count} file(s) of a type this tool does not read were skipped ({', '.join(skipped)}); "
              "convert images among them to PNG or TIFF", file=sys.stderr)
    return sorted(p for p in entries if p.is_file() and is_readable(p))


def warning_printer(label: str | None = None) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints ``warning: [LABEL: ]message`` on stderr, one line,
    without Python's source-line echo."""
    prefix = f"warning: {label}: " if label else "warning: "
    return lambda message, category, *_, **__: print(f"{prefix}{message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def warnings_naming(label: str) -> Iterator[None]:
    """Warnings raised inside are printed at once as ``warning: LABEL: message``, each file's own
    (a folder run showed a mixed-noise warning once, for the first file, naming none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = warning_printer(label)
        yield


def is_tiff(path) -> bool:
    """Whether ``path`` names a TIFF file (by its suffix, any case)."""
    from ..io.files import TIFF_SUFFIXES

    return path.suffix.lower() in TIFF_SUFFIXES


def fitted_channel_axis(task, metadata, shape: tuple[int, ...], leading: int | None = None, ngff: dict | None = None) -> int | None:
    """The axis of an image of ``shape`` whose channels a photon-limited task fits on its own: the
    ``C`` axis that a file's metadata (:class:`~napari_hyperres.io.tiff_meta.TiffMetadata`) names, or
    the ``c`` axis of an OME-Zarr image's axes (``ngff``, :func:`~napari_hyperres.io.chunked.open_lazy`'s;
    an OME-Zarr of three detectors was fitted as one, 2–14 dB below each channel on its own: a review);
    ``None`` for other tasks, or where neither names one, or (with ``leading``, the number of
    axes before the planes: streamed pages, dask chunks) where it is not one of them."""
    if not task.noise_parameters:
        return None
    axis = metadata.channel_axis(tuple(shape)) if metadata is not None else None
    axes = list((ngff or {}).get("axes") or [])
    if axis is None and metadata is None and "c" in axes and len(axes) == len(shape) and shape[axes.index("c")] > 1:
        axis = axes.index("c")
    return None if axis is None or (leading is not None and axis >= leading) else axis


def lazy_parts(task, array, meta: dict, metadata) -> tuple[bool, int, int | None, list]:
    """``(rgb, leading axes, channel_axis, [(label, part), ...])`` of a lazily opened image (:func:`~napari_hyperres.io.chunked.open_lazy`'s
    ``array`` and ``meta``; ``metadata``: a TIFF's :class:`~napari_hyperres.io.tiff_meta.TiffMetadata` or ``None``):
    what restoring and estimating it chunk by chunk read, one part per channel a photon-limited task fits on its own."""
    from ..core.images import is_rgb_image

    rgb = is_rgb_image(tuple(array.shape), None) and (meta.get("axes") or ["c"])[-1] not in ("x", "y")  # NGFF's c is never last
    lead = array.ndim - (3 if rgb else 2)
    axis = fitted_channel_axis(task, metadata, tuple(array.shape), lead, meta)  # a photon task fits each channel, as in memory
    if axis is None:
        return rgb, lead, None, [("", array)]
    return rgb, lead, axis, [(f" channel {c}", array[(slice(None),) * axis + (c,)]) for c in range(array.shape[axis])]


def channel_parts(task, image, metadata) -> tuple[int | None, list]:
    """``(channel_axis, [(label, part), ...])``: what a photon-limited task fits and restores on its
    own in a file whose metadata names a channel axis (``C``: an ImageJ ``ZCYX`` hyperstack, gray
    channels stored as samples), one part per channel labelled ``" channel N"``; else the whole
    image as one part labelled ``""`` (other tasks: one intensity map and level for the file)."""
    from ..core.images import split_channels

    axis = fitted_channel_axis(task, metadata, image.shape)
    if axis is None:
        return None, [("", image)]
    return axis, [(f" channel {c}", part) for c, part in enumerate(split_channels(image, axis))]


def file_error(path, exc: BaseException) -> str:
    """``"PATH: message"`` for a file of a folder run, without naming the file twice when the
    message already does."""
    text = one_line(exc)
    return text if str(path) in text else f"{path}: {text}"


def finite_number(text: str) -> float:
    """A finite number for argparse (``--value-range BLACK WHITE``, ``--camera GAIN READ_NOISE OFFSET``: ``inf`` and ``nan`` map nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_value_range_argument(parser: argparse.ArgumentParser) -> None:
    """``--value-range BLACK WHITE``, shared by restore and estimate (the same level for the same file)."""
    parser.add_argument(
        "--value-range", nargs=2, type=finite_number, metavar=("BLACK", "WHITE"),
        help="values mapped to black and white (e.g. 0 4095 for 12-bit data in 16-bit files); default: 0 255 for "
        "8-bit data, else the image's own 0.1st and 99.9th percentiles (leave it out for microscopy)",
    )


def add_camera_argument(parser: argparse.ArgumentParser) -> None:
    """``--camera GAIN READ_NOISE OFFSET``, shared by restore and estimate (photon-limited tasks)."""
    parser.add_argument(
        "--camera", nargs=3, type=finite_number, metavar=("GAIN", "READ_NOISE", "OFFSET"), action="append",
        help="photon-limited tasks (microscopy): your camera's gain (counts per photo-electron), read noise "
        "(counts rms) and offset (counts at zero light), used instead of fitting them to each image "
        "(for images too dim or too bright for the fit); with --level auto the level is then read from them, "
        "with a level given it sets the strength. Once for every channel, or once per channel of a hyperstack, "
        "in the channels' order (two detectors: --camera 2.2 3.5 100 --camera 8 3 500)",
    )


def camera_noise(args: argparse.Namespace, task, channel: int = 0, channels: int | None = None):
    """The :class:`~napari_hyperres.core.photon_noise.PoissonGaussian` of ``--camera`` for ``channel`` of
    ``channels`` (one ``--camera``: for all; one per channel: the ``channel``-th), or ``None``. ``channels=None``
    (before any file is read): every camera checked; the camera where one was given, else ``None``.

    With ``--level auto`` the camera and the image's range set the level; with a level given by
    hand, that level sets the strength and the camera the rest (the noise of the background, the
    offset), as ``restore(..., level, noise=...)`` in Python (before, the two were refused
    together, while a message for a bright image advised both).

    Raises:
        ShapeError: ``--camera`` for a task without photon noise, or with a gain ≤ 0 / a negative read noise.
    """
    from ..core.photon_noise import PoissonGaussian
    from ..errors import ShapeError

    cameras = getattr(args, "camera", None)
    if not cameras:
        return None
    if not task.noise_parameters:
        raise ShapeError(f"--camera is for photon-limited tasks (such as microscopy); task {task.name!r} has one noise level")
    if channels is None:
        checked = [PoissonGaussian.checked_camera(*camera) for camera in cameras]
        return checked[0] if len(checked) == 1 else None
    if len(cameras) not in (1, channels):
        raise ShapeError(f"{len(cameras)} --camera given for {channels} channel(s): give one camera for all channels, "
                         "or one per channel in their order")
    return PoissonGaussian.checked_camera(*cameras[channel if len(cameras) > 1 else 0])


def with_camera(choice, args: argparse.Namespace, task, channel: int, channels: int):
    """A level ``choice`` given by hand (one for all channels) with ``channel``'s own ``--camera`` where one per
    channel was given (:func:`camera_noise`); else ``choice`` as it is."""
    import dataclasses

    camera = camera_noise(args, task, channel, channels)
    return choice if choice is None or camera is None else dataclasses.replace(choice, noise=camera)


def print_error(message: str, stream: TextIO | None = None) -> None:
    print(f"error: {message}", file=stream or sys.stderr, flush=True)


class ProgressLine:
    """Progress of one file on stderr: a live percentage on a terminal; elsewhere (a log, a pipe)
    a line every :data:`LOG_EVERY_S` seconds for a long file, and one summary line at the end."""

    LOG_EVERY_S = 30.0
    """Seconds between progress lines off a terminal (a 6000×4000 photo's 97 s said nothing until done)."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._shown = -1
        self._logged = self.start

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = int(100 * done / total)
        if not self.live:
            now = time.perf_counter()
            if now - self._logged >= self.LOG_EVERY_S and done < total:
                self._logged = now
                self.stream.write(f"{self.label}: {percent}% ({done}/{total} tiles, {now - self.start:.0f} s)\n")
                self.stream.flush()
            return
        if percent != self._shown:
            self._shown = percent
            self.stream.write(f"\r{self.label}: {percent:3d}% ({done}/{total} tiles)")
            self.stream.flush()

    def finish(self, message: str) -> None:
        if not self.enabled:
            return
        line = f"{self.label}: {message} ({time.perf_counter() - self.start:.1f} s)"
        if self.live:  # overwrite the percentage and clear what is left of it
            line = "\r" + line + "\x1b[K"
        self.stream.write(line + "\n")
        self.stream.flush()


def jpeg_quality(text: str) -> int:
    """``--jpeg-quality Q``: 1 to 100."""
    return whole_number(text, 1, too_small="a JPEG quality of 1-100", maximum=100)


def worker_count(text: str) -> int:
    """``--workers N``: a whole number of worker processes, at least 1."""
    return whole_number(text, 1, "worker processes", "at least 1 worker")


def tile_size(text: str) -> int:
    """``--tile N``: a whole number of pixels, at least :data:`~napari_hyperres.engine.tiling.MIN_TILE`."""
    from ..engine.tiling import MIN_TILE

    return whole_number(text, MIN_TILE, "pixels", f"a tile of at least {MIN_TILE} pixels")


def add_model_arguments(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """``--weights`` and ``--device``, shared by the subcommands that run a network."""
    parser.add_argument("--weights", help=weights_help)
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps (default: auto)")


# --- tasks ------------------------------------------------------------------------------------------
