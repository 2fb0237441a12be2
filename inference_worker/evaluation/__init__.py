"""Evaluation of models and readers: metrics, statistics and plots (no Django, no torch)."""

from .metrics import binary_metrics, classification_metrics, dice, dice_per_structure
from .stats import (
    auc_delong,
    bootstrap_ci,
    cochrans_q,
    cohen_kappa,
    delong_test,
    fleiss_kappa,
    mcnemar,
    wilson_ci,
)

__all__ = [
    "auc_delong",
    "binary_metrics",
    "bootstrap_ci",
    "classification_metrics",
    "cochrans_q",
    "cohen_kappa",
    "delong_test",
    "dice",
    "dice_per_structure",
    "fleiss_kappa",
    "mcnemar",
    "wilson_ci",
]
