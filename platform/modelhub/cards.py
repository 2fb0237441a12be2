"""Reading model cards from disk: strict JSON, but non-finite numbers become null.

The worker writes cards with Python's json module, which emits NaN/Infinity for a metric
that could not be computed (e.g. an AUC on a single-class split). Those tokens are not
JSON, and the database's JSON check rejects them, so they are read as null and each
replaced value is reported by its path in the card.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_KEYS = ("task", "name", "version")


class CardError(ValueError):
    """A card that cannot be registered; the message says why in plain words."""


@dataclass
class Card:
    path: Path
    data: dict
    # Dotted paths of the values that were NaN or infinite and are now null.
    nulled: list[str] = field(default_factory=list)


def _finite(value, where: str, nulled: list[str]):
    if isinstance(value, float) and not math.isfinite(value):
        nulled.append(where or "(top level)")
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{where}.{k}" if where else str(k), nulled) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v, f"{where}[{i}]", nulled) for i, v in enumerate(value)]
    return value


def read_card(path: Path) -> Card:
    """One card file as a dict with only finite numbers; CardError when it cannot be used."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: cannot be read ({exc})") from exc
    try:
        # json.loads accepts NaN/Infinity/-Infinity as floats; _finite turns them into None.
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise CardError(f"{path}: a model card must be a JSON object")
    nulled: list[str] = []
    data = _finite(raw, "", nulled)
    missing = [key for key in REQUIRED_KEYS if data.get(key) in (None, "")]
    if missing:
        raise CardError(f"{path}: missing {', '.join(missing)}")
    for key in ("training_data", "metrics"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise CardError(f"{path}: {key} must be an object")
    return Card(path=Path(path), data=data, nulled=nulled)


def card_paths(models_dir: Path) -> list[Path]:
    return sorted(Path(models_dir).glob("*/*/*/card.json"))
