"""Memory and time of large inputs: a tiled 8192² image, a 3-D stack eager vs lazy (dask), and the CLI on a TIFF stack.

(a) An 8192×8192 uint16 image restored with tiling (``denoise``, lite, ``tile=512``): wall
    time and peak resident memory of the process, and tiled-vs-untiled equality on a
    1024×1024 float32 crop (max abs difference, must be ≤ 1e-4).
(b) A 3-D uint16 stack (64×1024×1024) restored eagerly (numpy in, numpy out) and lazily
    (a dask array whose planes are generated on demand, restored through ``map_overlap``),
    computed plane by plane (each result dropped, as napari's viewing does) and with one
    ``.compute()`` (the whole result held); time and peak memory of each, outputs compared.
(c) ``python -m napari_hyperres restore`` on the same stack written as a multi-page TIFF:
    with ``--memory-budget`` below the file's size (the CLI then streams page by page,
    :mod:`napari_hyperres.io.streaming`) and above it (loads the stack whole); time, peak
    memory, outputs compared.

Every measured run is its own child process; its peak resident memory is the child's own
``ru_maxrss`` (``os.wait4``), so runs do not mix. "baseline" is a child that only imports
the package, loads the weights and restores a 64×64 image: the fixed cost every run pays.
The inputs are synthetic (smooth pattern + σ 25 noise, seeded), generated inside the child.

    python benchmarks/bench_memory.py [--quick] [--out benchmarks/results/bench_memory.md]
    python benchmarks/bench_memory.py --size 4096 --tile 512 --stack 16 1024 --threads 2

Weights: ``denoise.lite`` (``--weights-dir`` or shipped; ``--weights FILE``), else a randomly
initialised lite network (the timings and memory do not depend on the values; the report says so).
``--quick``: 1024² image with tile 256, 256² crop with tile 64, a 4×256×256 stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np

LEVEL = 25.0


# --- synthetic inputs ---------------------------------------------------------------------------------
def synthetic_plane(height: int, width: int, seed: int) -> np.ndarray:
    """A uint16 plane: a smooth seeded pattern plus σ 25/255 Gaussian noise, built 1024 rows at a time."""
    rng = np.random.default_rng(seed)
    fx, fy, phase = rng.uniform(0.5, 2.0, 3).astype(np.float32)
    x = np.linspace(0, 8 * np.pi, width, dtype=np.float32)[None]
    out = np.empty((height, width), np.uint16)
    for y0 in range(0, height, 1024):
        y = (np.arange(y0, min(height, y0 + 1024), dtype=np.float32)[:, None] / height) * np.float32(8 * np.pi)
        rows = np.float32(0.5) + np.float32(0.3) * np.sin(fx * x + phase) * np.cos(fy * y)
        rows += np.float32(LEVEL / 255.0) * rng.standard_normal(rows.shape, dtype=np.float32)
        out[y0 : y0 + rows.shape[0]] = np.clip(np.rint(rows * 65535), 0, 65535).astype(np.uint16)
    return out


def lazy_stack(depth: int, edge: int):
    """A dask array ``(depth, edge, edge)`` uint16 whose planes are generated only when computed."""
    import dask
    import dask.array as da

    planes = [da.from_delayed(dask.delayed(synthetic_plane)(edge, edge, z), (edge, edge), np.uint16) for z in range(depth)]
    return da.stack(planes)


# --- the child process ------------------------------------------------------------------------------------
def worker(spec: dict) -> dict:
    """One measured run (in its own process): restores what ``spec`` says, returns times and checksums."""
    common.setup_threads(spec.get("threads"))
    from napari_hyperres.engine import Restorer

    restorer = Restorer("denoise", weights=spec["weights"], device=spec["device"])
    restorer.restore(synthetic_plane(64, 64, 0), LEVEL)  # warm-up: loads kernels, generates σ 25's network
    kind = spec["kind"]
    start = time.perf_counter()
    if kind == "baseline":
        sums = []
    elif kind == "tiled":
        image = synthetic_plane(spec["size"], spec["size"], 0)
        start = time.perf_counter()
        out = restorer.restore(image, LEVEL, tile=spec["tile"])
        sums = [int(out.sum(dtype=np.int64))]
    elif kind == "stack-eager":
        stack = np.stack([synthetic_plane(spec["edge"], spec["edge"], z) for z in range(spec["depth"])])
        out = restorer.restore(stack, LEVEL)
        sums = [int(p.sum(dtype=np.int64)) for p in out]
    elif kind == "stack-lazy-planes":
        lazy = restorer.restore(lazy_stack(spec["depth"], spec["edge"]), LEVEL)
        sums = [int(np.asarray(lazy[z].compute()).sum(dtype=np.int64)) for z in range(spec["depth"])]
    elif kind == "stack-lazy-compute":
        out = restorer.restore(lazy_stack(spec["depth"], spec["edge"]), LEVEL).compute()
        sums = [int(p.sum(dtype=np.int64)) for p in out]
    else:
        raise ValueError(f"unknown worker kind {kind!r}")
    return {"wall_s": time.perf_counter() - start, "sums": sums}


def measure(spec: dict) -> tuple[dict, common.Measured]:
    """Run :func:`worker` in a child process; its JSON result and the child's measurements."""
    run = common.run_measured([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)])
    if run.returncode != 0:
        common.fail(f"{spec['kind']} run failed (exit {run.returncode}): {common.last_lines(run.stderr)}")
    return json.loads(run.stdout.strip().splitlines()[-1]), run


