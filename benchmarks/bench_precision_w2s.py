"""The shipped ``microscopy`` network on real W2S frames in float32 and in bfloat16
(``Restorer(precision=...)``): aligned PSNR (bench_w2s's affine brightness fit) of each, and the
difference per frame. Every 6th field of view, 3 channels each (30 frames), ``--level auto``.

    python benchmarks/bench_precision_w2s.py
"""
import sys, numpy as np, torch
sys.path.insert(0, "benchmarks")
from bench_w2s import affine_fit, psnr_255
from pathlib import Path
from napari_hyperres.engine import Restorer
from napari_hyperres.io.files import read_image
torch.set_num_threads(1)
root = Path("../shared/data/microscopy/W2S")
fields = sorted({p.name.split("_")[2] for p in (root / "noisy").glob("input_avg1_*_*.tif")})[::6]
rs = {p: Restorer("microscopy", device="cpu", precision=p) for p in ("float32", "bfloat16")}
scores = {p: [] for p in rs}
for f in fields:
    for ch in range(3):
        noisy = read_image(root / "noisy" / f"input_avg1_{f}_{ch}.tif")
        clean = read_image(root / "clean" / f"target_avg400_{f}_{ch}.tif").astype(np.float64)
        for p, r in rs.items():
            out = r.restore(noisy, "auto")
            scores[p].append(psnr_255(affine_fit(out, clean), clean))
for p in rs:
    print(p, len(scores[p]), "frames, aligned PSNR %.3f" % np.mean(scores[p]))
d = np.array(scores["bfloat16"]) - np.array(scores["float32"])
print("bf16 - f32: mean %.4f, min %.4f, max %.4f" % (d.mean(), d.min(), d.max()))
