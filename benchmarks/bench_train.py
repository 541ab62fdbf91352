"""Training throughput: optimiser steps per second of ``python -m trainer train`` per preset.

One step as the trainer takes it (:mod:`trainer.loop`): random crops, the task's degradation
at each of its k training levels, the k main networks generated from one hypernetwork, the
unweighted sum of L1 losses, Adam. Images: crops of scikit-image's astronaut (the data
does not change the cost). Median seconds per step after warm-up steps.

    python benchmarks/bench_train.py [--quick] [--presets small lite paper] [--steps 10]
"""

from __future__ import annotations

import time

import common


def step_seconds(task_name: str, preset: str, batch: int, patch: int, steps: int, device: str) -> list[float]:
    import torch
    import torch.nn.functional as F
    from skimage import data

    from napari_hyperres.core.plugins import get_task
    from trainer import models as model_kinds
    from trainer.data import degrade_batch
    from trainer.objectives import MultiLevel, controls_for

    task = get_task(task_name)
    levels = [float(v) for v in task.train_levels]
    model = model_kinds.build("hyperres", model_kinds.architecture("hyperres", preset, task.in_channels)).to(device).train()
    runner = MultiLevel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    image = torch.from_numpy(data.astronaut().transpose(2, 0, 1).copy()).float().div(255)[None]
    if task.in_channels == 1:
        image = image.mean(dim=1, keepdim=True)
    generator = torch.Generator().manual_seed(0)
    controls = controls_for(task, "hyperres", levels)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        ys = torch.randint(0, image.shape[-2] - patch, (batch,), generator=generator)
        xs = torch.randint(0, image.shape[-1] - patch, (batch,), generator=generator)
        clean = torch.cat([image[..., y : y + patch, x : x + patch] for y, x in zip(ys.tolist(), xs.tolist(), strict=True)]).to(device)
        gray = torch.zeros(batch, dtype=torch.bool)
        with torch.no_grad():
            inputs = [degrade_batch(task, clean, level, gray, None) for level in levels]
        loss = sum(F.l1_loss(o, clean) for o in runner(inputs, controls))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[2:]


def main() -> None:
    parser = common.base_parser(__doc__, "bench_train")
    parser.add_argument("--presets", nargs="+", default=["small", "lite", "paper"])
    parser.add_argument("--tasks", nargs="+", default=["denoise", "dejpeg"])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per preset (default 10; 2 with --quick)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=None, help="crop edge (default 48, the CPU recipe's; 24 with --quick)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    steps = args.steps or (2 if args.quick else 10)
    patch = args.patch or (24 if args.quick else 48)
    report = common.Report(
        "Training throughput",
        f"Steps per second of the trainer's step (k levels per step, batch {args.batch}, {patch}² crops), median of {steps} steps.",
        device=args.device,
    )
    rows = []
    for task in args.tasks:
        for preset in args.presets:
            times = step_seconds(task, preset, args.batch, patch, steps, args.device)
            seconds = common.median(times)
            rows.append([task, preset, f"{seconds:.2f}", f"{1 / seconds:.2f}"])
    report.table(["task", "preset", "s / step", "steps / s"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