# --- the parent ---------------------------------------------------------------------------------------
def tile_equality(weights: str, device: str, crop: int, tile: int) -> float:
    """Max abs difference between tiled and untiled restoration of a float32 ``crop``² plane."""
    from napari_hyperres.engine import Restorer

    restorer = Restorer("denoise", weights=weights, device=device)
    image = synthetic_plane(crop, crop, 1).astype(np.float32) / np.float32(65535)
    whole = restorer.restore(image, LEVEL, value_range=(0.0, 1.0))
    tiled = restorer.restore(image, LEVEL, tile=tile, value_range=(0.0, 1.0))
    return float(np.max(np.abs(whole.astype(np.float64) - tiled)))


def write_stack_tiff(path: Path, depth: int, edge: int) -> None:
    """The synthetic stack as a multi-page uint16 TIFF, written one page at a time."""
    import tifffile

    planes = (synthetic_plane(edge, edge, z) for z in range(depth))
    tifffile.imwrite(path, planes, shape=(depth, edge, edge), dtype=np.uint16, photometric="minisblack")


def same_tiffs(a: Path, b: Path) -> bool:
    """Whether two TIFF stacks hold the same pixels (compared page by page)."""
    import tifffile

    with tifffile.TiffFile(a) as ta, tifffile.TiffFile(b) as tb:
        if ta.series[0].shape != tb.series[0].shape:
            return False
        return all(np.array_equal(pa.asarray(), pb.asarray()) for pa, pb in zip(ta.series[0].pages, tb.series[0].pages, strict=True))


def cli_streams() -> bool:
    """Whether ``python -m napari_hyperres restore`` can stream TIFF stacks (``--memory-budget``, streaming module)."""
    import contextlib
    import importlib.util
    import io

    from napari_hyperres.cli.main import build_parser

    if importlib.util.find_spec("napari_hyperres.io.streaming") is None:
        return False
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["restore", "in.tif", "out.tif", "--task", "denoise", "--memory-budget", "1"])
    except SystemExit:  # argparse: unknown option
        return False
    return True


