"""The one device setting: ``OSTEOLENS_DEVICE`` = auto | cpu | cuda | cuda:N.

Every load, training and saliency path asks ``device()``; nothing else reads the
variable, so a worker cannot run one model on the GPU and another on its CPU by accident.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

_VALID = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class DeviceError(RuntimeError):
    """OSTEOLENS_DEVICE names a device this machine cannot give."""


def parse(wanted: str, *, cuda_count: int):
    """The torch device for a setting value, given how many CUDA devices exist."""
    import torch

    wanted = (wanted or "auto").strip().lower()
    if not _VALID.match(wanted):
        raise DeviceError(f"OSTEOLENS_DEVICE={wanted!r}: use auto, cpu, cuda or cuda:N")
    if wanted == "auto":
        return torch.device("cuda:0" if cuda_count else "cpu")
    chosen = torch.device(wanted)
    if chosen.type == "cuda":
        index = chosen.index or 0
        if index >= cuda_count:
            raise DeviceError(f"OSTEOLENS_DEVICE={wanted!r} but this machine has {cuda_count} CUDA device(s)")
        return torch.device("cuda", index)
    return chosen


@lru_cache(maxsize=1)
def device():
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return parse(os.environ.get("OSTEOLENS_DEVICE", "auto"), cuda_count=count)


def describe() -> dict:
    """What the worker reports in its health ping and model cards record."""
    import torch

    chosen = device()
    info = {"device": str(chosen), "torch": torch.__version__}
    if chosen.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(chosen)
    return info
