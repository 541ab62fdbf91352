"""Networks: the level-conditioned HyperRes hypernetwork, HAIR (image-conditioned) and the level estimator."""

from .hair import HAIR_PRESETS, HairArchitecture, HairNet, hair_architecture_for
from .hyperres import (
    PRESETS,
    Architecture,
    GeneratedNet,
    HyperResNet,
    MetaConv2d,
    architecture_for,
    preset_shape,
    receptive_radius,
)

__all__ = [
    "HAIR_PRESETS",
    "PRESETS",
    "Architecture",
    "GeneratedNet",
    "HairArchitecture",
    "HairNet",
    "HyperResNet",
    "MetaConv2d",
    "architecture_for",
    "hair_architecture_for",
    "preset_shape",
    "receptive_radius",
]
