"""Networks: the level-conditioned HyperRes hypernetwork (and, later, HAIR and the level estimator)."""

from .hyperres import PRESETS, Architecture, GeneratedNet, HyperResNet, MetaConv2d, architecture_for, receptive_radius

__all__ = ["PRESETS", "Architecture", "GeneratedNet", "HyperResNet", "MetaConv2d", "architecture_for", "receptive_radius"]