def mib(nbytes: float) -> str:
    value = nbytes / 2**20
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def main() -> None:
    parser = common.base_parser(__doc__, "bench_memory")
    parser.add_argument("--weights", default=None, help="denoise weights file (default: denoise.lite, else random lite)")
    parser.add_argument("--size", type=int, default=None, help="(a) image edge (default 8192; --quick 1024)")
    parser.add_argument("--tile", type=int, default=None, help="(a) tile edge (default 512; --quick 256)")
    parser.add_argument("--crop", type=int, default=None, help="(a) equality crop edge (default 1024; --quick 256)")
    parser.add_argument("--crop-tile", type=int, default=None, help="(a) tile for the equality check (default 256; --quick 64)")
    parser.add_argument("--stack", type=int, nargs=2, default=None, metavar=("Z", "EDGE"), help="(b, c) stack depth and plane edge (default 64 1024; --quick 4 256)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return
    common.setup_threads(args.threads)
    size = args.size or (1024 if args.quick else 8192)
    tile = args.tile or (256 if args.quick else 512)
    crop = args.crop or (256 if args.quick else 1024)
    crop_tile = args.crop_tile or (64 if args.quick else 256)
    depth, edge = args.stack or ((4, 256) if args.quick else (64, 1024))

    report = common.Report("Memory and time on large inputs", "Tiled 2-D restoration, 3-D stacks eager vs lazy, and the CLI on a TIFF stack (denoise σ 25).", args.device)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        weights, is_random = common.weights_or_random("denoise.lite", "denoise", "lite", args, tmp)
        report.text(
            f"Weights: {common.weights_description(weights)}"
            + (" — **random-initialised lite weights: timing and memory only** (no trained denoise.lite found)." if is_random else "")
        )
        base = {"weights": str(weights), "device": args.device, "threads": args.threads}
        _, baseline = measure({**base, "kind": "baseline"})
        rss0 = baseline.peak_rss_mb

        # (a)
        result, run = measure({**base, "kind": "tiled", "size": size, "tile": tile})
        diff = tile_equality(str(weights), args.device, crop, crop_tile)
        report.section("(a) One large 2-D image, tiled")
        report.table(
            ["image", "tile", "restore s", "MP/s", "peak RSS MiB", "above baseline MiB", "input MiB", "process wall s"],
            [
                ["baseline (imports, weights, 64² warm-up)", "—", "—", "—", f"{rss0:.0f}", "0", "—", f"{baseline.wall_s:.1f}"],
                [f"{size}×{size} uint16", tile, f"{result['wall_s']:.1f}", f"{size * size / 1e6 / result['wall_s']:.2f}",
                 f"{run.peak_rss_mb:.0f}", f"{run.peak_rss_mb - rss0:.0f}", mib(size * size * 2), f"{run.wall_s:.1f}"],
            ],
        )
        report.table(
            ["equality check", "tile", "max abs diff", "≤ 1e-4"],
            [[f"{crop}×{crop} float32 crop, tiled vs untiled", crop_tile, f"{diff:.2e}", "yes" if diff <= 1e-4 else "**NO**"]],
        )

        # (b)
        rows, eager_sums = [], None
        for kind, label in (("stack-eager", "eager (numpy in, numpy out)"),
                            ("stack-lazy-planes", "lazy (dask), computed plane by plane"),
                            ("stack-lazy-compute", "lazy (dask), one .compute()")):
            result, run = measure({**base, "kind": kind, "depth": depth, "edge": edge})
            eager_sums = eager_sums if eager_sums is not None else result["sums"]
            rows.append([label, f"{result['wall_s']:.1f}", f"{depth * edge * edge / 1e6 / result['wall_s']:.2f}",
                         f"{run.peak_rss_mb:.0f}", f"{run.peak_rss_mb - rss0:.0f}", "yes" if result["sums"] == eager_sums else "**NO**"])
        report.section(f"(b) A {depth}×{edge}×{edge} uint16 stack ({mib(depth * edge * edge * 2)} MiB), eager vs lazy")
        report.table(["mode", "restore s", "MP/s", "peak RSS MiB", "above baseline MiB", "same output as eager"], rows)
        report.notes([
            "Eager: the stack is generated as one numpy array (part of the peak), restored with `Restorer.restore`.",
            "Lazy: each plane is generated by a dask task only when computed; `Restorer.restore` returns a dask array "
            "(`map_overlap`, one plane per block); dask's default threaded scheduler.",
            "Times include generating the synthetic planes in every mode (eager: before restoring; lazy: inside the dask tasks).",
            "Output comparison: per-plane sums of the uint16 results.",
        ])

        # (c)
        stack_path, file_bytes = tmp / "stack.tif", depth * edge * edge * 2
        write_stack_tiff(stack_path, depth, edge)
        streams = cli_streams()
        cli_rows, outputs = [], []
        budgets = [(file_bytes / 4 / 2**20, "budget below the file size"), (max(10 * file_bytes / 2**20, 1024), "budget above the file size")] if streams else [(None, "default flags")]
        for budget, label in budgets:
            out = tmp / f"out_{len(outputs)}.tif"
            cmd = [sys.executable, "-m", "napari_hyperres", "restore", str(stack_path), str(out), "--task", "denoise",
                   "--level", f"{LEVEL:g}", "--weights", str(weights), "--device", args.device]
            if budget is not None:
                cmd += ["--memory-budget", f"{budget:.6g}"]
            env = dict(os.environ)
            if args.threads:
                env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            run = common.run_measured(cmd, env=env)
            if run.returncode != 0:
                common.fail(f"the CLI failed (exit {run.returncode}): {common.last_lines(run.stderr)}")
            outputs.append(out)
            streamed = "yes" if "(streaming)" in run.stderr else "no"  # the CLI's progress line names streaming runs
            cli_rows.append([label, "default" if budget is None else f"{budget:.6g} MB", streamed, f"{run.wall_s:.1f}",
                             f"{run.peak_rss_mb:.0f}", f"{run.peak_rss_mb - rss0:.0f}"])
        if len(outputs) == 2:
            equal = same_tiffs(outputs[0], outputs[1])
            for row in cli_rows:
                row.append("yes" if equal else "**NO**")
        report.section(f"(c) The CLI on the stack as a multi-page TIFF ({mib(file_bytes)} MiB)")
        report.table(["CLI mode", "--memory-budget", "streamed (CLI says)", "wall s (whole process)", "peak RSS MiB", "above baseline MiB", *(["same output"] if len(outputs) == 2 else [])], cli_rows)
        report.notes([
            ("`napari_hyperres restore` streams TIFF stacks larger than `--memory-budget` MB (default 1024) to a TIFF OUT page by page "
             "(napari_hyperres/streaming.py); both modes were run." if streams else
             "This CLI does not stream (no `--memory-budget` / streaming module): it was timed loading the stack whole."),
            "CLI wall time includes Python start-up, imports and loading the weights (compare with the baseline's process wall time in (a)).",
            f"Peak RSS 'above baseline' subtracts the baseline child ({rss0:.0f} MiB: imports, weights, a 64² restore).",
        ])
    report.emit(args)


if __name__ == "__main__":
    main()
