"""Networks: the level-conditioned HyperRes hypernetwork, HAIR (image-conditioned) and the level estimator."""

from .hair import HairArchitecture, HairNet, hair_architecture_for
from .hyperres import (
    PRESETS,
    Architecture,
    GeneratedNet,
    HyperResNet,
    MetaConv2d,
    architecture_for,
    receptive_radius,
)

__all__ = [
    "PRESETS",
    "Architecture",
    "GeneratedNet",
    "HairArchitecture",
    "HairNet",
    "HyperResNet",
    "MetaConv2d",
    "architecture_for",
    "hair_architecture_for",
    "receptive_radius",
]
