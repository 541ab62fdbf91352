"""What networks compute in (``Restorer(precision=...)``): bfloat16 on CPUs with native bfloat16,
float32 elsewhere, float16 on CUDA; the image and the global residual stay float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import identity_model, strong_model

import napari_hyperres.core.devices as devices
from napari_hyperres.core.devices import (
    BFLOAT16_MIN_SPEEDUP,
    PRECISION_VARIABLE,
    PRECISIONS,
    bfloat16_pays_on_cpu,
    cpu_bfloat16_speedup,
    cpu_has_native_bfloat16,
    select_precision,
)
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import DeviceError
from napari_hyperres.io.files import read_image

CPU = torch.device("cpu")
ZEN4_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
OLDER_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f avx512bw\n"


def test_native_bfloat16_is_read_from_the_cpu_flags():
    assert not cpu_has_native_bfloat16(OLDER_FLAGS)
    assert not cpu_has_native_bfloat16("")  # no flags line (a non-x86 /proc/cpuinfo)
    # with the flag, what oneDNN in this torch build can run decides
    assert cpu_has_native_bfloat16(ZEN4_FLAGS) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def test_auto_precision_follows_the_device_and_the_cpu(monkeypatch):
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)  # the suite sets it (conftest)
    assert select_precision(CPU) == select_precision(CPU, "auto")
    assert select_precision(CPU) == (torch.bfloat16 if bfloat16_pays_on_cpu() else torch.float32)
    assert select_precision(torch.device("cuda"), "auto") == torch.float16
    assert select_precision(torch.device("mps"), None) == torch.float32
    for name in PRECISIONS[1:]:
        assert select_precision(CPU, name) == getattr(torch, name)


def test_auto_takes_bfloat16_only_where_it_was_measured_faster(monkeypatch):
    """The CPU flag does not say (an Intel Xeon with AVX512-BF16 but no AMX ran bfloat16 1.4×
    slower): auto follows the timed speed-up, and a CPU without native bfloat16 is not timed."""
    monkeypatch.delenv(PRECISION_VARIABLE, raising=False)
    for speedup, expected in ((0.64, torch.float32), (BFLOAT16_MIN_SPEEDUP - 0.01, torch.float32), (2.1, torch.bfloat16)):
        monkeypatch.setattr(devices, "cpu_bfloat16_speedup", lambda threads, value=speedup: value)
        assert select_precision(CPU) == expected
        assert Restorer("denoise", device="cpu", model=identity_model(3)).dtype == expected
    monkeypatch.undo()
    monkeypatch.setattr(devices, "cpu_has_native_bfloat16", lambda cpuinfo=None: False)
    cpu_bfloat16_speedup.cache_clear()
    try:
        assert cpu_bfloat16_speedup(1) == 0.0  # not timed
    finally:
        cpu_bfloat16_speedup.cache_clear()


def test_the_bfloat16_speed_up_is_timed_once_per_thread_count():
    threads = torch.get_num_threads()
    first = cpu_bfloat16_speedup(threads)
    assert first == cpu_bfloat16_speedup(threads)  # cached: the same number, not a new timing
    assert cpu_bfloat16_speedup.cache_info().hits >= 1
    if cpu_has_native_bfloat16():
        assert 0.0 < first < float("inf")  # a ratio of two real timings (its size depends on the load: a CI run
        # beside two trainings read 0.049, and this is no timing test)
    else:
        assert first == 0.0


def test_the_trainer_warns_when_amp_runs_on_a_cpu_whose_bfloat16_is_slow(monkeypatch, capsys):
    import trainer.loop as loop

    monkeypatch.setattr(devices, "cpu_bfloat16_speedup", lambda threads: 0.64)
    loop.warn_if_bfloat16_is_slow()
    assert "0.64× float32's speed" in capsys.readouterr().err
    monkeypatch.setattr(devices, "cpu_bfloat16_speedup", lambda threads: 0.0)
    loop.warn_if_bfloat16_is_slow()
    assert "no native bfloat16" in capsys.readouterr().err
    monkeypatch.setattr(devices, "cpu_bfloat16_speedup", lambda threads: 2.0)
    loop.warn_if_bfloat16_is_slow()
    assert capsys.readouterr().err == ""


def test_the_environment_sets_what_auto_means(monkeypatch):
    monkeypatch.setenv(PRECISION_VARIABLE, "bfloat16")
    assert select_precision(CPU) == select_precision(CPU, "auto") == torch.bfloat16
    assert select_precision(CPU, "float32") == torch.float32  # an explicit choice wins
    assert Restorer("denoise", device="cpu", model=identity_model(3)).dtype == torch.bfloat16
    monkeypatch.setenv(PRECISION_VARIABLE, "fp8")
    with pytest.raises(DeviceError, match=f"{PRECISION_VARIABLE}='fp8'.*unset it"):
        select_precision(CPU)


def test_an_unknown_precision_names_the_ones_there_are():
    with pytest.raises(DeviceError, match="float32, bfloat16, float16"):
        select_precision(CPU, "int8")
    with pytest.raises(DeviceError, match="precision"):
        Restorer("denoise", device="cpu", model=identity_model(3), precision="double")


def test_the_image_and_the_global_residual_stay_float32():
    """An identity network in bfloat16 gives back the float32 input (to float32 rounding of the
    opponent colour transform): bfloat16 alone would round it to 8 bits of mantissa (1/512 around 0.5)."""
    image = np.random.default_rng(0).random((37, 41, 3)).astype(np.float32)
    restorer = Restorer("denoise", device="cpu", model=identity_model(3), precision="bfloat16")
    assert restorer.dtype == torch.bfloat16
    out = restorer.restore(image, 25, value_range=(0, 1))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, image, rtol=0, atol=1e-6)


def test_a_model_passed_in_is_not_cast():
    model = strong_model(3)
    restorer = Restorer("denoise", device="cpu", model=model, precision="bfloat16")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.dtype == torch.bfloat16 for p in restorer.model.parameters())


def test_bfloat16_tiles_without_seams(set12_root):
    """Tiles overlap by the receptive field, so in bfloat16 they differ from the whole image only
    where a rounding flips (float32: to float32 rounding, tests/test_engine.py): by ≤ 1/255, in
    ~5 % of pixels (bfloat16 against float32: ~10 %), no more often along the tiles' edges."""
    clean = read_image(sorted(set12_root.iterdir())[1])[:150, :170]
    noisy = np.clip(np.round(clean + np.random.default_rng(2).normal(0, 25, clean.shape)), 0, 255).astype(np.uint8)
    restorer = Restorer("denoise", device="cpu", precision="bfloat16")
    whole = restorer.restore(noisy, 25).astype(int)
    tiled = restorer.restore(noisy, 25, tile=48).astype(int)
    flipped = tiled != whole
    assert np.abs(tiled - whole).max() <= 1 and flipped.mean() < 0.1
    ys, xs = np.arange(whole.shape[0]) % 48, np.arange(whole.shape[1]) % 48
    edges = (np.minimum(ys, 48 - ys)[:, None] < 3) | (np.minimum(xs, 48 - xs)[None, :] < 3)
    assert flipped[edges].mean() < 1.5 * flipped[~edges].mean() + 0.01  # no seam


