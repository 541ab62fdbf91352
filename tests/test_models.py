"""napari_hyperres.core.models.hyperres: the meta-block algebra, generated networks, receptive field."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from conftest import strong_model, tiny_model

from napari_hyperres.core.models.hyperres import (
    PRESETS,
    Architecture,
    GeneratedNet,
    HyperResNet,
    KernelBlocks,
    MetaConv2d,
    ResBlock,
    architecture_for,
    receptive_radius,
)


@pytest.mark.parametrize("c", [0.0, 0.1, 0.37, 1.0])
def test_meta_conv_generated_kernel_is_c_w_plus_b(seed, c):
    meta = MetaConv2d(4, 6)
    weight, bias = meta.generate_weights(c)
    torch.testing.assert_close(weight, c * meta.weight_w + meta.weight_b)
    torch.testing.assert_close(bias, c * meta.bias_w + meta.bias_b)
    conv = meta.generate(c)
    assert isinstance(conv, nn.Conv2d) and conv.weight.shape == (6, 4, 3, 3)
    torch.testing.assert_close(conv.weight, c * meta.weight_w.detach() + meta.weight_b.detach())
    torch.testing.assert_close(conv.bias, c * meta.bias_w.detach() + meta.bias_b.detach())
    assert not conv.weight.requires_grad


def test_meta_conv_forward_equals_generated_conv(seed):
    meta = MetaConv2d(3, 5)
    x = torch.rand(2, 3, 11, 9)
    torch.testing.assert_close(meta(x, 0.2), meta.generate(0.2)(x))
    assert meta(x, 0.2).shape == (2, 5, 11, 9)


def test_meta_conv_is_linear_in_c(seed):
    """k(c) = c·w + b: kernels at three levels lie on one line."""
    meta = MetaConv2d(2, 2)
    k0, k1, k_half = (meta.generate_weights(c)[0] for c in (0.0, 1.0, 0.5))
    torch.testing.assert_close(k_half, 0.5 * (k0 + k1))


def test_meta_conv_gradients_reach_w_and_b(seed):
    meta = MetaConv2d(2, 2)
    meta(torch.rand(1, 2, 8, 8), 0.3).square().sum().backward()
    for p in (meta.weight_w, meta.weight_b, meta.bias_w, meta.bias_b):
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("init", ["conv", "paper"])
def test_meta_conv_inits(seed, init):
    meta = MetaConv2d(64, 64, init=init)
    if init == "paper":  # the official Linear(1, n) meta block, Kaiming × 0.1: w std ≈ 0.14, b = 0
        assert float(meta.weight_w.detach().std()) == pytest.approx(0.1414, rel=0.02) and torch.all(meta.weight_b == 0)
    else:  # both like a Kaiming × 0.1 conv of fan-in 64·9
        expected = (2 / (64 * 9)) ** 0.5 * 0.1
        assert float(meta.weight_w.detach().std()) == pytest.approx(expected, rel=0.02)
        assert float(meta.weight_b.detach().std()) == pytest.approx(expected, rel=0.02)
    with pytest.raises(ValueError, match="init"):
        MetaConv2d(8, 8, init="nope")


def test_architecture_selects_the_paper_init():
    from napari_hyperres.core.models.hyperres import Architecture, HyperResNet

    model = HyperResNet(Architecture(in_channels=1, features=16, blocks=2, init="paper"))
    assert all(torch.all(block.conv1.weight_b == 0) for block in model.body)


@pytest.mark.parametrize("preset", ["tiny", "tiny+unshuffle"])
@pytest.mark.parametrize("c", [0.05, 0.3])
@pytest.mark.parametrize("channels", [1, 3])
def test_generate_equals_forward(seed, c, channels, preset):
    model = strong_model(channels, preset=preset)
    x = torch.rand(2, channels, 21, 17)
    with torch.no_grad():
        expected = model(x, c)
        generated = model.generate(c)
        assert isinstance(generated, GeneratedNet)
        torch.testing.assert_close(generated(x), expected, rtol=1e-5, atol=1e-5)


def test_kernel_blocks_equal_a_chain_of_res_blocks(seed):
    """A level's stacked kernels (what generate() builds) restore as ResBlocks holding the same
    kernels; a ModuleList of ResBlocks keeps its state-dict keys inside a GeneratedNet."""
    model = strong_model(3)
    generated = model.generate(0.4)
    blocks = generated.blocks
    assert isinstance(blocks, KernelBlocks) and len(blocks) == model.arch.blocks
    chain = nn.ModuleList(
        ResBlock(meta.conv1.generate(0.4), meta.conv2.generate(0.4)) for meta in model.body
    )
    x = torch.rand(2, model.arch.features, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(blocks(x.clone()), nn.Sequential(*chain)(x.clone()), rtol=1e-5, atol=1e-5)
    as_list = GeneratedNet(model.shared, chain, model.arch)
    assert {k for k in as_list.state_dict() if k.startswith("blocks.")} == {
        f"blocks.{i}.conv{j}.{p}" for i in range(model.arch.blocks) for j in (1, 2) for p in ("weight", "bias")
    }
    assert not any(p.requires_grad for p in generated.blocks.parameters())


@pytest.mark.parametrize("preset", ["tiny", "tiny+unshuffle"])
@pytest.mark.parametrize("size", [(20, 20), (21, 17)])
def test_gray_folding_equals_replicating_the_channel(seed, size, preset):
    """for_gray(): head kernels summed, tail averaged; the same as expand → net → mean."""
    generated = strong_model(3, preset=preset).generate(0.3)
    x = torch.rand(2, 1, *size)
    with torch.no_grad():
        expected = generated(x.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)
        gray = generated.for_gray()
        torch.testing.assert_close(gray(x), expected, rtol=1e-5, atol=1e-5)
    assert gray.arch.in_channels == 1 and generated.for_gray() is gray  # built once
    assert all(p.data_ptr() in {q.data_ptr() for q in generated.parameters()} for p in gray.blocks.parameters())
    assert set(generated.state_dict()) == set(dict(generated.named_parameters()))  # the cache is no submodule
    one_channel = strong_model(1, preset=preset).generate(0.3)
    assert one_channel.for_gray() is one_channel


def test_channels_last_gives_the_same_pixels(seed):
    generated = strong_model(3).generate(0.3)
    for channels in (3, 1):
        net = generated if channels == 3 else generated.for_gray()
        x = torch.rand(1, channels, 24, 22)
        laid_out = torch.empty(x.shape, memory_format=torch.channels_last).copy_(x)
        with torch.no_grad():
            torch.testing.assert_close(net(laid_out), net(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset", ["tiny", "tiny+unshuffle"])
@pytest.mark.parametrize("size", [(16, 16), (15, 16), (21, 17), (2, 3)])
def test_output_shape_equals_input_shape(seed, size, preset):
    model = tiny_model(3, preset=preset)
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        assert model(x, 0.1).shape == x.shape
        assert model.generate(0.1)(x).shape == x.shape


def test_levels_change_the_output(seed):
    model = strong_model(1)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert (model(x, 0.0) - model(x, 0.5)).abs().max() > 1e-3


@pytest.mark.parametrize("preset", ["tiny", "tiny+unshuffle"])
@pytest.mark.parametrize("x0", [40, 41])
def test_receptive_radius_bounds_the_context(seed, preset, x0):
    """A pixel farther than the radius from an output pixel does not change it (tiling relies
    on this), on either side, at even and odd columns of the head's 2×2 grid."""
    model = strong_model(1, preset=preset)
    radius = receptive_radius(model.arch)
    x = torch.rand(1, 1, 96, 96)
    y0 = 40
    changed = x.clone()
    changed[..., y0, x0 + radius + 1 :] = torch.rand(96 - x0 - radius - 1)
    changed[..., y0, : x0 - radius] = torch.rand(x0 - radius)
    with torch.no_grad():
        a, b = model(x, 0.2), model(changed, 0.2)
    assert a[..., y0, x0] == b[..., y0, x0]
    near = x.clone()
    near[..., y0, x0 + 2] += 0.5
    with torch.no_grad():
        assert model(near, 0.2)[..., y0, x0] != a[..., y0, x0]


