"""Several independently initialised and trained copies of a classifier, averaged.

With 120 training cases one network's held-out AUC moved by ~0.1 between two 60-case
cohorts (docs/evaluation/sacral_ct.md); averaging the *probabilities* of k members
trained from different seeds cuts the part of that spread that comes from the
initialisation and the sampling order, at k times the training and inference cost.

``forward`` returns the log of the mean probability, so everything downstream that
applies a temperature and a softmax to "logits" works unchanged: softmax(log p) = p,
and a temperature T gives p^(1/T) renormalised, a calibration of the ensemble itself.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-7


class MeanProbability(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        # Saliency views (classifier.WithTabular) ask whether tabular inputs are expected.
        self.n_tabular = getattr(members[0], "n_tabular", 0)

    def member_probabilities(self, *inputs) -> torch.Tensor:
        """(k, batch, classes)."""
        return torch.stack([m(*inputs).softmax(dim=-1) for m in self.members])

    def forward(self, *inputs) -> torch.Tensor:
        return self.member_probabilities(*inputs).mean(dim=0).clamp_min(EPS).log()

    def embed(self, *inputs) -> torch.Tensor:
        # Case retrieval compares embeddings of one space: the first member's, with the
        # dimension a single model has, so stored embeddings stay comparable in size.
        return self.members[0].embed(*inputs)


def seeded(build, seed: int) -> nn.Module:
    """``build()`` with its initial weights drawn from ``seed``, whatever the global RNG
    state, which is left as it was (training code that follows is not disturbed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


MEMBER_SEED_STEP = 1000


def member_seeds(seed: int, k: int) -> list[int]:
    """The training seed of each of ``k`` members (written into the card)."""
    return [seed + MEMBER_SEED_STEP * i for i in range(k)]


def combine(nets: list[nn.Module]) -> nn.Module:
    """Members as one network: a single one as it is (the state-dict layout of earlier
    cards), several as a ``MeanProbability``."""
    return nets[0] if len(nets) == 1 else MeanProbability(nets)


def build_members(build, k: int, seed: int | None) -> nn.Module:
    """``k`` networks from ``build()`` as one (``combine``). With ``seed`` (training)
    member i's initial weights come from ``member_seeds(seed, k)[i]`` alone; loading a
    card needs no seed since the weights are replaced."""
    nets = (
        [seeded(build, s) for s in member_seeds(seed, k)] if seed is not None else [build() for _ in range(k)]
    )
    return combine(nets)
