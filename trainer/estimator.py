"""Training a task's level estimator: the one training loop (:func:`trainer.loop.train`) with the
:class:`~trainer.objectives.LevelEstimation` objective, then the weights file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import TrainConfig


@dataclass
class EstimatorConfig:
    """One estimator run: task, data folders, output weights file, budget."""

    task: str
    data: list[str]
    out: str
    steps: int = 2000
    batch: int = 32
    patch: int = 64
    lr: float = 1e-3
    features: int = 32
    seed: int = 0
    device: str = "auto"
    time_budget_s: float | None = None
    max_images: int | None = None
    init_from: str | None = None
    relative: bool = False
    """Weight each crop's L1 by 1 / its level fraction (floored at ``relative_floor``): the
    loss then measures relative error, which low noise levels need (σ 5 vs σ 75)."""
    relative_floor: float = 0.05
    quantize_8bit: float = 0.0
    """Share of crops rounded and clipped to 8-bit values after degrading: what an 8-bit file
    holds (its noise is quantised and clipped at 0 and 255, which lowers its spread)."""
    low_end_share: float = 0.0
    """Share of crops degraded at the low end of the task's range (denoise: left clean), see
    :attr:`TrainConfig.low_end_share`."""
    jpeg_share: float = 0.0
    """Share of crops saved as JPEG files after degrading (:attr:`TrainConfig.jpeg_share`)."""
    jpeg_qualities: tuple[float, float] = (80.0, 98.0)
    context: int = 16
    """Pixels degraded around each crop and then cut off (see :class:`trainer.objectives.LevelEstimation`)."""

    @property
    def run_dir(self) -> Path:
        """Where the run's checkpoint and log go: ``OUT`` without ``.safetensors``, plus ``.run``."""
        out = Path(self.out)
        return out.with_name(out.name.removesuffix(".safetensors") + ".run")

    def training(self) -> TrainConfig:
        """The :class:`TrainConfig` of this run (kind ``"estimator"``; lr / 10 after 70 % of the budget)."""
        return TrainConfig(
            task=self.task, data=list(self.data), out=str(self.run_dir), kind="estimator", preset="estimator",
            steps=self.steps, batch=self.batch, patch=self.patch, lr=self.lr, lr_decay_at=[0.7], seed=self.seed,
            device=self.device, init_from=self.init_from, max_images=self.max_images, time_budget_s=self.time_budget_s,
            quantize_8bit=self.quantize_8bit, estimator_features=self.features, context=self.context,
            relative_loss=self.relative, relative_floor=self.relative_floor, low_end_share=self.low_end_share,
            jpeg_share=self.jpeg_share, jpeg_qualities=tuple(self.jpeg_qualities), log_every=200, ckpt_every=1000,
        )


def train_estimator(cfg: EstimatorConfig, progress: bool = True, resume: bool = False) -> Path:
    """Train a :class:`~napari_hyperres.core.models.estimator.LevelEstimator` and write its weights to ``cfg.out``.

    The training patch is recorded in the weights: :func:`napari_hyperres.blind.estimate.estimate_level`
    looks through crops of that size, since the pooled statistics depend on it. ``resume``
    continues the run in :attr:`EstimatorConfig.run_dir` exactly.
    """
    from .export import export_run
    from .loop import train

    run_dir = train(cfg.training(), resume=resume, progress=progress)
    return export_run(run_dir, f"{cfg.task}.estimator", out=cfg.out)
