"""Choosing the torch device: ``cuda`` > ``mps`` > ``cpu``, or as asked."""

from __future__ import annotations

import torch

from ..errors import DeviceError


def available_devices() -> list[str]:
    """Device names usable here, best first, always ending with ``"cpu"``."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``None``/``"auto"`` picks the best available.

    Raises:
        DeviceError: the named device is not available here (e.g. ``"cuda"`` without a GPU).
    """
    if device is None or device == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"expected a device like 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps', got {device!r}") from exc
    if dev.type not in available_devices():
        raise DeviceError(f"device {dev.type!r} is not available here (available: {', '.join(available_devices())}); use device='auto' or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"{dev} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev
