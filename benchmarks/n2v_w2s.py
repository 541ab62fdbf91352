"""The peer a microscopist reaches for: CAREamics Noise2Void trained on each W2S frame alone.

For each frame: train N2V on the single noisy frame (self-supervised, no clean data), predict
that same frame, save float32 .npy to OUT/<FIELD>_<CH>.npy, score the aligned PSNR against the
400-frame average (as bench_w2s.py). One JSON line per frame is appended to OUT/log.jsonl.
The default frames are bench_w2s.py's BM3D subset (every 4th field, all 3 channels).

CAREamics pins its own torch, so it runs in a virtual environment of its own (not this
project's; careamics 0.3.5 needs torch < 2.14):

    python3 -m venv /tmp/n2v && /tmp/n2v/bin/pip install careamics==0.3.5 tifffile
    nice -n 19 /tmp/n2v/bin/python benchmarks/n2v_w2s.py --out /tmp/n2v_out [--deadline-min 60]

Results of the run reported in BENCHMARKS.md: benchmarks/results/n2v_w2s.md.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

import careamics  # noqa: E402 (after the thread settings above)
from careamics import CAREamist  # noqa: E402
from careamics.config import create_advanced_n2v_config  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "microscopy" / "W2S"
OUT = Path("n2v_out")
WORK = OUT / "work"

FIELDS = ["001", "005", "009", "013", "017", "021", "025", "029", "033",
          "037", "041", "045", "049", "053", "057"]
DEFAULT_FRAMES = [f"{f}_{c}" for f in FIELDS for c in (0, 1, 2)]

# Configuration (everything not listed here is CAREamics' default)
PATCH = [64, 64]
BATCH = 16
EPOCHS = 30
NUM_WORKERS = 0  # default would be min(cpu_count-1, 4) = 1 worker process here


def aligned_psnr(out, clean):
    """PSNR (peak 255) after least-squares affine map a*out+b onto clean."""
    x = out.astype(np.float64).ravel()
    y = clean.astype(np.float64).ravel()
    A = np.stack([x, np.ones_like(x)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    mse = np.mean((a * x + b - y) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse)), float(a), float(b)


def run_frame(key):
    field, ch = key.split("_")
    noisy = tifffile.imread(DATA / "noisy" / f"input_avg1_{field}_{ch}.tif")
    clean = tifffile.imread(DATA / "clean" / f"target_avg400_{field}_{ch}.tif")
    assert noisy.shape == (512, 512) and noisy.dtype == np.uint8, (noisy.shape, noisy.dtype)
    img = noisy.astype(np.float32)

    t0 = time.perf_counter()
    cfg = create_advanced_n2v_config(
        experiment_name=f"n2v_{field}_{ch}",
        data_type="array",
        axes="YX",
        patch_size=PATCH,
        batch_size=BATCH,
        num_epochs=EPOCHS,
        num_workers=NUM_WORKERS,
    )
    seed = cfg.data_config.seed
    model = CAREamist(cfg, work_dir=WORK / key, enable_progress_bar=False)
    model.train(train_data=img)
    t_train = time.perf_counter() - t0
    preds, _ = model.predict(img)
    pred = np.asarray(preds[0], dtype=np.float32).squeeze()
    secs = time.perf_counter() - t0
    assert pred.shape == (512, 512), pred.shape

    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / f"{field}_{ch}.npy", pred)

    p_n2v, a, b = aligned_psnr(pred, clean)
    p_noisy, _, _ = aligned_psnr(noisy, clean)
    rec = dict(field=field, channel=int(ch), noisy_aligned_db=round(p_noisy, 3),
               n2v_aligned_db=round(p_n2v, 3), seconds=round(secs, 1),
               train_seconds=round(t_train, 1), fit_a=a, fit_b=b, seed=seed)
    with open(OUT / "log.jsonl", "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", nargs="*", default=DEFAULT_FRAMES)
    ap.add_argument("--deadline-min", type=float, default=60.0,
                    help="stop starting new frames after this many minutes")
    ap.add_argument("--data", type=Path, default=DATA, help="the W2S folder (noisy/, clean/)")
    ap.add_argument("--out", type=Path, default=OUT, help="predictions, log.jsonl and CAREamics' work folder")
    args = ap.parse_args()
    global DATA, OUT, WORK
    DATA, OUT, WORK = args.data, args.out, args.out / "work"
    logging.getLogger("lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    print(f"careamics {careamics.__version__} torch {torch.__version__} "
          f"threads {torch.get_num_threads()}", flush=True)
    start = time.perf_counter()
    for key in args.frames:
        el = (time.perf_counter() - start) / 60
        if el >= args.deadline_min:
            print(f"deadline reached ({el:.1f} min); not starting {key}", flush=True)
            break
        if (OUT / f"{key}.npy").exists():
            print(f"skip {key} (done)", flush=True)
            continue
        rec = run_frame(key)
        print(json.dumps(rec), flush=True)
    print(f"total {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
