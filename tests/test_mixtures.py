"""napari_hyperres.blind.mixtures: HAIR's mixture read as "looks like JPEG compression (about quality 25)"."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hyperres.blind.mixtures import (
    DegradationReading,
    Reference,
    mixture_distance,
    read_degradation,
    read_selections,
    recorded_references,
)
from napari_hyperres.errors import ShapeError


def _refs() -> list[Reference]:
    one_hot = np.eye(3)
    return [
        Reference("noise", "noise", 10.0, "σ {:.0f}", np.tile(one_hot[0], (2, 1))),
        Reference("noise", "noise", 40.0, "σ {:.0f}", np.tile([0.6, 0.4, 0.0], (2, 1))),
        Reference("jpeg", "JPEG compression", 20.0, "quality {:.0f}", np.tile(one_hot[2], (2, 1))),
    ]


def test_the_nearest_kind_is_read_with_its_strength_and_confidence():
    refs = _refs()
    reading = read_degradation(np.tile([0.95, 0.05, 0.0], (2, 1)), refs, 0.05)
    assert reading.kind == "noise" and reading.confidence > 0.99 and reading.alternative is None
    assert 10.0 < reading.strength < 25.0  # nearer the σ10 reference than the σ40 one
    assert reading.describe() == "looks like noise, 100% sure"
    jpeg = read_degradation(np.tile([0.0, 0.0, 1.0], (2, 1)), refs, 0.05)
    assert (jpeg.kind, jpeg.strength) == ("jpeg", 20.0)


def test_a_mixture_between_two_kinds_names_both():
    reading = read_degradation(np.tile([0.5, 0.0, 0.5], (2, 1)), _refs(), 0.5)
    assert reading.alternative is not None and 0.5 <= reading.confidence < 0.8
    assert " or " in reading.describe()


def test_readings_per_plane_from_a_weights_files_metadata():
    extra = {"reference_mixtures": [ref.to_dict() for ref in _refs()], "mixture_temperature": 0.05}
    references, temperature = recorded_references(extra)
    assert [ref.kind for ref in references] == ["noise", "noise", "jpeg"] and temperature == 0.05
    stack = np.stack([np.tile([1.0, 0.0, 0.0], (2, 1)), np.tile([0.0, 0.0, 1.0], (2, 1))])[None]  # (1, 2 planes, parts, N)
    readings = read_selections(stack, extra)
    assert [r.kind for r in readings] == ["noise", "jpeg"] and all(isinstance(r, DegradationReading) for r in readings)
    assert read_selections(stack, {}) is None and recorded_references({}) is None


def test_shapes_and_distance():
    assert mixture_distance(np.eye(3)[:2], np.eye(3)[:2]) == 0.0
    assert mixture_distance([[1.0, 0.0]], [[0.0, 1.0]]) == 1.0
    with pytest.raises(ShapeError, match="shape"):
        read_degradation(np.ones((3, 3)) / 3, _refs(), 0.05)
