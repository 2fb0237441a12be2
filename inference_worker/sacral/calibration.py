"""Temperature scaling (one scalar dividing the logits), fitted on the validation split.

It changes confidence, never the ranking, so AUC is untouched while the probabilities
shown to a reader become honest.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

T_BOUNDS = (0.05, 20.0)


def _nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(targets)), targets]))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """Minimise validation negative log-likelihood over log T within T_BOUNDS."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=int)
    found = minimize_scalar(
        lambda g: _nll(z, y, float(np.exp(g))),
        bounds=np.log(T_BOUNDS),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(found.x))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
