"""Radiograph tests share two CPU cores with other work: one torch thread."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
