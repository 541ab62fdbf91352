"""napari_hyperres.core.models.hair (HAIR) and the ``auto`` task through the engine and the CLI.

HAIR's claims are checked as algebra on a tiny untrained network: a one-hot mixture is
that candidate's block, a mixed convolution is the mixture of the candidates'
convolutions, per-sample mixtures equal running each sample alone, and the plain network
``generate_for_image`` returns equals the forward pass on that image.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import smooth_image, tiny_hair_model

from napari_hyperres.cli.main import main as cli_main
from napari_hyperres.core.models.hair import WeightBox
from napari_hyperres.core.weights import WeightsInfo, load_model, save_weights
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import WeightsError
from napari_hyperres.io.files import read_image

pytestmark = pytest.mark.usefixtures("one_thread")


def _photo(height: int = 40, width: int = 48, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` or ``(H, W)`` test picture."""
    image = smooth_image(height, width, channels, seed=seed)[0].numpy().transpose(1, 2, 0)
    image = np.round(image * 255).astype(np.uint8)
    return image if channels == 3 else image[..., 0]



# --- HAIR algebra ----------------------------------------------------------------------------------
@pytest.fixture
def box(seed) -> WeightBox:
    box = WeightBox(features=6, candidates=3)
    with torch.no_grad():
        box.bias1.normal_(0, 0.1)
        box.bias2.normal_(0, 0.1)
        box.weight1.mul_(10)
        box.weight2.mul_(10)
    return box


@pytest.mark.parametrize("index", [0, 1, 2])
def test_one_hot_selection_is_that_expert(box, index):
    x = torch.randn(2, 6, 12, 14)
    one_hot = F.one_hot(torch.tensor([index, index]), 3).float()
    with torch.no_grad():
        expected = box.expert(index)(x)
        torch.testing.assert_close(box(x, one_hot), expected, atol=1e-5, rtol=1e-5)
        others = [box.expert(i)(x) for i in range(3) if i != index]
    assert all((expected - other).abs().max() > 1e-2 for other in others)  # the experts do differ


def test_mixed_first_conv_is_the_mixture_of_expert_convs(box):
    x = torch.randn(1, 6, 12, 14)
    s = torch.tensor([[0.2, 0.5, 0.3]])
    with torch.no_grad():
        mixed = box.generate(s).conv1(x)
        experts = sum(float(s[0, n]) * box.expert(n).conv1(x) for n in range(3))
        torch.testing.assert_close(mixed, experts, atol=1e-5, rtol=1e-5)
        # the same holds for any weights (linearity of convolution in its kernel), not only convex ones
        s2 = torch.tensor([[1.5, -0.7, 0.4]])
        torch.testing.assert_close(box.generate(s2).conv1(x), sum(float(s2[0, n]) * box.expert(n).conv1(x) for n in range(3)), atol=1e-5, rtol=1e-5)


def test_grouped_forward_equals_one_block_per_sample(box):
    x = torch.randn(3, 6, 10, 12)
    s = torch.softmax(torch.randn(3, 3) * 3, dim=-1)
    with torch.no_grad():
        batched = box(x, s)
        for b in range(3):
            torch.testing.assert_close(batched[b : b + 1], box.generate(s[b : b + 1])(x[b : b + 1]), atol=1e-5, rtol=1e-5)


@pytest.fixture
def hair_net():
    net = tiny_hair_model(3, seed=3)
    with torch.no_grad():  # sharpen the selectors so different images get clearly different mixtures
        for selector in net.selectors:
            selector.mlp[0].weight.mul_(100)
        for box in net.boxes:
            box.weight1.mul_(10)
            box.weight2.mul_(10)
    return net


