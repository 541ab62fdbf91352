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
  wider-shallower (68 × 4) networks;
- bfloat16 autocast (``--amp``; fast only on CPUs with native bfloat16).

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
        head: the network's head (``"stride2"``, the paper's, or ``"unshuffle"``, FFDNet's).
        amp: bfloat16 autocast of the forward (the trainer's ``--amp``).
    """

    name: str
    features: int = 48
    blocks: int = 8
    batch: int = 16
    patch: int = 48
    channels_last: bool = True
    compiled: bool = False
    threads: int = 1
    head: str = "stride2"
    amp: bool = False


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
        replace(RECIPE, name="pixel-unshuffle head (FFDNet's)", head="unshuffle"),
        replace(RECIPE, name="bfloat16 autocast (--amp)", amp=True),
    ]


def quality_settings() -> list[Setting]:
    """The recipe and the rivals worth a training run: the same parameters spent otherwise, and
    the crop sizes at the same pixels per step."""
    return [
        RECIPE,
        replace(RECIPE, name="deeper: 36 × 16 blocks", features=36, blocks=16),
        replace(RECIPE, name="wider: 64 × 4 blocks", features=64, blocks=4),
        replace(RECIPE, name="crops 96² × 4", batch=4, patch=96),
        replace(RECIPE, name="pixel-unshuffle head (FFDNet's)", head="unshuffle"),
        replace(RECIPE, name="bfloat16 autocast (--amp)", amp=True),
    ]


def trained_psnr(setting: Setting, seconds: float | None, data_root, out_root, quick: bool, steps: int | None = None) -> tuple[dict[str, float], float, int]:
    """Train ``setting`` from scratch for ``seconds`` (wall time) or ``steps`` (then the load of
    the machine cannot favour one row); ``({σ: Set12 PSNR}, CPU seconds the training used, steps)``."""
    import torch

    from napari_hyperres.engine import Restorer
    from trainer.config import TrainConfig
    from trainer.evaluate import evaluate
    from trainer.export import export_run
    from trainer.loop import CHECKPOINT, load_checkpoint, train

    torch.set_num_threads(setting.threads)
    out = out_root / f"{setting.features}x{setting.blocks}_{setting.batch}x{setting.patch}_{'cl' if setting.channels_last else 'contig'}_{setting.head}{'_amp' if setting.amp else ''}"
    cfg = TrainConfig(
        task="denoise", data=[str(data_root / "train" / "gray400"), str(data_root / "train" / "color400")], out=str(out),
        preset=f"{setting.features}x{setting.blocks}+{setting.head}", steps=steps or 10**8, batch=setting.batch, patch=setting.patch, lr=4e-4,
        lr_decay_at=[0.55, 0.85], val_every=10**9, ckpt_every=10**9, device="cpu", time_budget_s=None if steps else seconds,
        channels_last=setting.channels_last, max_images=8 if quick else None, amp=setting.amp,
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
            psnr, cpu_seconds, steps = trained_psnr(setting, seconds, args.data_root, Path(tmp), args.quick, args.train_steps)
            rows.append([setting.name, str(steps), f"{cpu_seconds:.0f}", *(f"{psnr[k]:.2f}" for k in ("15", "25", "50"))])
            print(" | ".join(rows[-1]), flush=True)
    report.table(["setting", "steps", "CPU s", "Set12 σ 15", "σ 25", "σ 50"], rows)


def preset_settings() -> list[Setting]:
    from napari_hyperres.core.models import PRESETS

    return [replace(RECIPE, name=f"preset {name}", features=f, blocks=b) for name, (f, b) in PRESETS.items() if name != "tiny"]


class Stepper:
    """One setting's model, objective and optimiser, taking the trainer's step on demand."""

    def __init__(self, task_name: str, setting: Setting, device: str) -> None:
        import torch
        from skimage import data

        from napari_hyperres.core.models import Architecture, HyperResNet
        from napari_hyperres.core.plugins import get_task
        from trainer.config import TrainConfig
        from trainer.objectives import Restoration

        self.setting, self.device = setting, device
        task = get_task(task_name)
        arch = Architecture(in_channels=task.in_channels, features=setting.features, blocks=setting.blocks, head=setting.head)
        self.model = HyperResNet(arch).to(device).train()
        cfg = TrainConfig(task=task_name, data=[], out="", batch=setting.batch, patch=setting.patch, channels_last=setting.channels_last, amp=setting.amp)
        self.objective = Restoration(self.model, task, cfg, [float(v) for v in task.train_levels])
        self.module = torch.compile(self.objective.module) if setting.compiled else self.objective.module
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        image = torch.from_numpy(data.astronaut().transpose(2, 0, 1).copy()).float().div(255)[None]
        self.image = image.mean(dim=1, keepdim=True) if task.in_channels == 1 else image
        self.generator = torch.Generator().manual_seed(0)
        self.gray = torch.zeros(setting.batch, dtype=torch.bool)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def step(self) -> float:
        """Seconds of one step (crops, degradation at k levels, forward, L1, backward, Adam)."""
        import torch

        torch.set_num_threads(self.setting.threads)
        batch, patch, image = self.setting.batch, self.setting.patch, self.image
        start = time.perf_counter()
        ys = torch.randint(0, image.shape[-2] - patch, (batch,), generator=self.generator)
        xs = torch.randint(0, image.shape[-1] - patch, (batch,), generator=self.generator)
        clean = torch.cat([image[..., y : y + patch, x : x + patch] for y, x in zip(ys.tolist(), xs.tolist(), strict=True)]).to(self.device)
        loss, _ = self.objective.loss(self.module, clean, self.gray, self.generator, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - start


def interleaved_step_seconds(task_name: str, settings: list[Setting], rounds: int, steps: int, device: str) -> tuple[list[list[float]], list[int]]:
    """Seconds per step of every setting: two warm-up steps each (``torch.compile`` compiles in
    them), then ``rounds`` rounds in which each setting takes ``steps`` steps in turn, so a
    machine whose speed drifts (a shared host) slows every row alike. Also each setting's
    parameter count."""
    steppers = [Stepper(task_name, setting, device) for setting in settings]
    for stepper in steppers:
        stepper.step(), stepper.step()
    times: list[list[float]] = [[] for _ in steppers]
    for _ in range(rounds):
        for row, stepper in zip(times, steppers, strict=True):
            row.extend(stepper.step() for _ in range(steps))
    return times, [stepper.parameters for stepper in steppers]


def main() -> None:
    parser = common.base_parser(__doc__, "bench_train")
    parser.add_argument("--table", choices=["efficiency", "presets", "quality"], default="efficiency")
    parser.add_argument("--only", nargs="+", default=None, metavar="WORD", help="only the rows whose name holds one of these words (the first row is kept: the others are compared with it)")
    parser.add_argument("--seconds", type=float, default=None, help="quality table: training seconds per row (default 600; 5 with --quick)")
    parser.add_argument("--train-steps", type=int, default=None, help="quality table: train each row this many steps instead of --seconds (a fair race on a machine whose load changes)")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per row and round (default 4; 1 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds over all rows (default 4; 1 with --quick)")
    args = parser.parse_args()
    steps = args.steps or (1 if args.quick else 4)
    rounds = args.rounds or (1 if args.quick else 4)
    settings = {"efficiency": efficiency_settings, "presets": preset_settings, "quality": quality_settings}[args.table]()
    if args.only:
        settings = settings[:1] + [s for s in settings[1:] if any(word in s.name for word in args.only)]
    if args.threads:  # the recipe's thread count (rows that change it keep theirs)
        settings = [s if s.threads != RECIPE.threads else replace(s, threads=args.threads) for s in settings]
    if args.quick:  # checks the script runs: tiny networks and crops
        settings = [replace(s, features=max(4, s.features // 8), blocks=max(1, s.blocks // 4), patch=max(16, s.patch // 2)) for s in settings]
    report = common.Report(
        "Training throughput",
        f"The trainer's step for task {args.task} (k training levels per step), median of {rounds} rounds × {steps} steps, "
        "the rows taking turns in each round, after 2 warm-up steps each. Pixels / s counts every degraded crop the networks restore (batch × edge² × k).",
        device=args.device,
    )
    if args.table == "quality":
        if args.task != "denoise":
            parser.error("--table quality trains and scores denoise (Set12) only; drop --task")
        quality_table(args, settings, report)
        report.emit(args)
        return
    from napari_hyperres.core.plugins import get_task

    k = len(get_task(args.task).train_levels)
    rows, base = [], None
    all_times, all_params = interleaved_step_seconds(args.task, settings, rounds, steps, args.device)
    for setting, times, params in zip(settings, all_times, all_params, strict=True):
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
