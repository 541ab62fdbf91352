"""HAIR: an image-conditioned hypernetwork for all-in-one restoration.

The same backbone as :mod:`.hyperres` (shared head, residual body at half
resolution, post-body conv + long skip, pixel-shuffle upsampler, tail). The first
half of the body has ordinary kernels. A *Classifier* (residual blocks +
stride-2 downsampling + global average pooling, no softmax) turns the features
at the middle of the body into a Global Information Vector (GIV). Every block of
the second half owns a *Hyper Selecting Net* (MLP + softmax over N) that turns
the GIV into N mixing weights for a *weight box* of N candidate kernel sets; the
blocks of one stage share that stage's box. With ``select_decoder`` the rest of the
second half (post-body conv, upsampler, refine and tail convs) is selected the same
way, from a :class:`DecoderBox` with its own selecting net, so the whole second half
is generated, as the paper does. Convolution is linear in its kernel,
so the mixed kernel ``Σ_n s_n·k_n`` equals the ``s``-weighted sum of the N expert
convolutions. During training every sample gets its own mixture (a grouped
convolution); at inference :meth:`HairNet.generate_for_image` fixes one mixture
for a whole plane and returns an ordinary network, so tiles agree (no seams).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hyperres import (
    GeneratedNet,
    ResBlock,
    SharedLayers,
    _init_conv,
    _pad_even,
    decode_with,
    frozen_conv,
)


@dataclass(frozen=True)
class HairArchitecture:
    """Shape of a HAIR network.

    Attributes:
        in_channels: image channels (1 gray, 3 RGB).
        features: channels inside the network.
        blocks: residual blocks; the first ``blocks // 2`` are fixed, the rest generated.
        candidates: N, kernel sets in each weight box.
        stages: weight boxes over the generated blocks (consecutive blocks of a stage share one).
        giv: length of the Global Information Vector.
        select_decoder: the post-body conv, upsampler, refine and tail convs are selected
            from a weight box too (one more selecting net); otherwise they are shared.
    """

    in_channels: int = 3
    features: int = 48
    blocks: int = 8
    candidates: int = 4
    stages: int = 2
    giv: int = 64
    select_decoder: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def fixed_blocks(self) -> int:
        return self.blocks // 2

    @property
    def generated_blocks(self) -> int:
        return self.blocks - self.fixed_blocks

    @property
    def selected_parts(self) -> int:
        """Rows of a selection: one per generated block, plus the decoder with ``select_decoder``."""
        return self.generated_blocks + int(self.select_decoder)

    def __post_init__(self) -> None:
        if self.generated_blocks < 1 or not 1 <= self.stages <= self.generated_blocks:
            raise ValueError(f"expected 1 <= stages <= generated blocks ({self.generated_blocks}), got {self.stages}")
        if self.candidates < 1:
            raise ValueError(f"expected at least one candidate, got {self.candidates}")


HAIR_PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    # features, blocks, candidates, stages, giv
    "paper": (64, 16, 4, 4, 128),
    "lite": (48, 8, 4, 4, 64),  # one box per generated block, as small
    "small": (32, 4, 4, 2, 32),  # one box per generated block: HAIR small contains the fixed small network
    "tiny": (8, 2, 2, 1, 8),
}


def hair_architecture_for(preset: str, in_channels: int) -> HairArchitecture:
    """The :class:`HairArchitecture` of a named preset (``paper``, ``lite``, ``tiny``)."""
    if preset not in HAIR_PRESETS:
        raise ValueError(f"expected a preset among {sorted(HAIR_PRESETS)}, got {preset!r}")
    f, b, n, s, g = HAIR_PRESETS[preset]
    return HairArchitecture(in_channels=in_channels, features=f, blocks=b, candidates=n, stages=s, giv=g)


def _plain_block(features: int) -> ResBlock:
    convs = [nn.Conv2d(features, features, 3, padding=1) for _ in range(2)]
    for conv in convs:
        _init_conv(conv)
    return ResBlock(*convs)


class Classifier(nn.Module):
    """Mid-network features ``(B, F, h, w)`` → GIV ``(B, giv)`` (residual blocks, stride-2 downsampling, GAP)."""

    def __init__(self, features: int, giv: int) -> None:
        super().__init__()
        self.down1 = nn.Conv2d(features, giv, 3, stride=2, padding=1)
        self.block1 = _plain_block(giv)
        self.down2 = nn.Conv2d(giv, giv, 3, stride=2, padding=1)
        self.block2 = _plain_block(giv)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Before pooling: ``(B, giv, h/4, w/4)``."""
        y = self.block1(F.relu(self.down1(x)))
        return self.block2(F.relu(self.down2(y)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(-2, -1))


class SelectingNet(nn.Module):
    """GIV ``(B, giv)`` → mixing weights ``(B, N)`` (softmax, rows sum to 1)."""

    def __init__(self, giv: int, candidates: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(giv, giv), nn.ReLU(), nn.Linear(giv, candidates))

    def logits(self, giv: torch.Tensor) -> torch.Tensor:
        """Scores before the softmax: ``(B, N)``."""
        return self.mlp(giv)

    def forward(self, giv: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(giv), dim=-1)


def _mix(selection: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``Σ_n s_n·p_n`` per sample: selection ``(B, N)``, candidates ``(N, ...)`` → ``(B, ...)``."""
    return torch.einsum("bn,n...->b...", selection.to(candidates.dtype), candidates)


def _per_sample_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Each sample through its own 3×3 conv (one grouped convolution).

    Shape:
        - x: ``(B, C_in, H, W)``; weight: ``(B, C_out, C_in, 3, 3)``; bias: ``(B, C_out)``;
          output: ``(B, C_out, H, W)``.
    """
    b, c_in, h, w = x.shape
    c_out = weight.shape[1]
    y = F.conv2d(x.reshape(1, b * c_in, h, w), weight.reshape(b * c_out, c_in, 3, 3), bias.reshape(-1), padding=1, groups=b)
    return y.reshape(b, c_out, h, w)


def _candidate_kernels(candidates: int, c_out: int, c_in: int) -> torch.Tensor:
    """``(N, C_out, C_in, 3, 3)`` kernels, each Kaiming-normal × 0.1 (as :func:`_init_conv`)."""
    std = (2.0 / (c_in * 9)) ** 0.5 * 0.1
    return torch.randn(candidates, c_out, c_in, 3, 3) * std


class WeightBox(nn.Module):
    """N candidate kernel sets for one residual block (conv1 and conv2, kernels and biases).

    ``mixed(s)`` gives the kernels ``Σ_n s_n·k_n``; ``forward(x, s)`` applies a
    per-sample mixture ``s`` ``(B, N)`` with one grouped convolution per conv.
    """

    def __init__(self, features: int, candidates: int) -> None:
        super().__init__()
        self.weight1 = nn.Parameter(_candidate_kernels(candidates, features, features))
        self.weight2 = nn.Parameter(_candidate_kernels(candidates, features, features))
        self.bias1 = nn.Parameter(torch.zeros(candidates, features))
        self.bias2 = nn.Parameter(torch.zeros(candidates, features))

    def mixed(self, selection: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Kernels for mixtures ``selection`` ``(B, N)``: ``(B, F, F, 3, 3)`` ×2 and biases ``(B, F)`` ×2."""
        return tuple(_mix(selection, p) for p in (self.weight1, self.bias1, self.weight2, self.bias2))

    def expert(self, index: int) -> ResBlock:
        """Candidate ``index`` as an ordinary block (a one-hot selection)."""
        selection = F.one_hot(torch.tensor([index]), self.weight1.shape[0]).to(self.weight1)
        return self.generate(selection)

    def generate(self, selection: torch.Tensor) -> ResBlock:
        """An ordinary residual block for one mixture ``selection`` ``(1, N)`` (detached)."""
        w1, b1, w2, b2 = (t[0].detach() for t in self.mixed(selection))
        return ResBlock(frozen_conv(w1, b1), frozen_conv(w2, b2))

    def forward(self, x: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2 = self.mixed(selection)
        return x + _per_sample_conv(F.relu(_per_sample_conv(x, w1, b1)), w2, b2)


class ConvBox(nn.Module):
    """N candidate 3×3 convs ``C_in → C_out``: kernels ``(N, C_out, C_in, 3, 3)``, biases ``(N, C_out)``."""

    def __init__(self, c_in: int, c_out: int, candidates: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(_candidate_kernels(candidates, c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(candidates, c_out))

    def generate(self, selection: torch.Tensor) -> nn.Conv2d:
        """The ordinary conv of one mixture ``selection`` ``(1, N)`` (detached)."""
        return frozen_conv(_mix(selection, self.weight)[0].detach(), _mix(selection, self.bias)[0].detach())

    def forward(self, x: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, H, W)`` through each sample's mixed conv → ``(B, C_out, H, W)``."""
        return _per_sample_conv(x, _mix(selection, self.weight), _mix(selection, self.bias))


DECODER_CONVS = ("body_tail", "upsample", "refine", "tail")
"""The convs of :class:`~.hyperres.SharedLayers` after the body, which a :class:`DecoderBox` selects."""


class DecoderBox(nn.Module):
    """Candidate sets of the decoder convs (post-body conv, upsampler, refine, tail) of
    :class:`~.hyperres.SharedLayers`; ``decode`` is the same decoder (:func:`~.hyperres.decode_with`)
    with per-sample mixtures."""

    def __init__(self, features: int, in_channels: int, candidates: int) -> None:
        super().__init__()
        f = features
        self.body_tail = ConvBox(f, f, candidates)
        self.upsample = ConvBox(f, 4 * f, candidates)
        self.refine = ConvBox(f, f, candidates)
        self.tail = ConvBox(f, in_channels, candidates)

    def decode(self, x: torch.Tensor, features: torch.Tensor, body: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
        """Image ``x`` ``(B, C, H, W)``, head ``features`` and ``body`` ``(B, F, H/2, W/2)``,
        mixtures ``(B, N)`` → restored ``(B, C, H, W)``."""
        return decode_with(lambda name, y: getattr(self, name)(y, selection), x, features, body)

    def generate(self, selection: torch.Tensor, head: nn.Conv2d, arch: HairArchitecture) -> SharedLayers:
        """``SharedLayers`` with ``head`` and the decoder convs of one mixture ``selection`` ``(1, N)``."""
        layers = SharedLayers(arch)  # type: ignore[arg-type]  (reads in_channels and features)
        layers.head = head
        for name in DECODER_CONVS:
            setattr(layers, name, getattr(self, name).generate(selection))
        return layers


class HairNet(nn.Module):
    """The image-conditioned network: ``forward(x)`` restores each sample with its own mixture.

    Shape:
        - x: ``(B, in_channels, H, W)``, any H, W; output: same shape.
    """

    def __init__(self, arch: HairArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.shared = SharedLayers(arch)  # type: ignore[arg-type]  (reads in_channels and features)
        self.fixed = nn.ModuleList(_plain_block(arch.features) for _ in range(arch.fixed_blocks))
        self.classifier = Classifier(arch.features, arch.giv)
        self.boxes = nn.ModuleList(WeightBox(arch.features, arch.candidates) for _ in range(arch.stages))
        self.selectors = nn.ModuleList(SelectingNet(arch.giv, arch.candidates) for _ in range(arch.selected_parts))
        self.decoder: DecoderBox | None = None
        if arch.select_decoder:  # the shared decoder convs give way to the box (only the head stays shared)
            for name in DECODER_CONVS:
                delattr(self.shared, name)
            self.decoder = DecoderBox(arch.features, arch.in_channels, arch.candidates)

    def stage_of(self, block: int) -> int:
        """The weight box used by generated block ``block`` (consecutive blocks share a stage)."""
        return block * self.arch.stages // self.arch.generated_blocks

    def _middle(self, padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.shared.encode(padded)
        body = features
        for block in self.fixed:
            body = block(body)
        return features, body

    def giv(self, x: torch.Tensor) -> torch.Tensor:
        """Global Information Vector ``(B, giv)`` of images ``x`` ``(B, C, H, W)``."""
        padded, _, _ = _pad_even(x)
        return self.classifier(self._middle(padded)[1])

    def selection_logits(self, giv: torch.Tensor) -> torch.Tensor:
        """Scores before the softmax of every selected part: ``(B, parts, N)`` (generated blocks, then the decoder)."""
        return torch.stack([selector.logits(giv) for selector in self.selectors], dim=1)

    def selections(self, giv: torch.Tensor) -> torch.Tensor:
        """Mixing weights of every selected part: ``(B, parts, N)`` (rows sum to 1; parts as in :meth:`selection_logits`)."""
        return torch.softmax(self.selection_logits(giv), dim=-1)

    def forward_with_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Restore ``x``; also return the selection scores ``(B, parts, N)`` it used (for training penalties)."""
        padded, h, w = _pad_even(x)
        features, body = self._middle(padded)
        logits = self.selection_logits(self.classifier(body))
        selections = torch.softmax(logits, dim=-1)
        for i in range(self.arch.generated_blocks):
            body = self.boxes[self.stage_of(i)](body, selections[:, i])
        if self.decoder is not None:
            out = self.decoder.decode(padded, features, body, selections[:, -1])
        else:
            out = self.shared.decode(padded, features, body)
        return out[..., :h, :w], logits

    def forward(self, x: torch.Tensor, c: float | None = None) -> torch.Tensor:
        """Restore ``x``; ``c`` is ignored (the image chooses its own weights)."""
        return self.forward_with_logits(x)[0]

    def generate(self, selections: torch.Tensor) -> GeneratedNet:
        """An ordinary network for one set of mixtures ``selections`` ``(parts, N)``."""
        generated = [self.boxes[self.stage_of(i)].generate(selections[i : i + 1]) for i in range(self.arch.generated_blocks)]
        shared = self.shared
        if self.decoder is not None:
            shared = self.decoder.generate(selections[-1:], self.shared.head, self.arch)
        return GeneratedNet(shared, nn.ModuleList([*self.fixed, *generated]), self.arch)  # type: ignore[arg-type]

    @torch.no_grad()
    def generate_for_image(self, crops: torch.Tensor) -> tuple[GeneratedNet, torch.Tensor]:
        """The network for an image seen through ``crops`` ``(K, C, h, w)`` (GIVs averaged).

        Returns the plain network and the mixtures ``(parts, N)`` it uses.
        """
        giv = self.giv(crops).mean(dim=0, keepdim=True)
        selections = self.selections(giv)[0]
        return self.generate(selections).eval(), selections
