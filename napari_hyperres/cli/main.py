"""Command line: ``python -m napari_hyperres`` (also installed as ``napari-hyperres``).

Subcommands::

    napari-hyperres tasks
    napari-hyperres restore IN OUT --task denoise --level 25|auto [--weights W] [--device auto]
                                   [--tile N] [--value-range BLACK WHITE] [--overwrite | --skip-existing] [--quiet]
    napari-hyperres estimate IN --task denoise [--weights W] [--device auto]
    napari-hyperres weights

Every subcommand is registered by a small ``add_*_command(subparsers)`` function
listed in :data:`COMMANDS`; it adds its parser and sets ``run=`` to a function
``run(args) -> exit code``. Errors the package raises on purpose
(:class:`~napari_hyperres.errors.HyperResError`) and file errors end the program
with exit code 2 and one line ``error: ...`` on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Callable

from ..errors import HyperResError, ShapeError
from .common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_camera_argument,
    add_model_arguments,
    add_value_range_argument,
    camera_noise,
    channel_parts,
    file_error,
    folder_images,
    is_tiff,
    lazy_parts,
    one_line,
    print_error,
    warning_printer,
    warnings_naming,
    weights_status,
)
from .export import add_export_command
from .restore import add_restore_command

Command = Callable[["argparse._SubParsersAction"], None]


def add_tasks_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list the installed restoration tasks",
        description="List every registered task (built-in and from installed plugins) with its level range and weights.",
    )
    parser.set_defaults(run=run_tasks)


def level_from_image(task) -> str:
    """What ``--level`` words a task takes besides a number, for the ``tasks`` table."""
    if task.conditioning == "image":
        return "none: it takes no level"
    if not task.level_from_image:
        return "no: give a number"
    if task.noise_parameters:
        return "auto (noise fit)"
    from ..blind.estimate import has_estimator

    if not has_estimator(task):  # a plugin's task before its estimator is trained
        return "auto (file only: no estimator yet)" if task.level_in_file is not None else "no estimator yet: give a number"
    words = "auto (file, else estimator)" if task.level_in_file is not None else "auto"
    return words + (", by-brightness" if task.level_follows_brightness else "")


def run_tasks(args: argparse.Namespace) -> int:
    from ..core.plugins import broken_plugins, get_tasks

    rows = [("name", "title", "unit", "levels", "default", "level from the image", "weights")]
    for task in get_tasks().values():
        low, high = task.level_range
        levels, default = ("—", "—") if task.conditioning == "image" else (f"{low:g}-{high:g}", f"{task.default_level:g}")
        rows.append((task.name, task.title, task.unit, levels, default, level_from_image(task), weights_status(task)[1]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    broken = broken_plugins()
    for whole, heading in ((True, "skipped plugins (broken; the tasks above work without them)"), (False, "tasks left out of plugins")):
        listed = [plugin for plugin in broken if plugin.whole == whole]
        if listed:
            print(f"\n{heading}:")
            for plugin in listed:
                print(f"  {plugin.describe()}")
    return EXIT_OK


# --- restore ----------------------------------------------------------------------------------------
# --- estimate ---------------------------------------------------------------------------------------
def add_estimate_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate the degradation level of image files (or each image in folders)",
        description=(
            "Print the degradation level of each IN in the task's unit, from the task's level estimator "
            "(dejpeg on a JPEG file: read exactly from its quantisation tables). "
            "Output: one line 'FILE<TAB>LEVEL<TAB>METHOD' per image ('FILE channel N' per channel of a TIFF "
            "whose axes name channels, for photon-limited tasks: each channel is fitted on its own, as restore does)."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, nargs="+", help="image files or folders of images")
    parser.add_argument("--task", required=True, help="task name (see `napari-hyperres tasks`), e.g. denoise")
    add_model_arguments(parser, weights_help="estimator weights file (default: the task's shipped '<task>.estimator')")
    add_value_range_argument(parser)
    add_camera_argument(parser)
    parser.add_argument(
        "--by-brightness", action="store_true",
        help="also print the level of each brightness band (tasks whose level follows brightness, e.g. denoise): "
        "what `restore --level by-brightness` would restore each part at",
    )
    parser.set_defaults(run=run_estimate)


def run_estimate(args: argparse.Namespace) -> int:
    from ..blind.brightness import check_follows_brightness
    from ..core.plugins import get_task
    from ..io.chunked import is_zarr
    from ..io.files import READABLE_SUFFIXES

    task = get_task(args.task)
    if task.conditioning == "image":
        raise ShapeError(f"task {task.name!r} has no level to estimate; restore with it directly")
    if args.by_brightness:
        check_follows_brightness(task)
    files = []
    for source in args.input:
        if not source.exists():
            raise FileNotFoundError(f"no such file or folder: {source}")
        found = folder_images(source) if source.is_dir() and not is_zarr(source) else [source]  # a zarr store is one image
        if not found:
            raise ShapeError(f"{source}: no images with a supported suffix ({', '.join(READABLE_SUFFIXES)})")
        files += found
    value_range = tuple(args.value_range) if args.value_range else None
    camera_noise(args, task)  # every --camera checked before any file is read
    failed = 0
    for path in files:
        try:
            with warnings_naming(str(path)):  # each file's warnings, named
                estimate_file(path, task, args, value_range)
        except (HyperResError, OSError) as exc:
            if len(files) == 1:
                raise
            failed += 1
            print_error(file_error(path, exc))
    return EXIT_ERROR if failed else EXIT_OK


def estimate_file(path, task, args: argparse.Namespace, value_range) -> None:
    """Print what ``auto`` reads for one file (one line per channel a photon task fits), and its
    curve with ``--by-brightness``."""
    from ..blind.brightness import BY_BRIGHTNESS
    from ..blind.levels import resolve_level
    from ..engine import stack_sample
    from ..io.chunked import is_zarr, open_lazy
    from ..io.files import read_image
    from ..io.tiff_meta import read_tiff_metadata

    if is_zarr(path):  # read as restore reads it: each channel's sampled planes (a review: estimate took the store for a folder)
        _, lead, axis, parts = lazy_parts(task, *open_lazy(path), None)
        parts = [(label, stack_sample(part, lead - (axis is not None))) for label, part in parts]
    else:
        image = None if task.level_in_file is not None and task.level_in_file.level_alone(path) else read_image(path)
        metadata = read_tiff_metadata(path) if image is not None and is_tiff(path) else None
        _, parts = channel_parts(task, image, metadata) if image is not None else (None, [("", None)])
    for c, (label, part) in enumerate(parts):  # a photon task: one fit per channel of a hyperstack, as restore does
        choice = resolve_level(task, "auto", part, path=path, weights=args.weights, device=args.device,
                               restoring=False, value_range=value_range, noise=camera_noise(args, task, c, len(parts)))
        note = f" (outside the task's range {task.level_range[0]:g}–{task.level_range[1]:g})" if choice.outside_range else ""
        caution = choice.caution(task)
        if caution is not None:
            note += f"; {caution}"
        print(f"{path}{label}\t{choice.estimate:.4g}\t{choice.method}{note}")
        if args.by_brightness:
            curve = resolve_level(task, BY_BRIGHTNESS, part, path=path, weights=args.weights, device=args.device,
                                  restoring=False, value_range=value_range).curve  # a JPEG file: its estimator
            print(f"{path}{label}\tby brightness\t{curve.describe(task)}")


# --- weights ---------------------------------------------------------------------------------------
def add_weights_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="list the shipped weights files with how they were trained and their validation numbers",
        description=(
            "Print a markdown table of every shipped weights file (and those installed tasks declare by path): task, "
            "kind, preset, training levels and data, "
            "steps, training time, and the validation table stored in the file (PSNR in dB per dataset and level; "
            "for level estimators the mean absolute error of the last training check, in the task's unit). "
            "Given FILEs (weights files or shipped names, e.g. an export of `python -m trainer export`), the same for "
            "them, and each one's training rounds."
        ),
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="weights files to describe instead of the shipped ones")
    parser.set_defaults(run=run_weights)


def validation_summary(info) -> str:
    """One cell: ``"Set12 σ15 32.1 / σ25 29.6"``-like text from a weights file's validation table."""
    parts = []
    for dataset, table in info.validation.items():
        cells = []
        for level, row in table.items():
            psnr = row["psnr"] if isinstance(row, dict) else row
            base = f" (input {row['psnr_input']:.2f})" if isinstance(row, dict) and "psnr_input" in row else ""
            cells.append(f"{level}: {psnr:.2f}{base}")
        parts.append(f"{dataset} — " + ", ".join(cells))
    log = info.extra.get("log") if info.kind == "estimator" else None
    if log:
        parts.append(f"mean abs. error {log[-1]['mean_abs_error_level']:.3g} (training check, step {log[-1]['step']})")
    return "; ".join(parts) or "—"


def plugin_weights() -> list:
    """Metadata of the weights files registered tasks declare outside the shipped folder (a
    plugin's own ``Task.weights`` / ``Task.estimator`` paths that exist), each once."""
    from ..core.plugins import get_tasks
    from ..core.weights import PRETRAINED_DIR, read_info

    found = {}
    for task in get_tasks().values():
        for declared in (task.weights, task.estimator):
            path = Path(declared) if declared else None
            if path is not None and path.suffix == ".safetensors" and path.is_file() and path.resolve().parent != PRETRAINED_DIR.resolve():
                try:
                    found.setdefault(path.resolve(), read_info(path))
                except HyperResError:
                    continue  # an unreadable file is reported where it is used
    return list(found.values())


def run_weights(args: argparse.Namespace) -> int:
    from ..core.weights import list_weights, read_info, resolve_weights

    chosen = [read_info(resolve_weights(f)) for f in args.files]  # a trainer review had no command for its own export
    rows = ["| name | kind | preset | levels | data | steps | training time | validation (PSNR dB) |", "|---|---|---|---|---|---|---|---|"]
    for info in chosen or list_weights() + plugin_weights():
        levels = "—" if info.kind in ("hair", "estimator") else ", ".join(f"{v:g}" for v in info.train_levels) or "—"
        where = f" ({info.device})" if info.device not in ("", "auto") else ""
        hours = f"{info.training_time_s / 3600:.2f} h{where}"
        rows.append(
            f"| `{info.name}` | {info.kind} | {info.preset} | {levels} | {', '.join(info.training_data) or '—'} "
            f"| {info.steps} | {hours} | {validation_summary(info)} |"
        )
    print("\n".join(rows))
    for info in chosen:
        print(f"\n{info.name}: {len(info.extra.get('rounds') or [])} training round(s)")
        for number, round_ in enumerate(info.extra.get("rounds") or [], 1):
            settings = ", ".join(f"{k} {v}" for k, v in round_.items() if k not in ("steps", "training_time_s"))
            print(f"  {number}. {round_.get('steps', 0):,} steps, {round_.get('training_time_s', 0) / 3600:.2f} h: {settings}")
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------------
COMMANDS: list[Command] = [add_tasks_command, add_restore_command, add_estimate_command, add_weights_command, add_export_command]
"""Subcommand registrars, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="napari-hyperres",
        description="One-slider image restoration (denoise, fluorescence microscopy noise, JPEG artifacts, super-resolution) from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 error, 130 interrupted)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # σ, × in messages must not crash a cp1252 console
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..core.atomic import sigterm_as_exit

    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    with sigterm_as_exit(), warnings.catch_warnings():  # both as they were afterwards (tests, embedding)
        warnings.showwarning = warning_printer()  # outside a file's run: Python's once-per-place filter kept
        try:
            code = args.run(args)
            sys.stdout.flush()  # a buffered table meets a closed pipe here, not in the flush at exit (a diff review)
            return code
        except BrokenPipeError:  # `napari-hyperres weights | head`: the reader has all it wants, no error to print
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit must not fail on the closed pipe again
            return EXIT_OK
        except (HyperResError, OSError) as exc:
            print_error(one_line(exc))
            return EXIT_ERROR
        except KeyboardInterrupt:
            print_error("interrupted; files being written were discarded")
            return EXIT_INTERRUPTED
        except (MemoryError, RuntimeError) as exc:
            if not (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"):  # torch's, CUDA or CPU
                raise
            print_error(f"out of memory ({one_line(exc)}); restore in tiles (--tile 512, or smaller) or with "
                        "--device cpu; the file being written was discarded")
            return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
