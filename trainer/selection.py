"""Training penalties on HAIR's selections: confident per image, balanced over the batch.

Softmax mixing lets every candidate of a weight box learn from every sample, so the
candidates tend to stay alike (HAIR then computes nearly what a fixed network computes).
Two label-free penalties, as in mixture-of-experts training, push them apart:

- **entropy**: the mean entropy of each sample's mixture ``H(s) = −Σ s_n log s_n``
  (0 for a one-hot choice, ``log N`` for uniform): lowering it makes each image choose.
- **balance**: ``N · Σ_n p̄_n²`` with ``p̄`` the batch's mean mixture (1 when every
  candidate is used equally, ``N`` when one takes everything): keeps all candidates in use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SelectionPenalty:
    """Weights of the two penalties (0 switches one off)."""

    entropy: float = 0.0
    balance: float = 0.0

    @property
    def active(self) -> bool:
        return self.entropy > 0 or self.balance > 0

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """The weighted penalty (a scalar) for selection scores ``logits`` ``(B, blocks, N)``."""
        log_s = torch.log_softmax(logits.float(), dim=-1)
        s = log_s.exp()
        entropy = -(s * log_s).sum(-1).mean()
        usage = s.mean(dim=0)  # (blocks, N)
        balance = (usage.pow(2).sum(-1) * logits.shape[-1]).mean()
        return self.entropy * entropy + self.balance * balance
