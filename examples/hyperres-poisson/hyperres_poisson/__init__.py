"""Example napari-hyperres plugin: the ``poisson`` task (photon-limited microscopy noise)."""

from .task import POISSON, READ_NOISE_ELECTRONS, degrade_poisson, noise_std_at_white

__all__ = ["POISSON", "READ_NOISE_ELECTRONS", "degrade_poisson", "noise_std_at_white"]
