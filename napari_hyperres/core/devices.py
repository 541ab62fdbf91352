"""Choosing the torch device (``cuda`` > ``mps`` > ``cpu``, or as asked) and the precision
networks compute in there.

torch is imported inside the functions, so command lines can offer :data:`PRECISIONS` without
importing it while they parse their arguments."""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING

from ..errors import DeviceError

if TYPE_CHECKING:
    import torch


def available_devices() -> list[str]:
    """Device names usable here, best first, always ending with ``"cpu"``."""
    import torch

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
    import torch

    if device is None or device == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"expected a device like 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps', got {device!r}") from exc
    if dev.type not in available_devices():
        raise DeviceError(f"device {dev.type!r} is not available here (available: {', '.join(available_devices())}); use device='auto' or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise DeviceError(f"{dev} does not exist: this machine has {count} CUDA device(s); use 'cuda:0'…'cuda:{count - 1}' or 'auto'")
    return dev


PRECISIONS = ("auto", "float32", "bfloat16", "float16")
"""What :func:`select_precision` accepts: the networks' arithmetic (the image, the global
residual and the output stay float32)."""

_CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic. Without them oneDNN emulates
bfloat16; with them its bfloat16 convolutions ran 2.2× as fast as float32 on an AMD EPYC, but
1.4× *slower* on an Intel Xeon that has AVX512-BF16 without AMX (BENCHMARKS.md, "Precision"):
the flag alone does not say, so :func:`cpu_bfloat16_speedup` measures."""

BFLOAT16_MIN_SPEEDUP = 1.25
"""How much faster than float32 (:func:`cpu_bfloat16_speedup`) bfloat16 must run on this CPU for
``precision="auto"`` to choose it: below that, float32's exact numbers are worth more."""


def cpu_has_native_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX: AMD Zen 4 and later,
    Intel Cooper Lake, Sapphire Rapids and later). Read from ``/proc/cpuinfo`` (Linux) or the
    given text; False where that cannot be read or torch's oneDNN cannot run bfloat16."""
    import torch

    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    if not flags.intersection(_CPU_BFLOAT16_FLAGS):
        return False
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@functools.cache
def cpu_bfloat16_speedup(threads: int) -> float:
    """float32's time ÷ bfloat16's for the networks' typical work on this CPU: three 48-channel
    3×3 convolutions with ReLU on a 64² channels-last tensor, each dtype's best of 5 runs taken
    in turns after a warm-up (≈ 50 ms in all, once per process and thread count: cached).

    0.0 where the CPU has no native bfloat16 (:func:`cpu_has_native_bfloat16`; not timed).
    ``threads``: torch's intra-op threads at the time (``torch.get_num_threads()``): only the
    cache key, as the timing runs with the threads torch has."""
    import torch
    import torch.nn.functional as F

    del threads  # only the cache key
    if not cpu_has_native_bfloat16():
        return 0.0
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(1, 48, 64, 64, generator=generator).contiguous(memory_format=torch.channels_last)
    kernels = [torch.randn(48, 48, 3, 3, generator=generator) * 0.05 for _ in range(3)]

    def run(dtype: torch.dtype) -> float:
        x, weights = features.to(dtype), [k.to(dtype) for k in kernels]
        start = time.perf_counter()
        with torch.no_grad():
            for weight in weights:
                x = F.relu(F.conv2d(x, weight, padding=1))
        return time.perf_counter() - start

    dtypes = (torch.float32, torch.bfloat16)
    for dtype in dtypes:
        run(dtype)  # oneDNN builds its kernels on the first call
    best = {dtype: min(run(dtype) for _ in range(5)) for dtype in dtypes}
    return best[torch.float32] / max(best[torch.bfloat16], 1e-9)


def bfloat16_pays_on_cpu() -> bool:
    """Whether ``precision="auto"`` computes in bfloat16 on this CPU: native bfloat16 that ran at
    least :data:`BFLOAT16_MIN_SPEEDUP` × float32's speed (:func:`cpu_bfloat16_speedup`)."""
    import torch

    return cpu_bfloat16_speedup(torch.get_num_threads()) >= BFLOAT16_MIN_SPEEDUP


PRECISION_VARIABLE = "NAPARI_HYPERRES_PRECISION"
"""Environment variable read in place of ``None``/``"auto"`` (e.g. ``float32`` for results that
are the same to float32 rounding on every machine, tile size and dask chunking)."""


def select_precision(device: torch.device, precision: str | None = None) -> torch.dtype:
    """The dtype networks compute in on ``device``.

    ``None``/``"auto"``: :data:`PRECISION_VARIABLE` when it is set, else float16 on CUDA,
    bfloat16 on CPUs where it was measured faster (:func:`bfloat16_pays_on_cpu`), float32
    otherwise (MPS, older CPUs, CPUs whose bfloat16 is slow). Both halve the time of a restore at a cost measured at ≤ 0.01 dB on
    Set12 and McMaster (BENCHMARKS.md); ``"float32"`` gives the validation tables' numbers
    exactly, and tiles, crops and dask chunks that equal the whole image to float32 rounding
    (in bfloat16 they differ where a rounding flips: ≤ 1/255 on real images).

    Raises:
        DeviceError: ``precision`` (or the variable) is not one of :data:`PRECISIONS`.
    """
    import torch

    choice = "auto" if precision is None else str(precision)
    if choice == "auto" and os.environ.get(PRECISION_VARIABLE, "").strip():
        choice = os.environ[PRECISION_VARIABLE].strip()
        if choice not in PRECISIONS:
            raise DeviceError(f"{PRECISION_VARIABLE}={choice!r}: expected one of {', '.join(PRECISIONS)}; unset it for auto")
    if choice not in PRECISIONS:
        raise DeviceError(f"expected a precision among {', '.join(PRECISIONS)}, got {precision!r}")
    if choice == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and bfloat16_pays_on_cpu():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, choice)
