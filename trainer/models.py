"""Trainable model kinds behind one interface: ``forward(x, c)``, ``generate(c)``, ``arch``.

- ``hyperres``: :class:`napari_hyperres.core.models.HyperResNet` (k = c·w + b).
- ``dedicated``: the same backbone with ordinary kernels, for one level.
- ``adafm``: a dedicated base with depth-wise AdaFM layers after every residual conv;
  ``c`` is the interpolation coefficient λ (g* = I + λ(g − I), b* = λb).
- ``hair``: :class:`napari_hyperres.core.models.hair.HairNet`, image-conditioned (``c`` ignored).
- ``dni``: parameter interpolation θ = (1 − α)θ_a + αθ_b of two dedicated networks.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from napari_hyperres.core.models.estimator import EstimatorArchitecture, LevelEstimator
from napari_hyperres.core.models.hair import (
    DECODER_CONVS,
    HairArchitecture,
    HairNet,
    hair_architecture_for,
)
from napari_hyperres.core.models.hyperres import (
    Architecture,
    GeneratedNet,
    HyperResNet,
    ResBlock,
    SharedLayers,
    _init_conv,
    architecture_for,
)


class DedicatedNet(nn.Module):
    """The HyperRes backbone with ordinary (trainable) residual kernels; ignores ``c``."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        blocks = []
        for _ in range(arch.blocks):
            convs = [nn.Conv2d(arch.features, arch.features, 3, padding=1) for _ in range(2)]
            for conv in convs:
                _init_conv(conv)
            blocks.append(ResBlock(*convs))
        self.net = GeneratedNet(SharedLayers(arch), nn.ModuleList(blocks), arch)

    def forward(self, x: torch.Tensor, c: float = 0.0) -> torch.Tensor:
        return self.net(x)

    def generate(self, c: float) -> nn.Module:
        return self.net


class AdaFM(nn.Module):
    """Depth-wise 5×5 filter g (identity at start) and bias b, interpolated by λ."""

    def __init__(self, channels: int, size: int = 5) -> None:
        super().__init__()
        weight = torch.zeros(channels, 1, size, size)
        weight[:, 0, size // 2, size // 2] = 1.0
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.size = size

    def interpolated(self, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        identity = torch.zeros_like(self.weight)
        identity[:, 0, self.size // 2, self.size // 2] = 1.0
        return identity + lam * (self.weight - identity), lam * self.bias

    def forward(self, x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
        weight, bias = self.interpolated(lam)
        return F.conv2d(x, weight, bias, padding=self.size // 2, groups=x.shape[1])


class _AdaFMConv(nn.Module):
    def __init__(self, conv: nn.Conv2d, adafm: AdaFM, lam: float) -> None:
        super().__init__()
        self.conv, self.adafm, self.lam = conv, adafm, lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adafm(self.conv(x), self.lam)


class AdaFMNet(nn.Module):
    """AdaFM-Net: a frozen dedicated base plus AdaFM layers after each residual conv (trainable)."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        self.base = DedicatedNet(arch)
        self.base.requires_grad_(False)
        self.adafm = nn.ModuleList(AdaFM(arch.features) for _ in range(2 * arch.blocks))

    def generate(self, c: float) -> nn.Module:
        """The network at λ = ``c`` (``c`` in [0, 1]; 0 = base level, 1 = end level)."""
        blocks = []
        for i, block in enumerate(self.base.net.blocks):
            blocks.append(ResBlock(_AdaFMConv(block.conv1, self.adafm[2 * i], c), _AdaFMConv(block.conv2, self.adafm[2 * i + 1], c)))
        return GeneratedNet(self.base.net.shared, nn.ModuleList(blocks), self.arch)

    def forward(self, x: torch.Tensor, c: float = 1.0) -> torch.Tensor:
        return self.generate(c)(x)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.adafm.parameters())


class DNINet(nn.Module):
    """Deep network interpolation between two dedicated networks; ``c`` is α in [0, 1]."""

    def __init__(self, start: DedicatedNet, end: DedicatedNet) -> None:
        super().__init__()
        self.arch = start.arch
        self.start, self.end = start, end

    def generate(self, c: float) -> nn.Module:
        net = copy.deepcopy(self.start)
        with torch.no_grad():
            for p, a, b in zip(net.parameters(), self.start.parameters(), self.end.parameters(), strict=True):
                p.copy_((1 - c) * a + c * b)
        return net.net

    def forward(self, x: torch.Tensor, c: float = 0.0) -> torch.Tensor:
        return self.generate(c)(x)


def _under(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` below ``prefix`` (``"net.shared."``), with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _fill_decoder_box(hair: HairNet, shared_state: dict[str, torch.Tensor], jitter: float, generator: torch.Generator | None) -> None:
    """Every candidate of HAIR's :class:`DecoderBox` starts as the shared decoder convs in
    ``shared_state`` (``SharedLayers`` keys), plus jitter (as the blocks' candidates)."""
    assert hair.decoder is not None
    for name in DECODER_CONVS:
        box = getattr(hair.decoder, name)
        _copy_candidates(box.weight, box.bias, shared_state[f"{name}.weight"], shared_state[f"{name}.bias"], jitter, generator)


def _copy_candidates(weight: nn.Parameter, bias: nn.Parameter, kernel: torch.Tensor, kernel_bias: torch.Tensor,
                     jitter: float, generator: torch.Generator | None) -> None:
    """Candidates ``weight`` ``(N, ...)`` = ``kernel`` + N(0, (jitter·std(kernel))²); ``bias`` = ``kernel_bias``."""
    noise = torch.randn(weight.shape, generator=generator) * (jitter * float(kernel.std()))
    weight.copy_(kernel.expand_as(weight) + noise.to(weight))
    bias.copy_(kernel_bias.expand_as(bias))


def _load_shared(hair: HairNet, shared_state: dict[str, torch.Tensor], jitter: float, generator: torch.Generator | None) -> None:
    """The shared layers from ``shared_state``; with ``select_decoder`` only the head, the decoder convs seed the box."""
    if hair.decoder is None:
        hair.shared.load_state_dict(shared_state)
        return
    hair.shared.head.load_state_dict(_under(shared_state, "head."))
    _fill_decoder_box(hair, shared_state, jitter, generator)


def upcycle_into_hair(hair: HairNet, dedicated_state: dict[str, torch.Tensor], jitter: float = 0.01, generator: torch.Generator | None = None) -> None:
    """Start HAIR from a trained fixed network of the same backbone ("sparse upcycling").

    Shared head/tail and the first ``blocks // 2`` blocks are copied; every candidate of a
    stage's weight box starts as that stage's first block, plus Gaussian jitter of
    ``jitter`` × the kernel's std so the candidates can drift apart (with ``select_decoder``
    the decoder box's candidates start as the fixed network's decoder convs, the same way).
    With one box per generated block (``stages == generated_blocks``) and no jitter, HAIR
    then computes exactly what the fixed network computes, whatever its selections.
    The classifier and selecting nets keep their fresh initialisation.

    Args:
        dedicated_state: a :class:`DedicatedNet` state dict (keys ``net.shared.*``, ``net.blocks.*``).
    """
    arch = hair.arch
    block_keys = {k.split(".")[2] for k in dedicated_state if k.startswith("net.blocks.")}
    if len(block_keys) != arch.blocks:
        raise ValueError(f"the fixed network has {len(block_keys)} residual blocks, HAIR expects {arch.blocks}; use the same preset")
    with torch.no_grad():
        _load_shared(hair, _under(dedicated_state, "net.shared."), jitter, generator)
        for i, block in enumerate(hair.fixed):
            block.load_state_dict(_under(dedicated_state, f"net.blocks.{i}."))
        for stage, box in enumerate(hair.boxes):
            first = next(i for i in range(arch.generated_blocks) if hair.stage_of(i) == stage) + arch.fixed_blocks
            for conv, (weight, bias) in enumerate(((box.weight1, box.bias1), (box.weight2, box.bias2)), start=1):
                prefix = f"net.blocks.{first}.conv{conv}."
                _copy_candidates(weight, bias, dedicated_state[prefix + "weight"], dedicated_state[prefix + "bias"], jitter, generator)


def select_hair_decoder(hair: HairNet, plain_state: dict[str, torch.Tensor], jitter: float = 0.01, generator: torch.Generator | None = None) -> None:
    """Start a ``select_decoder`` HAIR from a trained HAIR whose decoder is shared.

    Everything is copied; the decoder box's candidates start as the shared decoder convs
    (plus jitter), and the decoder's selecting net as a copy of the last generated block's,
    so the decoder's candidates split the images the way that block's already do. Without
    jitter the network then computes exactly what the plain HAIR computes.

    Args:
        plain_state: a :class:`HairNet` state dict without ``select_decoder``.
    """
    if hair.decoder is None:
        raise ValueError("select_hair_decoder needs a HAIR architecture with select_decoder=True")
    arch = hair.arch
    with torch.no_grad():
        _load_shared(hair, _under(plain_state, "shared."), jitter, generator)
        for name in ("fixed", "classifier", "boxes"):
            getattr(hair, name).load_state_dict(_under(plain_state, f"{name}."))
        for i, selector in enumerate(hair.selectors):
            selector.load_state_dict(_under(plain_state, f"selectors.{min(i, arch.generated_blocks - 1)}."))


@dataclass(frozen=True)
class ModelKind:
    """A trainable model family: its architecture record at a preset, and a fresh model of it.

    Attributes:
        architecture: ``(preset, in_channels, select_decoder, features) -> record``.
        build: ``record -> nn.Module`` (fresh initialisation).
        record: the record's class (rebuilds it from a weights file's architecture dict).
    """

    architecture: Callable[[str, int, bool, int], object]
    build: Callable[[object], nn.Module]
    record: type


def _plain(preset: str, in_channels: int, select_decoder: bool, features: int) -> Architecture:
    if select_decoder:
        raise ValueError("--select-decoder is a HAIR option; this kind has no selection (use --kind hair)")
    return architecture_for(preset, in_channels)


KINDS: dict[str, ModelKind] = {
    "hyperres": ModelKind(_plain, HyperResNet, Architecture),
    "dedicated": ModelKind(_plain, DedicatedNet, Architecture),
    "adafm": ModelKind(_plain, AdaFMNet, Architecture),
    "hair": ModelKind(
        lambda preset, channels, select_decoder, features: dataclasses.replace(
            hair_architecture_for(preset, channels), select_decoder=select_decoder
        ),
        HairNet,
        HairArchitecture,
    ),
    "estimator": ModelKind(
        lambda preset, channels, select_decoder, features: EstimatorArchitecture(in_channels=channels, features=features),
        LevelEstimator,
        EstimatorArchitecture,
    ),
}
"""Every model kind the trainer builds, in one table (``--kind`` offers all but the estimator,
which ``train-estimator`` trains)."""


def architecture(kind: str, preset: str, in_channels: int, select_decoder: bool = False, features: int = 32):
    """The architecture record of ``kind`` at ``preset`` (HAIR has its own presets;
    ``select_decoder`` is HAIR's only; the estimator has one shape, ``features`` wide)."""
    if kind not in KINDS:
        raise ValueError(f"expected a kind among {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind].architecture(preset, in_channels, select_decoder, features)


def build(kind: str, arch) -> nn.Module:
    """A fresh trainable model of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"expected a kind among {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind].build(arch)


def baseline_builders() -> dict[str, Callable[[dict], nn.Module]]:
    """How :func:`napari_hyperres.core.weights.load_model` rebuilds the trainer-only kinds
    (``dedicated``, ``adafm``) from weights files (its ``builders``); the library knows the others."""
    return {name: (lambda arch, kind=KINDS[name]: kind.build(kind.record(**arch))) for name in ("dedicated", "adafm")}
