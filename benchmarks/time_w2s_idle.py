"""Idle timing of the microscopy task vs GAT + BM3D on 5 W2S frames, one thread each (BENCHMARKS.md, #14).

    OMP_NUM_THREADS=1 python benchmarks/time_w2s_idle.py   # from the repository root
"""
import time

import bm3d
import numpy as np
import tifffile
import torch

from napari_hyperres.engine import Restorer

torch.set_num_threads(1)
r = Restorer("microscopy", device="cpu")
root = '../shared/data/microscopy/W2S/'
tg, tm = [], []
for f in ['002_0', '018_1', '034_2', '046_0', '059_1']:
    a = tifffile.imread(f'{root}noisy/input_avg1_{f}.tif')
    r.restore(a, "auto")  # warm
    t = time.perf_counter()
    out, rep = r.restore_with_report(a, "auto")
    tm.append(time.perf_counter() - t)
    _, smap = r.photon_map(a, "auto", noise=rep.noise)
    t = time.perf_counter()
    smap.from_unit(bm3d.bm3d(smap.to_unit(a), sigma_psd=1.0 / smap.span).astype(np.float32))
    tg.append(time.perf_counter() - t)
print('median s: microscopy', round(float(np.median(tm)), 3), 'GAT+BM3D', round(float(np.median(tg)), 3), 'ratio', round(float(np.median(tg) / np.median(tm)), 1))
