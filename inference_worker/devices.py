"""Device choice: CUDA when present, CPU otherwise."""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def device():
    import torch

    wanted = os.environ.get("OSTEOLENS_DEVICE", "auto")
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)