def test_per_sample_mixtures_equal_running_each_alone(hair_net):
    noise = 20 * torch.rand(1, 3, 30, 34, generator=torch.Generator().manual_seed(0))
    x = torch.cat([smooth_image(30, 34, 3, seed=1), noise, -10 * smooth_image(30, 34, 3, seed=2)])
    with torch.no_grad():
        batched = hair_net(x)
        selections = hair_net.selections(hair_net.giv(x))
        for b in range(x.shape[0]):
            torch.testing.assert_close(batched[b : b + 1], hair_net(x[b : b + 1]), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(batched[b : b + 1], hair_net.generate(selections[b])(x[b : b + 1]), atol=1e-5, rtol=1e-5)
    assert selections.shape == (3, hair_net.arch.generated_blocks, hair_net.arch.candidates)
    torch.testing.assert_close(selections.sum(-1), torch.ones(3, hair_net.arch.generated_blocks))
    assert (selections[0] - selections[1]).abs().max() > 0.05  # the samples really use different mixtures
    assert (selections[2] - selections[1]).abs().max() > 0.05


def test_generate_for_image_equals_forward(hair_net):
    x = smooth_image(33, 29, 3, seed=4)  # odd sizes: both paths pad the same way
    net, selections = hair_net.generate_for_image(x)
    with torch.no_grad():
        torch.testing.assert_close(net(x), hair_net(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(selections, hair_net.selections(hair_net.giv(x))[0])
    assert not any(p.requires_grad for p in net.blocks[-1].parameters())


def _decoder_hair(seed: int = 3):
    """A tiny HAIR whose decoder convs are selected too, with sharp selectors and distinct candidates."""
    from napari_hyperres.core.models.hair import HairNet, hair_architecture_for

    torch.manual_seed(seed)
    net = HairNet(dataclasses.replace(hair_architecture_for("tiny", 3), select_decoder=True)).eval()
    with torch.no_grad():
        for selector in net.selectors:
            selector.mlp[0].weight.mul_(100)
        for p in net.decoder.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


def test_selected_decoder_per_sample_mixtures_equal_their_generated_networks():
    net = _decoder_hair()
    assert set(dict(net.shared.named_children())) == {"head"}  # no unused shared decoder convs
    noise = 20 * torch.rand(1, 3, 30, 34, generator=torch.Generator().manual_seed(0))
    x = torch.cat([smooth_image(30, 34, 3, seed=1), noise])
    with torch.no_grad():
        batched = net(x)
        selections = net.selections(net.giv(x))
        assert selections.shape == (2, net.arch.generated_blocks + 1, net.arch.candidates)
        assert (selections[0, -1] - selections[1, -1]).abs().max() > 0.05  # the decoder's mixture differs per image
        for b in range(2):
            torch.testing.assert_close(batched[b : b + 1], net.generate(selections[b])(x[b : b + 1]), atol=1e-5, rtol=1e-5)
        one_hot = torch.nn.functional.one_hot(torch.tensor([1] * selections.shape[1]), net.arch.candidates).float()
        generated = net.generate(one_hot)
        for name in ("body_tail", "upsample", "refine", "tail"):  # a one-hot selection is that candidate's convs
            conv, box = getattr(generated.shared, name), getattr(net.decoder, name)
            assert torch.equal(conv.weight, box.weight[1]) and torch.equal(conv.bias, box.bias[1])
        assert generated.shared.head is net.shared.head


def test_selected_decoder_through_the_engine(tmp_path):
    from conftest import write_tiny_hair_weights

    net = _decoder_hair()
    path = write_tiny_hair_weights(tmp_path / "auto.dec.safetensors", model=net)
    model, _ = load_model(path, kind="hair")
    assert model.arch.select_decoder and model.decoder is not None
    restorer = Restorer("auto", weights=str(path), device="cpu")
    image = (255 * np.random.default_rng(0).random((40, 36, 3))).astype(np.uint8)
    out, report = restorer.restore_with_report(image, "auto")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert report.selections.shape == (net.arch.generated_blocks + 1, net.arch.candidates)



# --- the auto task: engine and command line --------------------------------------------------------
def test_auto_through_the_engine(tiny_hair_weights):
    restorer = Restorer("auto", weights=str(tiny_hair_weights), device="cpu")
    assert restorer.image_conditioned and restorer.info.kind == "hair"
    image = _photo(50, 46)
    out = restorer.restore(image, "auto")
    assert out.shape == image.shape and out.dtype == np.uint8
    model, _ = load_model(tiny_hair_weights, kind="hair")
    x = torch.from_numpy(image.astype(np.float32).transpose(2, 0, 1) / 255)[None]
    with torch.no_grad():
        expected = np.clip(np.rint(model(x)[0].numpy().transpose(1, 2, 0) * 255), 0, 255)
    assert np.abs(out.astype(int) - expected).max() <= 1  # a plane smaller than a crop: one crop, the whole image
    selection = restorer.restore_with_report(image, "auto")[1].selections
    assert selection.shape == (model.arch.generated_blocks, model.arch.candidates)
    np.testing.assert_allclose(selection.sum(-1), 1.0, atol=1e-5)
    for level in (0, 0.7, None):  # the level is ignored
        assert np.array_equal(restorer.restore(image, level), out)


def test_hair_chooses_from_crops_of_its_training_patch(tmp_path, monkeypatch):
    """The classifier pools over a crop: the engine shows it crops of the recorded training patch (48 if none)."""
    from conftest import tiny_hair_model

    from napari_hyperres.core.models.hair import HairNet

    model = tiny_hair_model()
    sizes = []
    choose = HairNet.generate_for_image
    monkeypatch.setattr(HairNet, "generate_for_image", lambda self, crops: sizes.append(tuple(crops.shape)) or choose(self, crops))
    image = _photo(200, 180)
    for extra, edge in (({"patch": 64}, 64), ({}, 48)):
        info = WeightsInfo(name="auto.tiny", task="auto", kind="hair", architecture=model.arch.to_dict(), preset="tiny", extra=extra)
        path = save_weights(tmp_path / f"hair{len(extra)}.safetensors", model.state_dict(), info)
        sizes.clear()
        Restorer("auto", weights=str(path), device="cpu").restore(image, None)
        assert len(sizes) == 1 and sizes[0][1:] == (3, edge, edge) and sizes[0][0] > 4  # many crops, averaged


def test_hyperres_weights_refused_for_auto(tiny_weights):
    with pytest.raises(WeightsError, match="needs 'hair' weights|not 'auto'"):
        Restorer("auto", weights=str(tiny_weights["denoise"]), device="cpu")


def test_cli_restore_auto_without_level(tmp_path, tiny_hair_weights, capsys):
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    bgr = _photo(44, 52)[..., ::-1]
    assert cv2.imwrite(str(src), bgr)
    code = cli_main(["restore", str(src), str(dst), "--task", "auto", "--weights", str(tiny_hair_weights), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    out = read_image(dst)
    expected = Restorer("auto", weights=str(tiny_hair_weights), device="cpu").restore(read_image(src), 0)
    assert out.shape == expected.shape and np.array_equal(out, expected)