@pytest.mark.parametrize("colour", [False, True])
def test_bfloat16_restores_real_noise_as_well_as_float32(set12_root, colour):
    """The shipped denoiser on a Set12 photograph with σ 25 noise rounded into an 8-bit file:
    bfloat16's PSNR within 0.03 dB of float32's (measured −0.001 dB on all of Set12),
    no pixel off by more than 3/255; colour through the opponent planes and the joint network."""
    clean = read_image(sorted(set12_root.iterdir())[0])[:160, :160]
    clean = np.stack([clean, np.roll(clean, 7, axis=0), clean[:, ::-1]], axis=-1) if colour else clean
    rng = np.random.default_rng(0)
    noisy = np.clip(np.round(clean + rng.normal(0, 25, clean.shape)), 0, 255).astype(np.uint8)

    def psnr(out):
        return 10 * np.log10(255.0**2 / np.mean((out.astype(np.float64) - clean) ** 2))

    exact = Restorer("denoise", device="cpu", precision="float32").restore(noisy, 25)
    fast = Restorer("denoise", device="cpu", precision="bfloat16").restore(noisy, 25)
    assert fast.dtype == exact.dtype == np.uint8
    assert psnr(exact) - psnr(noisy) > 5  # the network restores at all
    assert abs(psnr(fast) - psnr(exact)) < 0.03
    assert np.abs(fast.astype(int) - exact.astype(int)).max() <= 3


def test_the_command_line_offers_every_precision(tmp_path):
    from napari_hyperres.cli.main import main
    from napari_hyperres.io.files import write_image

    image = (np.random.default_rng(3).random((40, 44)) * 255).astype(np.uint8)
    write_image(tmp_path / "in.png", image)
    for precision in ("float32", "bfloat16"):
        assert main(["restore", str(tmp_path / "in.png"), str(tmp_path / f"{precision}.png"), "--task", "denoise",
                     "--level", "25", "--precision", precision]) == 0
    exact = Restorer("denoise", device="cpu", precision="float32").restore(image, 25)
    np.testing.assert_array_equal(read_image(tmp_path / "float32.png"), exact)
    assert np.abs(read_image(tmp_path / "bfloat16.png").astype(int) - exact).max() <= 2
