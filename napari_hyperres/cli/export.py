"""``napari-hyperres export-bioimageio --task TASK --level LEVEL OUT.zip``: one level as a bioimage.io model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ShapeError
from .common import EXIT_OK


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-bioimageio",
        help="write the network of one level as a bioimage.io model package (zip)",
        description=(
            "Write the task's network at LEVEL as a bioimage.io model package (model spec 0.5, TorchScript weights, "
            "test tensors, cover, README with the training and validation of the weights). The model takes "
            "(batch, channel, y, x) float32 in [0, 1]: 3 channels (RGB) for denoise, 1 (gray or luma) for dejpeg. "
            "Needs the optional bioimageio.core: pip install \"napari-hyperres[bioimageio]\". "
            "Check the result with `bioimageio test OUT.zip`."
        ),
    )
    parser.add_argument("output", metavar="OUT", type=Path, help="the package to write, ending in .zip")
    parser.add_argument("--task", required=True, help="task name, e.g. denoise or dejpeg (not auto, sr or microscopy)")
    parser.add_argument("--level", required=True, type=float, help="degradation level in the task's unit, e.g. 25 (σ) for denoise")
    parser.add_argument("--weights", help="weights file or shipped name (default: the task's shipped weights)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from ..io.bioimageio import export_bioimageio

    if args.output.exists() and not args.overwrite:
        raise ShapeError(f"{args.output} exists; pass --overwrite to replace it")
    path = export_bioimageio(args.task, args.level, args.output, weights=args.weights)
    print(f"{path}: bioimage.io model, task {args.task} at level {args.level:g}", file=sys.stderr)
    return EXIT_OK
