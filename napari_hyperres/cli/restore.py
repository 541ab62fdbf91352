"""``napari-hyperres restore IN OUT``: files and folders, streamed TIFF stacks, "auto" levels."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
from functools import partial
from pathlib import Path

from ..core.atomic import check_writable_folder, file_in_the_way
from ..core.devices import PRECISIONS
from ..errors import HyperResError, MissingWeightsError, ShapeError
from ..io.files import JPEG_QUALITY
from .common import (
    EXIT_ERROR,
    EXIT_OK,
    ProgressLine,
    add_camera_argument,
    add_model_arguments,
    add_value_range_argument,
    camera_noise,
    channel_parts,
    file_error,
    fitted_channel_axis,
    folder_images,
    is_tiff,
    jpeg_quality,
    lazy_parts,
    print_error,
    tile_size,
    warnings_naming,
    weights_status,
    with_camera,
    worker_count,
)


def add_restore_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="restore an image file, or every image in a folder",
        description=(
            "Restore IN at a degradation level and write OUT. IN is an image file (TIFF, PNG, JPEG, BMP), "
            "a zarr / OME-Zarr store (.zarr), or a folder: then OUT is a folder and every supported image in IN "
            "is restored under the same name. OUT keeps the input's dtype; its format follows OUT's suffix "
            "(.zarr: an OME-Zarr image written chunk by chunk). Zarr stores and TIFF pages larger than "
            "--memory-budget are restored chunk by chunk, optionally on a dask.distributed cluster (--workers, --cluster)."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder of images")
    parser.add_argument("output", metavar="OUT", type=Path, help="output file (or folder when IN is a folder)")
    parser.add_argument("--task", required=True, help="task name (see `napari-hyperres tasks`), e.g. denoise")
    parser.add_argument(
        "--level", default=None,
        help="degradation level in the task's unit, e.g. 25 (σ) for denoise, or 'auto' to estimate it per file "
        "(JPEG files: read from their quantisation tables), or 'by-brightness' (denoise) for noise that differs "
        "between dark and bright parts, as a camera's does: each pixel at the level read for its brightness; "
        "not needed for the auto task",
    )
    add_model_arguments(parser, weights_help="weights file or shipped name (default: the task's shipped weights)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="what the network computes in: auto (float16 on CUDA, bfloat16 on CPUs where it is measured faster "
        "such as AMD Zen 4: about 2× faster, ≤ 0.01 dB from float32; else float32), "
        "or float32 for the validation tables' numbers exactly (default: auto, or $NAPARI_HYPERRES_PRECISION)",
    )
    parser.add_argument("--tile", type=tile_size, help="tile edge in pixels (default: tile only planes above 1024×1024)")
    add_value_range_argument(parser)
    add_camera_argument(parser)
    parser.add_argument(
        "--self-ensemble", action="store_true",
        help="average the network over the 8 rotations and mirror images of the image: a little better "
        "(denoise Set12 +0.06 to +0.08 dB), 8× slower",
    )
    parser.add_argument(
        "--jpeg-quality", type=jpeg_quality, default=None, metavar="Q",
        help=f"quality of JPEG outputs, 1-100 (default: {JPEG_QUALITY}, colour with full-resolution chroma); "
        "a JPEG output is compressed again: .png or .tif keep every restored pixel",
    )
    parser.add_argument(
        "--float-output", action="store_true",
        help="write float32 TIFFs: the restored values in the input's units, not rounded to its whole counts (very dim "
        "photon counts: uint16 holds only a few levels there); the level and noise are read from the input as it is",
    )
    written = parser.add_mutually_exclusive_group()
    written.add_argument("--overwrite", action="store_true", help="replace existing output files (never the input)")
    written.add_argument(
        "--skip-existing", action="store_true",
        help="leave outputs that exist alone and restore the other files: run the same command again after an "
        "interruption, or beside another run into the same folder",
    )
    parser.add_argument(
        "--memory-budget", type=float, default=1024, metavar="MB",
        help="TIFF stacks larger than this are streamed plane by plane to a TIFF OUT instead of loaded whole (default: 1024)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=worker_count, metavar="N",
                         help="restore chunk by chunk on a local dask.distributed cluster of N worker processes")
    cluster.add_argument("--cluster", metavar="ADDRESS", help="restore chunk by chunk on this dask.distributed scheduler (tcp://host:8786)")
    parser.set_defaults(run=run_restore)


def restore_jobs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` file pairs for ``restore``; a folder maps to a folder, same names.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ShapeError: unsupported suffix, a folder with no supported image, or a folder written onto itself.
    """
    from ..io.chunked import is_zarr
    from ..io.files import READABLE_SUFFIXES, SUPPORTED_SUFFIXES, is_supported, output_name

    if not source.exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    if is_zarr(source) or is_zarr(target):  # a store is one image (a folder on disk)
        if target.is_dir() and not is_zarr(target):
            target = target / (source.stem + ".zarr")
        if not (is_zarr(target) or is_supported(target)):
            raise ShapeError(f"{target}: unsupported output type {target.suffix or '(no suffix)'!r}; expected .zarr or one of {', '.join(SUPPORTED_SUFFIXES)}")
        return [(source, target)]
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise ShapeError(f"{target} is a file; when IN is a folder, OUT must be a folder")
        if target.resolve() == source.resolve():
            raise ShapeError(f"OUT {target} is the input folder; restoring would overwrite the inputs, choose another folder")
        files = folder_images(source)
        if not files:
            raise ShapeError(f"{source}: no images with a supported suffix ({', '.join(READABLE_SUFFIXES)})")
        jobs = [(p, target / output_name(p)) for p in files]
        check_one_input_per_output(jobs)
        return jobs
    if target.is_dir():
        target = target / output_name(source)
    if not is_supported(target):
        raise ShapeError(f"{target}: unsupported output type {target.suffix or '(no suffix)'!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    return [(source, target)]


def check_one_input_per_output(jobs: list[tuple[Path, Path]]) -> None:
    """Refuse, before any work, a folder run in which two inputs would be written to one output (``photo.png``
    and ``photo.webp``: a WebP's output is PNG). The second failed as "exists … made by an earlier run", and
    ``--skip-existing`` left it unrestored in silence (a review)."""
    first: dict[str, Path] = {}
    for src, dst in jobs:
        key = str(dst).casefold()  # photo.png and Photo.webp are one file on macOS's and Windows' disks
        if key in first:
            raise ShapeError(f"{first[key].name} and {src.name} would both be written to {dst}: rename one of them, or restore "
                             "them into different folders")
        first[key] = src


def check_targets(
    jobs: list[tuple[Path, Path]], overwrite: bool, skip_existing: bool = False, quiet: bool = False
) -> list[tuple[Path, Path]]:
    """Refuse to write onto an input, into a folder that cannot be written, or onto an existing
    file without ``overwrite``, before any work; returns the jobs to run (``skip_existing``: those
    whose output does not exist yet)."""
    inputs = {src.resolve() for src, _ in jobs}
    for src, dst in jobs:
        blocking = file_in_the_way(dst)
        if blocking is not None:
            raise ShapeError(f"cannot write {dst}: {blocking} is a file, not a folder; choose another OUT")
        if dst.resolve() in inputs or (dst.exists() and os.path.samefile(src, dst)) or src.resolve() in dst.resolve().parents:
            raise ShapeError(f"{dst} is an input file; refusing to overwrite it, choose another OUT")
    for folder in output_folders(jobs):
        check_writable_folder(folder)  # a read-only disk refused now, not after restoring every file
    existing = [(src, dst) for src, dst in jobs if dst.exists()]
    if overwrite:
        foreign = [(dst, why) for src, dst in existing if (why := not_its_output(dst, src))]
        if foreign:
            more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
            raise ShapeError(
                f"{foreign[0][0]} exists and {foreign[0][1]}{more}: --overwrite replaces only this program's outputs of "
                "the same input (a shell glob that matched two files puts the second where OUT goes). Move or delete "
                "it yourself if it should go"
            )
    if skip_existing:
        unlike = [dst for src, dst in existing if not_its_output(dst, src)]
        if unlike and not quiet:  # left alone, but named: an empty file or a raw copy is no finished output
            names = ", ".join(dst.name for dst in unlike[:3]) + (f" and {len(unlike) - 3} more" if len(unlike) > 3 else "")
            print(f"note: of the outputs left as they are, {len(unlike)} are not this program's outputs of their input "
                  f"(empty, raw, or from another file): {names}; move them away to restore them", file=sys.stderr)
        return [(src, dst) for src, dst in jobs if not dst.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more exist" if len(existing) > 1 else " already exists"
        raise ShapeError(f"{existing[0][1]}{more}; pass --overwrite to replace, or --skip-existing to restore only the "
                         "files whose output is missing (after an interruption)")
    return jobs


def not_its_output(path: Path, source: Path) -> str | None:
    """Why the existing ``path`` is not this program's output of ``source`` (``None`` where it is): it carries
    no record (:func:`~napari_hyperres.io.provenance.read_provenance`; formats with no place for one, such as
    BMP, cannot show they are outputs), or its record names another input file."""
    from ..io.provenance import read_provenance

    made = read_provenance(path)
    if made is None:
        return ("carries no napari-hyperres record (a raw image, an empty file, an output of a version before 2026-12-07, "
                f"or a {path.suffix or 'suffix-less'} file, which cannot hold one)")
    if made.get("source_file") not in (None, source.name):
        return f"records it was restored from {made['source_file']}, not {source.name}"
    return None


def output_folders(jobs: list[tuple[Path, Path]]) -> list[Path]:
    """The folders the outputs of ``jobs`` (``(input, output)`` pairs) go into, each once, sorted."""
    return sorted({dst.parent for _, dst in jobs})


def run_restore(args: argparse.Namespace) -> int:
    from ..blind.brightness import check_follows_brightness, is_by_brightness
    from ..blind.levels import is_auto, resolve_level
    from ..core.plugins import get_task
    from ..engine import Restorer

    task = get_task(args.task)
    auto_level = is_auto(args.level) or is_by_brightness(args.level)  # found per file
    if is_by_brightness(args.level):
        check_follows_brightness(task)
    if args.level is None and task.conditioning != "image":
        raise ShapeError(f"task {task.name!r} needs --level ({task.unit}, {task.level_range[0]:g}-{task.level_range[1]:g}) or --level auto")
    if auto_level or (args.level is not None and task.conditioning == "image"):
        task.check_auto()  # before any work; an image-conditioned task takes no level at all
    noise = camera_noise(args, task)  # --camera checked before any work (each file reads it again: its noise, not fitted)
    given = None if auto_level else resolve_level(task, args.level, noise=noise)  # the one check of a given level
    jobs = restore_jobs(args.input, args.output)
    todo = check_targets(jobs, args.overwrite, args.skip_existing, args.quiet)
    if len(todo) < len(jobs) and not args.quiet:
        print(f"note: {len(jobs) - len(todo)} of {len(jobs)} outputs exist and are left as they are (--skip-existing)", file=sys.stderr)
    jobs = todo
    if not jobs:
        return EXIT_OK
    available, status = weights_status(task)
    if args.weights is None and not available:
        raise MissingWeightsError(f"task {task.name!r}: {status}; pass a weights file with --weights FILE")
    if args.float_output and any(not is_tiff(dst) for _, dst in jobs):
        raise ShapeError("--float-output writes float32 TIFFs: give OUT a .tif suffix (or a folder)")
    restorer = Restorer(task, weights=args.weights, device=args.device, precision=args.precision, self_ensemble=args.self_ensemble)
    notes = [] if args.quiet else output_notes(task, jobs, args)  # said once a file is written: never before a refusal
    value_range = tuple(args.value_range) if args.value_range else None
    failed = 0
    budget = int(args.memory_budget * 2**20)
    cluster_used = bool(args.workers or args.cluster) and any(could_use_cluster(src, dst, budget) for src, dst in jobs)
    if (args.workers or args.cluster) and not cluster_used:
        print("note: --workers / --cluster restore TIFF and zarr files chunk by chunk; these files are "
              "restored whole in this process, without a cluster", file=sys.stderr)
    with cluster_client(args if cluster_used else None) as client:
        for src, dst in jobs:
            try:
                if args.skip_existing and dst.exists():  # written meanwhile by a run beside this one: its work, not redone
                    raise FileExistsError(dst)
                with warnings_naming(src.name):  # each file's warnings, named
                    restore_job(restorer, src, dst, given, args, value_range, budget, client)
                if notes:
                    print("\n".join(notes), file=sys.stderr)
                    notes = []
            except (HyperResError, OSError) as exc:
                if args.skip_existing and isinstance(exc, FileExistsError):  # before it, or at atomic_write's final check
                    if not args.quiet:
                        print(f"note: {dst} was written meanwhile by another run: left as it is", file=sys.stderr)
                    continue
                if len(jobs) == 1:
                    raise
                failed += 1
                print_error(file_error(src, exc))
    if failed:
        print_error(f"all {failed} files failed" if failed == len(jobs) else f"{failed} of {len(jobs)} files failed; the others were written")
        return EXIT_ERROR
    return EXIT_OK


def restore_job(restorer, src: Path, dst: Path, given, args: argparse.Namespace, value_range, budget: int, client) -> None:
    """One file: chunk by chunk (zarr, a huge TIFF page, a cluster), streamed page by page (a TIFF
    stack above the memory budget), or in memory."""
    from ..io.streaming import should_stream

    chunked = chunked_job(src, dst, budget, on_cluster=client is not None)
    streamed = not chunked and is_tiff(dst) and should_stream(src, budget)
    if args.float_output and (chunked or streamed):
        raise ShapeError(f"{src}: --float-output restores files in memory; raise --memory-budget above the file's size")
    if chunked:
        restore_chunked(restorer, src, dst, given, args, value_range, client)
    elif streamed:
        stream_one(restorer, src, dst, given, args, value_range)
    else:
        restore_file(restorer, src, dst, given, args, value_range)


def output_notes(task, jobs: list[tuple[Path, Path]], args: argparse.Namespace) -> list[str]:
    """What a user should know before the run: a JPEG output is compressed again; ``sr`` on a JPEG
    file enlarges its blocks too (``dejpeg`` first removes them: +2 dB on a q40 photo)."""
    from ..core.jpeg_quality import JPEG_SUFFIXES
    from ..core.tasks.sr import SR_ON_JPEG

    notes = [f"note: made the folder {folder}" for folder in output_folders(jobs) if not folder.exists()]
    jpeg_out = sum(dst.suffix.lower() in JPEG_SUFFIXES for _, dst in jobs)
    if jpeg_out:
        quality = args.jpeg_quality or JPEG_QUALITY
        notes.append(f"note: {jpeg_out} output(s) written as JPEG, compressed again at quality {quality} "
                     "(--jpeg-quality); .png or .tif keep every restored pixel")
    elif args.jpeg_quality is not None:
        notes.append("note: --jpeg-quality applies to .jpg outputs only; these outputs are not JPEG")
    if task.noise_parameters and args.value_range:  # a review: 0 4095 on a 12-bit frame at 100-300 counts, −1.2 dB, no word
        notes.append(f"note: --value-range with {task.name!r} sets the black and white the photons are counted between: give "
                     "the camera's offset and the brightest signal, or leave it out to use the data's own; a range much "
                     "wider than the data (0 4095 on a frame at 100–300 counts) restores it worse (−1.2 dB measured)")
    jpeg_in = sum(src.suffix.lower() in JPEG_SUFFIXES for src, _ in jobs)
    if task.name == "sr" and jpeg_in:
        how = "--task dejpeg --level auto into other files, then sr on those"
        notes.append(f"note: {jpeg_in} input(s) are JPEG files: {SR_ON_JPEG.format(how=how)}")
    return notes


def restore_file(restorer, src: Path, dst: Path, given, args: argparse.Namespace, value_range) -> None:
    """Restore one file in memory (errors raise). A photon-limited task restores each channel of
    a TIFF whose axes name one (``C``, e.g. an ImageJ ZCYX hyperstack) with its own noise fit:
    detectors differ in gain and offset from channel to channel."""
    import numpy as np

    from ..blind.levels import resolve_level
    from ..core.images import is_rgb_image
    from ..core.intensity import check_dtype
    from ..engine import output_shape
    from ..io.exif import output_exif
    from ..io.files import check_writable, read_image, reads_upright, write_image
    from ..io.icc import read_icc_profile
    from ..io.tiff_meta import read_tiff_metadata

    restorer = restorer.with_task(restorer.task.for_file(src))  # a 4:4:4 JPEG's chroma at full resolution
    task = restorer.task
    image = read_image(src)
    check_dtype(np.dtype(image.dtype))  # the input's dtype before the output's format (a bool TIFF was sent round in circles)
    metadata = read_tiff_metadata(src) if is_tiff(src) else None
    channel_axis, parts = channel_parts(task, image, metadata)
    results, used_levels, used_noise, used_methods = [], [], [], []
    for c, (label, part) in enumerate(parts):
        naming = warnings_naming(f"{src.name}{label}") if label else contextlib.nullcontext()  # which channel warned
        with naming:
            choice = with_camera(given, args, task, c, len(parts)) or resolve_level(
                task, args.level, part, path=src, device=args.device, value_range=value_range,
                noise=camera_noise(args, task, c, len(parts)),
            )
            if given is None and not args.quiet:
                print(f"{src.name}{label}: {choice.describe(task)}", file=sys.stderr)
            level = choice.to_restore
            out_dtype = np.float32 if args.float_output else image.dtype
            if part.ndim >= 2 and not results:  # the engine reports bad shapes; check the output format first
                check_writable(dst, output_shape(task, image.shape, choice.level, is_rgb_image(image.shape, None)), out_dtype)
            progress = ProgressLine(f"{src.name}{label}", enabled=not args.quiet)
            part_range, noise = value_range, choice.noise
            if args.float_output:  # read as the file holds it (its range, its fit and saturation), restored as floats
                part_range, noise, part = as_float_input(task, part, value_range, noise)
            result, report = restorer.restore_with_report(
                part, level, tile=args.tile, progress=progress, value_range=part_range, noise=noise
            )
            results.append(result)
            used_levels.append(level)
            used_noise.append(report.noise)
            used_methods.append(choice.method)
            if len(results) < len(parts):
                progress.finish(describe_run(restorer, level, report))
    result = results[0] if channel_axis is None else np.stack(results, axis=channel_axis)
    if task.noise_parameters and not args.float_output and not args.quiet:
        note = terraced_note(result)
        if note:
            print(f"note: {src.name}: {note}", file=sys.stderr)
    photo = None if is_tiff(src) else output_exif(src, image.shape, result.shape, turned=reads_upright(src))
    write_image(
        dst, result, tiff_metadata=metadata if is_tiff(dst) else None, icc_profile=read_icc_profile(src),
        photo=photo, jpeg_quality=args.jpeg_quality or JPEG_QUALITY, overwrite=args.overwrite,
        provenance=output_record(restorer, src, used_levels, used_noise, used_methods),
    )
    progress.finish(f"{describe_run(restorer, level, report)} -> {dst}")  # once written: a failed write says only its error


TERRACED_LEVELS = 32
"""Fewer distinct values than this in an integer output of a photon-limited task: the CLI suggests
``--float-output`` (:func:`terraced_note`)."""


def terraced_note(result) -> str | None:
    """What to say of an integer restoration holding fewer than :data:`TERRACED_LEVELS` distinct
    values (a few photons per pixel: whole counts are a few steps apart), else ``None``. A review's
    3-photon frame came out with 9 values, and scored 2.8 dB higher with ``--float-output``."""
    import numpy as np

    if not np.issubdtype(result.dtype, np.integer):
        return None
    sample = result.ravel()[:: max(1, result.size // 2**20)]
    distinct = np.unique(sample).size
    if distinct >= TERRACED_LEVELS:
        return None
    return (f"the restored {result.dtype} holds only {distinct} distinct values (a few photons per pixel, or a camera "
            "of less than one count per photo-electron: terraces of whole counts); --float-output writes the restored values unrounded, as float32 "
            "(+2.4 dB at 4 photons peak, README 'Microscopy')")


def as_float_input(task, part, value_range, noise):
    """``(value_range, noise, float32 part)`` for ``--float-output``: the intensity map and, for a
    photon-limited task, the Poisson–Gaussian fit (with its saturation level) read from ``part`` as
    the file holds it, so that its float32 copy restores to the same values, unrounded."""
    import numpy as np

    from ..blind.photon_fit import given_noise_on, sampled_planes
    from ..core.images import is_rgb_image
    from ..engine import whole_noise, whole_value_range

    rgb = is_rgb_image(part.shape, None)
    counts = bool(task.noise_parameters)
    part_range = value_range or whole_value_range(part, rgb, counts=counts)
    if counts and noise is None:
        noise = whole_noise(part, rgb, task.name)
    elif counts:  # a camera given: checked on the counts as the file holds them (the float copy is read as a part)
        noise = given_noise_on(noise, sampled_planes(part), *part_range)
    return part_range, noise, part.astype(np.float32)


@contextlib.contextmanager
def cluster_client(args: argparse.Namespace | None):
    """A dask.distributed client for ``--workers N`` (a local cluster of N worker processes, one
    thread each) or ``--cluster ADDRESS`` (an existing scheduler), else (or for ``args=None``)
    ``None``. While it is open, dask computations run on its workers (the Restorer travels to
    them with the graph)."""
    if args is None or not (args.workers or args.cluster):
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ShapeError('--workers and --cluster need dask.distributed: pip install "napari-hyperres[distributed]"') from None
    if args.cluster:
        with Client(args.cluster) as client:
            yield client
        return
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            try:
                yield client
            except (KeyboardInterrupt, SystemExit):
                # the workers are being stopped on purpose: their shutdown tracebacks are no news (a review got
                # ~98 lines of them above the one "interrupted" line)
                import logging

                for name in ("distributed", "tornado"):
                    logging.getLogger(name).setLevel(logging.CRITICAL)
                raise


def could_use_cluster(src: Path, dst: Path, budget: int) -> bool:
    """Whether this job would run on a cluster if there were one; an unreadable file would not
    (it is reported when its turn comes, and the other files are written)."""
    try:
        return chunked_job(src, dst, budget, on_cluster=True)
    except (HyperResError, OSError):
        return False


def chunked_job(src: Path, dst: Path, budget: int, on_cluster: bool) -> bool:
    """Whether to restore chunk by chunk: a zarr store in or out, a single TIFF page above the
    memory budget, or any TIFF-to-TIFF job on a cluster."""
    from ..io.chunked import is_zarr
    from ..io.streaming import huge_single_page

    if is_zarr(src) or is_zarr(dst):
        return True
    if not is_tiff(src):
        return False
    return huge_single_page(src, budget) or (on_cluster and is_tiff(dst))


def restore_chunked(restorer, src: Path, dst: Path, given, args: argparse.Namespace, value_range, client) -> None:
    """Restore ``src`` lazily (dask, chunks overlapping by the receptive field) into a zarr store,
    a tiled TIFF, or (small enough) any other format; on ``client``'s workers when given."""
    import warnings

    import dask.array as da

    from ..blind.levels import resolve_level
    from ..engine import stack_sample
    from ..io.chunked import (
        is_zarr,
        ome_image,
        open_lazy,
        regular_chunks,
        write_tiled_tiff,
        write_zarr,
    )
    from ..io.tiff_meta import read_tiff_metadata

    # dask's advice on each computation that ships the source array to the workers ("Sending large graph …
    # load the data with Dask directly"): five lines per plane or tile row in a review's run, nothing a user can act on
    warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
    task = restorer.task
    array, meta = open_lazy(src, chunk=args.tile or 1024)
    metadata = read_tiff_metadata(src) if is_tiff(src) else None
    if metadata is not None and not meta:
        meta = metadata.ngff()  # a zarr output names the file's axes and keeps its voxel size
    rgb, lead, axis, parts = lazy_parts(task, array, meta, metadata)
    restored_parts, levels, noises, methods = [], [], [], []
    for c, (label, part) in enumerate(parts):
        choice = with_camera(given, args, task, c, len(parts))
        if choice is None:
            sample = stack_sample(part, lead - (axis is not None))
            choice = resolve_level(task, args.level, sample, device=args.device, value_range=value_range,
                                   noise=camera_noise(args, task, c, len(parts)))
            if not args.quiet:
                print(f"{src.name}{label}: {choice.describe(task)}, from sampled planes", file=sys.stderr)
        levels.append(choice.to_restore)
        noises.append(choice.noise)
        methods.append(choice.method)
        restored_parts.append(
            restorer.restore_lazy(part, choice.to_restore, tile=args.tile, rgb=rgb, value_range=value_range, noise=choice.noise)
        )
    restored = restored_parts[0] if axis is None else da.stack(restored_parts, axis=axis)
    provenance = output_record(restorer, src, levels, noises, methods)
    workers = len(client.scheduler_info()["workers"]) if client is not None else 0
    where = f" on {workers} worker{'s' if workers != 1 else ''}" if client is not None else ""
    label = f"{src.name} (chunk by chunk{where})"
    run = partial(compute_with_progress, client=client, quiet=args.quiet)
    if not args.quiet:
        print(f"{label}:", file=sys.stderr, flush=True)  # dask's bars name nothing: which file of a folder run
    if is_zarr(dst):
        image, ome = ome_image(restored, rgb, meta, src.stem, source_shape=tuple(array.shape))
        write_zarr(regular_chunks(image), dst, ome=ome, compute=run, overwrite=args.overwrite, provenance=provenance)
    elif is_tiff(dst):
        options = metadata.write_options(tuple(restored.shape), restored.dtype) if metadata is not None else {}
        spatial = restored.ndim - (3 if rgb else 2)
        plane_bytes = math.prod(restored.shape[spatial:]) * restored.dtype.itemsize
        if plane_bytes > args.memory_budget * 2**20:  # a plane above the budget is written in tiles, which ImageJ's format has not
            options.pop("imagej", None)
        write_tiled_tiff(restored, dst, compute=run, options=options, overwrite=args.overwrite, provenance=provenance)
    else:
        from ..io.files import write_image

        write_image(dst, run(restored), jpeg_quality=args.jpeg_quality or JPEG_QUALITY, overwrite=args.overwrite, provenance=provenance)
    if not args.quiet:
        print(f"{label}: {describe_levels(restorer, levels)} -> {dst}", file=sys.stderr)


def compute_with_progress(work, *, client=None, quiet: bool = False):
    """Compute a dask collection with a progress bar on stderr: dask.distributed's when on a
    cluster, dask's own otherwise. Returns the computed value. (The caller names the file once,
    above the bars: a tiled or plane-by-plane write computes many times.)"""
    if client is not None:
        future = client.compute(work)
        if not quiet:
            from distributed.diagnostics.progressbar import progress

            progress(future)
        return future.result()
    from dask.diagnostics import ProgressBar

    if quiet:
        return work.compute()
    with ProgressBar(out=sys.stderr):
        return work.compute()


def stream_one(restorer, src: Path, dst: Path, given, args: argparse.Namespace, value_range) -> None:
    """Restore one large TIFF stack page by page (:mod:`napari_hyperres.io.streaming`) at the
    ``given`` :class:`~napari_hyperres.blind.levels.LevelChoice`, or one found from its sampled pages:
    for a photon-limited task, each channel's own (:func:`~napari_hyperres.cli.common.fitted_channel_axis`),
    as in memory."""
    import tifffile

    from ..blind.levels import resolve_level
    from ..core.images import is_rgb_image
    from ..engine import whole_noise
    from ..io.streaming import channel_pages, page_sample, stream_restore_tiff, tiff_layout
    from ..io.tiff_meta import read_tiff_metadata

    task = restorer.task
    shape, _, pages = tiff_layout(src)
    lead_shape = shape[: len(shape) - (3 if is_rgb_image(shape, None) else 2)]  # the stack's pages
    axis = fitted_channel_axis(task, read_tiff_metadata(src), shape, len(lead_shape))
    groups = channel_pages(lead_shape, axis)
    choices = [with_camera(given, args, task, c, len(groups)) for c in range(len(groups))]
    if given is None:
        with tifffile.TiffFile(src) as tif:
            for c, group in enumerate(groups):
                sample = page_sample(tif, pages, group)
                choices[c] = resolve_level(task, args.level, sample, device=args.device, value_range=value_range,
                                           noise=camera_noise(args, task, c, len(groups)))
                if not args.quiet:
                    label = "" if axis is None else f" channel {c}"
                    print(f"{src.name}{label}: {choices[c].describe(task)}, from {len(sample)} sampled pages", file=sys.stderr)
    if task.noise_parameters and any(choice.noise is None for choice in choices):  # a level given: the fit its pages
        with tifffile.TiffFile(src) as tif:  # settle on, recorded as in memory (a diff review: none was)
            choices = [choice if choice.noise is not None else
                       dataclasses.replace(choice, noise=whole_noise(page_sample(tif, pages, group), False, task.name))
                       for choice, group in zip(choices, groups, strict=True)]
    levels = [choice.to_restore for choice in choices]
    progress = ProgressLine(f"{src.name} (streaming)", enabled=not args.quiet)
    stream_restore_tiff(
        src, dst, restorer, levels, tile=args.tile, value_range=value_range, noise=[choice.noise for choice in choices],
        progress=progress, channel_axis=axis, overwrite=args.overwrite,
        provenance=output_record(restorer, src, levels, [choice.noise for choice in choices], [choice.method for choice in choices]),
    )
    progress.finish(f"{describe_levels(restorer, levels)} -> {dst}")


def output_record(restorer, src: Path, levels: list, noises: list | None = None, methods: list | None = None) -> dict:
    """How an output of ``src`` was made, for the file itself (:mod:`napari_hyperres.io.provenance`): task,
    level (one per channel where channels had their own) and where it came from (``level_from``: "given",
    the fit or the camera it was read from, the estimator), unit, weights (name and steps), the precision the
    network computed in, the self-ensemble, the data's noise model (photon tasks: the fit or the camera given; with the level it gives the restoration), the input file's name."""
    from ..blind.brightness import LevelCurve
    from ..io.provenance import record

    task, info = restorer.task, restorer.info
    values = [None if task.conditioning == "image" else float(level.level if isinstance(level, LevelCurve) else level) for level in levels]
    noise = [n.describe() for n in (noises or []) if n is not None]
    level_from = [str(m) for m in (methods or []) if m]
    return record(
        task=task.name, level=values[0] if len(values) == 1 else values, unit=task.unit,
        by_brightness=True if any(isinstance(level, LevelCurve) for level in levels) else None,
        weights=info.name, weights_steps=info.steps or None, precision=str(restorer.dtype).removeprefix("torch."),
        self_ensemble=True if restorer.self_ensemble else None, noise=(noise[0] if len(noise) == 1 else noise) or None,
        level_from=(level_from[0] if len(level_from) == 1 else level_from) or None, source_file=src.name,
    )


def describe_levels(restorer, levels: list) -> str:
    """:func:`describe_run` for one level per channel: the first channel's, saying the others had
    their own where they differ (``microscopy 433.7 photons (channel 0; each channel its own)``)."""
    described = [describe_run(restorer, level) for level in levels]
    return described[0] + (" (channel 0; each channel its own)" if len(set(described)) > 1 else "")


def describe_run(restorer, level, report=None) -> str:
    """``denoise 25`` / ``microscopy 61.3 photons`` (``, 8 passes`` with the self-ensemble); an
    image-conditioned task says what the image looked like to it when its weights record
    reference mixtures (the first plane of a stack); a level by brightness (a
    :class:`~napari_hyperres.blind.brightness.LevelCurve`) says its span and restorations."""
    task = restorer.task
    from ..blind.brightness import LevelCurve
    from ..engine.ensemble import DIHEDRAL_TRANSFORMS

    passes = f", {DIHEDRAL_TRANSFORMS} passes" if restorer.self_ensemble else ""
    if isinstance(level, LevelCurve):
        runs = level.levels_to_run(task)
        blended = f"{len(runs)} restorations blended" if len(runs) > 1 else "one restoration"
        return f"{task.name} by brightness, {min(level.levels):.3g}–{max(level.levels):.3g} ({blended}){passes}"
    if task.conditioning == "image":
        from ..blind.mixtures import read_selections

        readings = read_selections(report.selections, restorer.info.extra or {}) if report is not None else None
        if readings:
            planes = f" (first of {len(readings)} planes)" if len(readings) > 1 else ""
            return f"{task.name}: {readings[0].describe()}{planes}{passes}"
        return f"{task.name} (weights chosen from the image){passes}"
    note = restorer.info.extrapolation(level, task.unit)
    return f"{task.name} {level:.4g}" + (f" {task.unit}" if task.noise_parameters else "") + passes + (f" ({note})" if note else "")