def test_presets_and_architecture_for():
    assert set(PRESETS) >= {"paper", "lite", "tiny"}
    arch = architecture_for("paper", 3)
    assert arch == Architecture(in_channels=3, features=64, blocks=16)
    assert Architecture(**arch.to_dict()) == arch
    with pytest.raises(ValueError, match="preset"):
        architecture_for("huge", 3)
    assert architecture_for("64x4", 1) == Architecture(in_channels=1, features=64, blocks=4)
    for bad in ("64x", "x4", "0x4", "64x4x2", "64*4"):
        with pytest.raises(ValueError, match="FEATURESxBLOCKS"):
            architecture_for(bad, 3)
    unshuffled = architecture_for("lite+unshuffle", 3)
    assert unshuffled == Architecture(in_channels=3, features=48, blocks=8, head="unshuffle")
    assert Architecture(**unshuffled.to_dict()) == unshuffled
    assert architecture_for("64x4+stride2", 1) == Architecture(in_channels=1, features=64, blocks=4)
    with pytest.raises(ValueError, match="head"):
        architecture_for("lite+dilated", 3)
    old_file = {k: v for k, v in arch.to_dict().items() if k != "head"}  # weights exported before heads existed
    assert Architecture(**old_file) == arch


def test_paper_preset_parameter_count():
    """The published configuration has about 2.6 M parameters in its meta blocks."""
    model = HyperResNet(architecture_for("paper", 3))
    meta = sum(p.numel() for p in model.body.parameters())
    assert 2.3e6 < meta < 2.8e6


