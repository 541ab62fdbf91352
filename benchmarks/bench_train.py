"""Training throughput on the CPU: what makes a CPU-hour of ``python -m trainer train`` count.

One step as the trainer takes it (:class:`trainer.objectives.Restoration`): random crops, the
task's degradation at each of its k training levels, the k main networks generated from one
hypernetwork, the unweighted sum of L1 losses, Adam. Images: crops of scikit-image's
astronaut (the data does not change the cost). Median seconds per step after two warm-up
steps (they also hold ``torch.compile``'s compilation).

``--table efficiency`` (default) times the shipped recipe's step (lite network, batch 16,
48² crops, channels-last, one thread) against one change at a time:

- layout: contiguous tensors instead of channels-last;
- ``torch.compile`` (inductor) of the k-level forward;
- two threads instead of one (steps/s per core is what a 2-core machine running two
  trainings side by side gets);
- crop edge and batch at the same pixels per step (32² × 36, 64² × 9, 96² × 4);
- the same parameter budget as deeper-narrower (34 features × 16 blocks) or
  wider-shallower (68 × 4) networks.

``--table presets`` times each preset at the recipe's settings.

``--table quality`` trains the recipe and its rivals from scratch for ``--seconds`` each with
``python -m trainer train``'s loop (gray400 + color400, the recipe's lr 4e-4 ÷ 10 at 55 % and
85 % of the time), then scores Set12 at σ 15 / 25 / 50 (float noise, seed 0): PSNR reached
per CPU-second. Rows run one after the other, so a machine busy with other work slows them alike.

    python benchmarks/bench_train.py --threads 1 [--table efficiency|presets|quality] [--steps 8]
        [--seconds 600] [--quick]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import common


@dataclass(frozen=True)
class Setting:
    """One way of taking the trainer's step.

    Attributes:
        name: the row's label.
        features, blocks: the HyperRes network's width and its residual blocks.
        batch, patch: crops per level and their edge (pixels).
        channels_last: channels-last tensors (the trainer's CPU default) or contiguous ones.
        compiled: the k-level forward wrapped in ``torch.compile``.
        threads: torch intra-op threads.
    """

    name: str
    features: int = 48
    blocks: int = 8
    batch: int = 16
    patch: int = 48
    channels_last: bool = True
    compiled: bool = False
    threads: int = 1


RECIPE = Setting("recipe: lite 48×8, batch 16 × 48², channels-last, 1 thread")


def efficiency_settings() -> list[Setting]:
    """The recipe, then one change at a time."""
    return [
        RECIPE,
        replace(RECIPE, name="contiguous tensors", channels_last=False),
        replace(RECIPE, name="torch.compile (inductor)", compiled=True),
        replace(RECIPE, name="2 threads", threads=2),
        replace(RECIPE, name="crops 32² × 36", batch=36, patch=32),
        replace(RECIPE, name="crops 64² × 9", batch=9, patch=64),
        replace(RECIPE, name="crops 96² × 4", batch=4, patch=96),
        replace(RECIPE, name="deeper: 36 × 16 blocks", features=36, blocks=16),
        replace(RECIPE, name="wider: 64 × 4 blocks", features=64, blocks=4),
    ]


def quality_settings() -> list[Setting]:
    """The recipe and the rivals worth a training run: the same parameters spent otherwise, and
    the crop sizes at the same pixels per step."""
    return [
        RECIPE,
        replace(RECIPE, name="deeper: 36 × 16 blocks", features=36, blocks=16),
        replace(RECIPE, name="wider: 64 × 4 blocks", features=64, blocks=4),
        replace(RECIPE, name="crops 96² × 4", batch=4, patch=96),
    ]


def trained_psnr(setting: Setting, seconds: float, data_root, out_root, quick: bool) -> tuple[dict[str, float], float, int]:
    """Train ``setting`` from scratch for ``seconds`` (wall time); ``({σ: Set12 PSNR}, CPU seconds
    the training used, steps)``."""
    import torch

    from napari_hyperres.engine import Restorer
    from trainer.config import TrainConfig
    from trainer.evaluate import evaluate
    from trainer.export import export_run
    from trainer.loop import CHECKPOINT, load_checkpoint, train

    torch.set_num_threads(setting.threads)
    out = out_root / f"{setting.features}x{setting.blocks}_{setting.batch}x{setting.patch}_{'cl' if setting.channels_last else 'contig'}"
    cfg = TrainConfig(
        task="denoise", data=[str(data_root / "train" / "gray400"), str(data_root / "train" / "color400")], out=str(out),
        preset=f"{setting.features}x{setting.blocks}", steps=10**8, batch=setting.batch, patch=setting.patch, lr=4e-4,
        lr_decay_at=[0.55, 0.85], val_every=10**9, ckpt_every=10**9, device="cpu", time_budget_s=seconds,
        channels_last=setting.channels_last, max_images=8 if quick else None,
    )
    cpu_start = time.process_time()
    train(cfg, progress=False)
    cpu_seconds = time.process_time() - cpu_start
    steps = int(load_checkpoint(out / CHECKPOINT)["step"])
    weights = export_run(out, name="denoise.bench")
    restorer = Restorer("denoise", weights=str(weights), device="cpu")
    table = evaluate(restorer, data_root / "val" / "Set12", [15, 25, 50], max_images=2 if quick else None)
    return {level: row["psnr"] for level, row in table.items()}, cpu_seconds, steps


def quality_table(args, settings: list[Setting], report) -> None:
    import tempfile
    from pathlib import Path

    seconds = args.seconds or (5 if args.quick else 600)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            psnr, cpu_seconds, steps = trained_psnr(setting, seconds, args.data_root, Path(tmp), args.quick)
            rows.append([setting.name, str(steps), f"{cpu_seconds:.0f}", *(f"{psnr[k]:.2f}" for k in ("15", "25", "50"))])
            print(" | ".join(rows[-1]), flush=True)
    report.table(["setting", "steps", "CPU s", "Set12 σ 15", "σ 25", "σ 50"], rows)


def preset_settings() -> list[Setting]:
    from napari_hyperres.core.models import PRESETS

    return [replace(RECIPE, name=f"preset {name}", features=f, blocks=b) for name, (f, b) in PRESETS.items() if name != "tiny"]


def step_seconds(task_name: str, setting: Setting, steps: int, device: str) -> tuple[list[float], int]:
    """Seconds of each timed step (after two warm-up steps) and the hypernetwork's parameter count."""
    import torch
    from skimage import data

    from napari_hyperres.core.models import Architecture, HyperResNet
    from napari_hyperres.core.plugins import get_task
    from trainer.config import TrainConfig
    from trainer.objectives import Restoration

    torch.set_num_threads(setting.threads)
    task = get_task(task_name)
    levels = [float(v) for v in task.train_levels]
    model = HyperResNet(Architecture(in_channels=task.in_channels, features=setting.features, blocks=setting.blocks)).to(device).train()
    cfg = TrainConfig(task=task_name, data=[], out="", batch=setting.batch, patch=setting.patch, channels_last=setting.channels_last)
    objective = Restoration(model, task, cfg, levels)
    module = torch.compile(objective.module) if setting.compiled else objective.module
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    image = torch.from_numpy(data.astronaut().transpose(2, 0, 1).copy()).float().div(255)[None]
    if task.in_channels == 1:
        image = image.mean(dim=1, keepdim=True)
    generator = torch.Generator().manual_seed(0)
    gray = torch.zeros(setting.batch, dtype=torch.bool)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        ys = torch.randint(0, image.shape[-2] - setting.patch, (setting.batch,), generator=generator)
        xs = torch.randint(0, image.shape[-1] - setting.patch, (setting.batch,), generator=generator)
        clean = torch.cat([image[..., y : y + setting.patch, x : x + setting.patch] for y, x in zip(ys.tolist(), xs.tolist(), strict=True)]).to(device)
        loss, _ = objective.loss(module, clean, gray, generator, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[2:], sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = common.base_parser(__doc__, "bench_train")
    parser.add_argument("--table", choices=["efficiency", "presets", "quality"], default="efficiency")
    parser.add_argument("--seconds", type=float, default=None, help="quality table: training seconds per row (default 600; 5 with --quick)")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per row (default 8; 1 with --quick)")
    args = parser.parse_args()
    steps = args.steps or (1 if args.quick else 8)
    settings = {"efficiency": efficiency_settings, "presets": preset_settings, "quality": quality_settings}[args.table]()
    if args.threads:  # the recipe's thread count (rows that change it keep theirs)
        settings = [s if s.threads != RECIPE.threads else replace(s, threads=args.threads) for s in settings]
    if args.quick:  # checks the script runs: tiny networks and crops
        settings = [replace(s, features=max(4, s.features // 8), blocks=max(1, s.blocks // 4), patch=max(16, s.patch // 2)) for s in settings]
    report = common.Report(
        "Training throughput",
        f"The trainer's step for task {args.task} (k training levels per step), median of {steps} steps after 2 warm-up "
        "steps. Pixels / s counts every degraded crop the networks restore (batch × edge² × k).",
        device=args.device,
    )
    if args.table == "quality":
        quality_table(args, settings, report)
        report.emit(args)
        return
    from napari_hyperres.core.plugins import get_task

    k = len(get_task(args.task).train_levels)
    rows, base = [], None
    for setting in settings:
        times, params = step_seconds(args.task, setting, steps, args.device)
        seconds = common.median(times)
        pixels = setting.batch * setting.patch**2 * k / seconds
        base = base or pixels
        rows.append([
            setting.name, f"{params / 1e6:.2f} M", f"{seconds:.3f}", f"{1 / seconds:.2f}",
            f"{pixels / 1e6:.3f}", f"{pixels / setting.threads / 1e6:.3f}", f"{pixels / base:.2f}×",
        ])
        print(" | ".join(rows[-1]), flush=True)
    report.table(["setting", "parameters", "s / step", "steps / s", "Mpx / s", "Mpx / s per thread", "vs first row"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
