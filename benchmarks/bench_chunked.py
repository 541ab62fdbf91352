"""Chunk-by-chunk restoration of images larger than memory: peak memory against image size, and
1 vs N dask.distributed workers.

For each edge (default 4096, 8192, 16384) a uint16 zarr store of noisy counts is written
(1024² chunks, not counted), then ``napari-hyperres restore IN.zarr OUT.zarr --task denoise
--level 20`` runs in a child process whose peak resident memory (``ru_maxrss``) and wall time are
measured. With ``--workers N`` the same run goes to a local dask.distributed cluster of N worker
processes; their memory is not the child's (the table says so), the wall time is what scales.

    python benchmarks/bench_chunked.py                       # 4096², 8192², 16384², one process
    python benchmarks/bench_chunked.py --edges 4096 --workers 1 2
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import common
import numpy as np


def make_store(path: Path, edge: int) -> None:
    import zarr

    array = zarr.create_array(str(path), shape=(edge, edge), chunks=(1024, 1024), dtype="uint16", zarr_format=2)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:1024, :1024]
    base = 800 + 600 * np.sin(yy / 37.0) * np.cos(xx / 53.0)
    for y in range(0, edge, 1024):
        for x in range(0, edge, 1024):
            array[y : y + 1024, x : x + 1024] = np.clip(base + rng.normal(0, 60, base.shape), 0, 65535).astype(np.uint16)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_chunked")
    parser.add_argument("--edges", type=int, nargs="+", default=[4096, 8192, 16384])
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="also run on local clusters of these sizes")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hyperres-chunked-") as tmp:
        for edge in (args.edges if not args.quick else [1024]):
            src = Path(tmp) / f"in{edge}.zarr"
            make_store(src, edge)
            for workers in [0, *args.workers]:
                dst = Path(tmp) / f"out{edge}_{workers}.zarr"
                cmd = [sys.executable, "-m", "napari_hyperres", "restore", str(src), str(dst), "--task", "denoise",
                       "--level", "20", "--device", args.device, "--quiet", "--overwrite"]
                if workers:
                    cmd += ["--workers", str(workers)]
                env = None
                if args.threads:
                    import os

                    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
                measured = common.run_measured(cmd, env=env)
                if measured.returncode != 0:
                    common.fail(f"restore failed: {common.last_lines(measured.stderr)}")
                mp = edge * edge / 1e6
                rows.append([f"{edge}²", f"{mp:.0f}", workers or "1 (no cluster)", f"{measured.peak_rss_mb:.0f}" + (" (client only)" if workers else ""),
                             f"{measured.wall_s:.0f}", f"{mp / measured.wall_s:.2f}"])
                shutil.rmtree(dst, ignore_errors=True)
            shutil.rmtree(src, ignore_errors=True)
    report = common.Report(
        "Chunk by chunk: memory and workers",
        "`napari-hyperres restore IN.zarr OUT.zarr --task denoise --level 20` (shipped denoise.lite) on uint16 stores of each size.",
        args.device,
    )
    report.table(["image", "MP", "workers", "peak RSS MiB", "wall s", "MP/s"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