def test_recentred_weights_generate_the_same_networks(seed):
    """recentred_state: a network whose meta blocks see (c − centre) / scale, holding a plain
    network's converted weights, restores exactly as it at every c (inside and outside the
    training range), by forward and by generate; converting back gives the weights back."""
    from dataclasses import replace

    from napari_hyperres.core.models.hyperres import recentred_state

    plain = strong_model(3).eval()
    centred_arch = replace(plain.arch, control_centre=45 / 255, control_scale=30 / 255)
    centred = HyperResNet(centred_arch).eval()
    converted = recentred_state(plain.state_dict(), plain.arch, centred_arch)
    centred.load_state_dict(converted)
    assert not torch.equal(converted["body.0.conv1.weight_w"], plain.state_dict()["body.0.conv1.weight_w"])
    x = torch.rand(1, 3, 18, 22)
    with torch.no_grad():
        for c in (0.0, 5 / 255, 15 / 255, 50 / 255, 0.5):
            torch.testing.assert_close(centred(x, c), plain(x, c), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(centred.generate(c)(x), plain.generate(c)(x), rtol=1e-5, atol=1e-5)
    back = recentred_state(converted, centred_arch, plain.arch)
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(back[key], value, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="control_scale"):
        replace(plain.arch, control_scale=0.0)


@pytest.mark.parametrize("size", [(20, 20), (21, 17)])
def test_a_stride2_head_converts_to_the_same_unshuffle_head(seed, size):
    """unshuffle_head_kernels: an unshuffle network holding a stride-2 network's converted head
    restores exactly as it (borders included)."""
    from napari_hyperres.core.models.hyperres import unshuffle_head_kernels

    stride2 = strong_model(3)
    unshuffled = HyperResNet(architecture_for("tiny+unshuffle", 3)).eval()
    state = stride2.state_dict()
    state["shared.head.weight"] = unshuffle_head_kernels(state["shared.head.weight"])
    unshuffled.load_state_dict(state)
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        torch.testing.assert_close(unshuffled(x, 0.3), stride2(x, 0.3), rtol=1e-5, atol=1e-5)
