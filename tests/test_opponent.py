"""Colour restored as opponent planes (Task.colour "opponent", core.models.opponent): each plane
through the gray path at its own noise level, the joint RGB network blended in where clipped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import strong_model, write_tiny_weights

from napari_hyperres.core.color import OPPONENT_NOISE, opponent_to_rgb, rgb_to_opponent
from napari_hyperres.core.models.opponent import CLIPPED_SHARE, OpponentNet, clipped_weight
from napari_hyperres.core.tasks import DENOISE, Task
from napari_hyperres.engine import Restorer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("weights") / "denoise.strong.safetensors"
    return str(write_tiny_weights(path, "denoise", 3, strong_model(3)))


def test_opponent_planes_invert_and_carry_independent_noise_at_the_stated_sigma():
    rgb = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    planes = rgb_to_opponent(rgb)
    assert planes.min() >= 0.0 and planes.max() <= 1.0  # chroma centred on 0.5: every plane in [0, 1]
    np.testing.assert_allclose(opponent_to_rgb(planes), rgb, atol=1e-6)
    noise = np.random.default_rng(1).standard_normal((400, 400, 3))
    measured = (rgb_to_opponent(noise) - rgb_to_opponent(np.zeros_like(noise))).reshape(-1, 3).std(axis=0)
    np.testing.assert_allclose(measured, OPPONENT_NOISE, rtol=0.01)
    np.testing.assert_allclose(OPPONENT_NOISE, [3**-0.5, 2**-0.5, 6**0.5 / 4], rtol=1e-6)


def test_unclipped_colour_is_each_opponent_plane_through_the_gray_path_at_its_own_level(weights):
    rgb = np.random.default_rng(2).uniform(0.05, 0.95, (40, 48, 3)).astype(np.float32)
    restorer = Restorer("denoise", weights=weights, device="cpu")
    out = restorer.restore(rgb, 30.0, value_range=(0.0, 1.0))
    planes = rgb_to_opponent(rgb)
    by_hand = np.stack(
        [restorer.restore(planes[..., k], 30.0 * OPPONENT_NOISE[k], value_range=(0.0, 1.0)) for k in range(3)], axis=-1
    )
    np.testing.assert_allclose(out, opponent_to_rgb(by_hand), atol=1e-5)
    joint = Restorer(dataclasses.replace(DENOISE, colour="joint"), weights=weights, device="cpu").restore(rgb, 30.0, value_range=(0.0, 1.0))
    assert np.abs(out - joint).mean() > 1e-3  # not the joint network's pixels


def test_where_pixels_are_clipped_the_joint_network_is_blended_in(weights):
    rgb = np.random.default_rng(3).uniform(0.05, 0.95, (60, 80, 3)).astype(np.float32)
    rgb[:, :30, 0] = 1.0  # red clipped in the left 30 columns
    restorer = Restorer("denoise", weights=weights, device="cpu")
    out = restorer.restore(rgb, 30.0, value_range=(0.0, 1.0))
    joint = Restorer(dataclasses.replace(DENOISE, colour="joint"), weights=weights, device="cpu").restore(rgb, 30.0, value_range=(0.0, 1.0))
    unclipped = rgb.copy()
    unclipped[:, :30, 0] = 0.999
    opponent_only = restorer.restore(unclipped, 30.0, value_range=(0.0, 1.0))
    np.testing.assert_allclose(out[:, :28], joint[:, :28], atol=1e-5)  # all clipped: the joint network alone
    far = slice(32 + restorer.overlap, None)  # weight 0 from column 32, plus the networks' reach
    np.testing.assert_allclose(out[:, far], opponent_only[:, far], atol=1e-5)
    weight = clipped_weight(torch.from_numpy(rgb.transpose(2, 0, 1))[None])[0, 0].numpy()
    np.testing.assert_allclose(weight[10, 28:33], np.minimum(1, np.array([4, 3, 2, 1, 0]) / 5 / CLIPPED_SHARE), atol=1e-6)


def test_tiles_equal_the_whole_image_on_a_clipped_8bit_photo(weights):
    rng = np.random.default_rng(5)
    image = np.clip(np.round(rng.normal(128, 90, (150, 170, 3))), 0, 255).astype(np.uint8)
    restorer = Restorer("denoise", weights=weights, device="cpu")
    whole = restorer.restore(image, 25.0)
    tiled = restorer.restore(image, 25.0, tile=64)
    assert whole.dtype == np.uint8 and image.dtype == np.uint8
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_gray_images_keep_the_gray_path_at_the_level_itself(weights):
    gray = np.random.default_rng(6).random((40, 40)).astype(np.float32)
    restorer = Restorer("denoise", weights=weights, device="cpu")
    out = restorer.restore(gray, 30.0, value_range=(0.0, 1.0))
    x = torch.from_numpy(gray)[None, None]
    with torch.no_grad():
        expected = restorer.network_for(30.0).for_gray()(x)[0, 0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_opponent_net_needs_three_plane_networks():
    with pytest.raises(ValueError, match="3 plane networks"):
        OpponentNet([torch.nn.Identity()] * 2, torch.nn.Identity())


@pytest.mark.parametrize(
    "change", [{"channels": "gray"}, {"conditioning": "image"}, {"noise_parameters": "poisson-gaussian"}]
)
def test_only_a_level_conditioned_rgb_noise_task_may_restore_opponent_planes(change):
    assert DENOISE.colour == "opponent"
    with pytest.raises(ValueError, match="colour 'opponent'"):
        dataclasses.replace(DENOISE, **change)
    with pytest.raises(ValueError, match="expected colour"):
        dataclasses.replace(DENOISE, colour="lab")
    assert isinstance(dataclasses.replace(DENOISE, colour="joint", level_follows_brightness=False, **change), Task)
