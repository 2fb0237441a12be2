"""Model registry shared by every pipeline: weights + a model card per version.

Layout: ``MODELS_DIR/<task>/<name>/<version>/{weights.pt,card.json}``. The card says how
the weights were made (architecture and its config, data manifest and its sha256, seed,
split sizes, metrics, whether the data were synthetic) and the weights' sha256, which
``load_model`` checks so a swapped or truncated file is refused rather than run.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
CARD = "card.json"
WEIGHTS = "weights.pt"
_VERSION = re.compile(r"^\d+(\.\d+)*$")
_cache: dict[tuple[str, str, str, str], LoadedModel] = {}
_lock = threading.Lock()


def models_dir() -> Path:
    """Read at call time so tests and commands can point MODELS_DIR elsewhere; without
    it, under the var folder (OSTEOLENS_VAR_DIR), as the web side and the trainer use."""
    from inference_worker import settings

    return Path(settings.models_dir())


def __getattr__(name: str):
    if name == "MODELS_DIR":
        return models_dir()
    raise AttributeError(name)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_device() -> torch.device:
    # The one device setting (OSTEOLENS_DEVICE), never a second rule of our own.
    from inference_worker.devices import device

    return device()


@dataclass
class LoadedModel:
    network: torch.nn.Module | None  # None when the weights are not a torch module state
    state: dict  # everything saved (state_dict and any extra arrays, e.g. stacker coefs)
    card: dict
    path: Path
    device: torch.device


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _next_version(folder: Path) -> str:
    existing = [p.name for p in folder.glob("*") if p.is_dir() and _VERSION.match(p.name)]
    if not existing:
        return "1"
    return str(max(_version_key(v) for v in existing)[0] + 1)


def save_model(
    *,
    task: str,
    name: str,
    state: dict,
    architecture: str,
    config: dict,
    seed: int,
    split_sizes: dict,
    metrics: dict,
    synthetic_training: bool,
    data_manifest: str | Path | None = None,
    extra: dict | None = None,
    version: str | None = None,
    root: str | Path | None = None,
) -> Path:
    """Write weights + card as the next version (or ``version``); return the folder."""
    base = Path(root) if root is not None else models_dir()
    folder = base / task / name
    version = version or _next_version(folder)
    if not _VERSION.match(version):
        raise ValueError(f"version {version!r} must be dotted integers")
    target = folder / version
    if target.exists():
        raise FileExistsError(f"{target} exists; versions are immutable")
    target.mkdir(parents=True)
    weights = target / WEIGHTS
    torch.save(state, weights)
    card = {
        "name": name,
        "version": version,
        "task": task,
        "architecture": architecture,
        "config": config,
        "sha256": sha256_file(weights),
        "training_data": {
            "manifest": str(data_manifest) if data_manifest else None,
            "sha256": sha256_file(data_manifest) if data_manifest and Path(data_manifest).is_file() else None,
        },
        "seed": seed,
        "split_sizes": split_sizes,
        "metrics": metrics,
        "synthetic_training": bool(synthetic_training),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        # Where it was trained: every training path runs on the one device setting.
        "trained_on": _trained_on(),
        **(extra or {}),
    }
    (target / CARD).write_text(json.dumps(card, indent=2, default=_jsonable))
    return target


def _trained_on() -> dict:
    from inference_worker.devices import describe

    return describe()


def _jsonable(value: Any):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def list_models(root: str | Path | None = None) -> list[dict]:
    """Every card under the registry, sorted by task, name and version."""
    base = Path(root) if root is not None else models_dir()
    cards = []
    for card_path in base.glob(f"*/*/*/{CARD}"):
        try:
            cards.append(json.loads(card_path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(
        cards, key=lambda c: (c.get("task", ""), c.get("name", ""), _version_key(c.get("version", "0")))
    )


def model_path(task: str, name: str, version: str | None = None, root: str | Path | None = None) -> Path:
    base = Path(root) if root is not None else models_dir()
    folder = base / task / name
    if version is None:
        versions = [p.name for p in folder.glob("*") if (p / CARD).is_file() and _VERSION.match(p.name)]
        if not versions:
            raise FileNotFoundError(f"no trained model {task}/{name} under {base}")
        version = max(versions, key=_version_key)
    path = folder / version
    if not (path / CARD).is_file():
        raise FileNotFoundError(f"no model {task}/{name}/{version} under {base}")
    return path


def load_model(
    task: str,
    name: str,
    version: str | None = None,
    *,
    build=None,
    root: str | Path | None = None,
    device: torch.device | None = None,
) -> LoadedModel:
    """Load (once per process) and verify a model; ``build(card) -> nn.Module`` makes the network.

    Without ``build`` only the saved state is returned (e.g. a stacker's coefficients).
    """
    path = model_path(task, name, version, root)
    device = device or default_device()
    key = (str(path.resolve()), task, name, str(device))
    with _lock:
        if key in _cache:
            return _cache[key]
        card = json.loads((path / CARD).read_text())
        actual = sha256_file(path / WEIGHTS)
        if actual != card.get("sha256"):
            raise ValueError(f"{path / WEIGHTS}: sha256 {actual[:12]} does not match its card")
        # Read on the host, then move the network: extras such as a stacker's
        # coefficients are host-side arrays, and only the network computes on the device.
        state = torch.load(path / WEIGHTS, map_location="cpu", weights_only=False)
        network = None
        if build is not None:
            network = build(card)
            network.load_state_dict(state["state_dict"])
            network.to(device).eval()
        loaded = LoadedModel(network=network, state=state, card=card, path=path, device=device)
        _cache[key] = loaded
        return loaded


def clear_cache() -> None:
    with _lock:
        _cache.clear()
