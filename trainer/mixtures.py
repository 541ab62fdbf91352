"""Reference mixtures of an image-conditioned network: which mixture it chooses for each training
degradation, recorded in its weights file so the plugin can say what an image looks like
(:mod:`napari_hyperres.blind.mixtures`).

    python -m trainer reference-mixtures WEIGHTS --data DIR [DIR ...] --out FILE.safetensors

For each degradation of the ``auto`` mixture at :data:`~napari_hyperres.core.tasks.auto.READING_STRENGTHS`,
the mean mixture over ``count`` centre crops of training images; then the temperature of the
reading's softmax is fitted (maximum likelihood of the true kind) on ``count`` crops of *other*
training images, each under every kind at a random strength of its training range.
Validation images are never read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from napari_hyperres.blind.mixtures import Reference, mixture_distance, read_degradation
from napari_hyperres.core.tasks.auto import (
    MIXTURE,
    MIXTURE_WORDS,
    READING_STRENGTHS,
    apply_degradation,
)
from napari_hyperres.core.weights import load_weights, save_weights
from napari_hyperres.engine import Restorer

from .data import image_paths, load_for_task

TEMPERATURES = tuple(float(t) for t in np.geomspace(0.005, 0.5, 41))


def _crops(paths: list[Path], size: int) -> list[np.ndarray]:
    crops = []
    for path in paths:
        image, _ = load_for_task(path, "rgb")
        h, w = image.shape[:2]
        y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
        crops.append(np.ascontiguousarray(image[y : y + size, x : x + size]))
    return crops


def _mixture(restorer: Restorer, image: np.ndarray, kind: str, strength: float, seed: int) -> np.ndarray:
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    degraded = apply_degradation(x, kind, float(strength), torch.Generator().manual_seed(seed))[0].numpy().transpose(1, 2, 0)
    return restorer.restore_with_report(degraded.astype(np.float32), "auto", value_range=(0.0, 1.0))[1].selections


def reference_mixtures(weights: str, data: list[str], count: int = 24, size: int = 128, seed: int = 0) -> tuple[list[Reference], float, float]:
    """``(references, temperature, accuracy)``: accuracy is the share of the held-out crops whose
    kind the reading names (at the fitted temperature)."""
    restorer = Restorer("auto", weights=weights, device="cpu", precision="float32")  # what is stored: the same on every CPU
    paths = image_paths(data)
    order = np.random.default_rng(seed).permutation(len(paths))
    fit = _crops([paths[i] for i in order[:count]], size)
    held_out = _crops([paths[i] for i in order[count : 2 * count]], size)
    references = []
    for kind, strengths in READING_STRENGTHS.items():
        label, strength_label = MIXTURE_WORDS[kind]
        for strength in strengths:
            mixtures = [_mixture(restorer, image, kind, strength, seed=i) for i, image in enumerate(fit)]
            references.append(Reference(kind, label, strength, strength_label, np.mean(mixtures, axis=0)))
    cases = []  # every held-out crop under every kind, at a random strength of the training range
    strengths = np.random.default_rng(seed + 1)
    for i, image in enumerate(held_out):
        for kind, (low, high) in MIXTURE.items():
            cases.append((kind, _mixture(restorer, image, kind, float(strengths.uniform(low, high)), seed=1000 + i)))

    def log_likelihood(temperature: float) -> float:
        total = 0.0
        for kind, mixture in cases:
            distances = np.array([mixture_distance(mixture, ref.mixture) for ref in references])
            weights = np.exp(-(distances - distances.min()) / temperature)
            mine = sum(w for w, ref in zip(weights, references, strict=True) if ref.kind == kind)
            total += np.log(max(mine / weights.sum(), 1e-12))
        return total

    temperature = max(TEMPERATURES, key=log_likelihood)
    accuracy = float(np.mean([read_degradation(m, references, temperature).kind == kind for kind, m in cases]))
    return references, temperature, accuracy


def record(weights: str, data: list[str], out: str, count: int = 24) -> tuple[Path, float, float]:
    """Write ``weights`` again to ``out`` with its reference mixtures in the metadata."""
    references, temperature, accuracy = reference_mixtures(weights, data, count)
    tensors, info = load_weights(weights)
    extra = {**info.extra, "reference_mixtures": [ref.to_dict() for ref in references], "mixture_temperature": temperature,
             "mixture_reading_accuracy": {"held_out_training_crops": count, "kind_accuracy": round(accuracy, 3)}}
    return save_weights(out, tensors, dataclasses.replace(info, extra=extra)), temperature, accuracy
