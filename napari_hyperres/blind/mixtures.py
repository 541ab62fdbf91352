"""What an image-conditioned network's choice says about the image, in a user's words.

HAIR (the ``auto`` task) mixes candidate weights per image; which mixture it chooses is
a reading of the degradation. :func:`read_degradation` compares an image's mixture with the
*reference mixtures* recorded in the weights file (the mean mixture the network chose for
each training degradation at a few strengths, ``python -m trainer reference-mixtures``) and
answers "looks like JPEG compression, 97% sure" instead of candidate numbers. The words come from the references themselves: nothing here knows a task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError


@dataclass(frozen=True)
class Reference:
    """The mean mixture ``(parts, N)`` a network chose for one degradation at one strength.

    Attributes:
        kind: the degradation's key (``"jpeg"``); label: its words (``"JPEG compression"``);
        strength: its strength; strength_label: a format for it (``"quality {:.0f}"``).
    """

    kind: str
    label: str
    strength: float
    strength_label: str
    mixture: np.ndarray

    def to_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "strength": self.strength,
                "strength_label": self.strength_label, "mixture": np.round(self.mixture, 5).tolist()}

    @classmethod
    def from_dict(cls, entry: dict) -> Reference:
        return cls(str(entry["kind"]), str(entry["label"]), float(entry["strength"]), str(entry["strength_label"]),
                   np.asarray(entry["mixture"], dtype=np.float64))


@dataclass(frozen=True)
class DegradationReading:
    """What the image looks like: the nearest degradation, its strength, and how sure.

    ``confidence`` is the probability of ``kind`` among the recorded kinds (a softmax of the
    distances at the temperature fitted when the references were recorded); ``strength`` is
    the distance-weighted mean of that kind's reference strengths: a rough reading (median
    error 4–31 % on validation crops), kept in the metadata, not said to people.
    """

    kind: str
    label: str
    strength: float
    strength_label: str
    confidence: float
    alternative: str | None = None
    """The next kind's words when it keeps at least :data:`ALTERNATIVE_SHARE` of the probability."""

    def describe(self) -> str:
        """``looks like JPEG compression, 97% sure`` (the strength is too rough to say: see BENCHMARKS.md)."""
        other = f" or {self.alternative}" if self.alternative else ""
        return f"looks like {self.label}{other}, {self.confidence:.0%} sure"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "strength": round(self.strength, 3), "confidence": round(self.confidence, 3),
                "alternative": self.alternative}


ALTERNATIVE_SHARE = 0.2
"""A second kind this likely is named too ("blur or low resolution"): some degradations look alike."""


def mixture_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the generated parts of the total-variation distance of two mixtures ``(parts, N)`` (0–1)."""
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).sum(axis=-1).mean() / 2)


def read_degradation(selection, references: list[Reference], temperature: float) -> DegradationReading:
    """The degradation ``selection`` ``(parts, N)`` (one image's mixtures) looks like.

    Raises:
        ShapeError: ``selection`` does not have the references' shape, or there are none.
    """
    mixture = np.asarray(selection, dtype=np.float64)
    if not references or mixture.shape != references[0].mixture.shape:
        want = references[0].mixture.shape if references else "(recorded references)"
        raise ShapeError(f"expected one image's mixtures of shape {want}, got {mixture.shape}")
    distances = np.array([mixture_distance(mixture, ref.mixture) for ref in references])
    weights = np.exp(-(distances - distances.min()) / temperature)
    kinds = list(dict.fromkeys(ref.kind for ref in references))
    per_kind = {kind: sum(w for w, ref in zip(weights, references, strict=True) if ref.kind == kind) for kind in kinds}
    total = sum(per_kind.values())
    ranked = sorted(per_kind, key=per_kind.get, reverse=True)
    kind = ranked[0]
    mine = [(w, ref) for w, ref in zip(weights, references, strict=True) if ref.kind == kind]
    strength = sum(w * ref.strength for w, ref in mine) / sum(w for w, _ in mine)
    first = mine[0][1]
    alternative = None
    if len(ranked) > 1 and per_kind[ranked[1]] / total >= ALTERNATIVE_SHARE:
        alternative = next(ref.label for ref in references if ref.kind == ranked[1])
    return DegradationReading(kind, first.label, float(strength), first.strength_label, float(per_kind[kind] / total), alternative)


def recorded_references(extra: dict) -> tuple[list[Reference], float] | None:
    """The references and temperature a weights file records (``WeightsInfo.extra``), or ``None``."""
    entries = extra.get("reference_mixtures")
    if not entries:
        return None
    return [Reference.from_dict(entry) for entry in entries], float(extra.get("mixture_temperature", 0.05))


def read_selections(selections, extra: dict) -> list[DegradationReading] | None:
    """One reading per plane of ``selections`` ``(*lead, parts, N)`` (a restore's
    :attr:`~napari_hyperres.engine.Report.selections`), with the references of a weights
    file's ``extra``; ``None`` when the file records none."""
    recorded = recorded_references(extra)
    if recorded is None or selections is None:
        return None
    references, temperature = recorded
    planes = np.asarray(selections, dtype=np.float64)
    planes = planes.reshape((-1,) + planes.shape[-2:])
    return [read_degradation(plane, references, temperature) for plane in planes]

