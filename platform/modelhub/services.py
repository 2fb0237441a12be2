"""Model versions: register the worker's model cards, choose which version serves."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelhub.models import ModelVersion


def _cards(models_dir: Path):
    for card_path in sorted(Path(models_dir).glob("*/*/*/card.json")):
        try:
            yield json.loads(card_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue


@transaction.atomic
def sync_from_cards(models_dir: Path | None = None, *, serve_new: bool = True) -> list[ModelVersion]:
    """Register every model card under MODELS_DIR; optionally make the newest serve.

    Returns the versions that started serving, so callers can re-analyse library cases.
    """
    started: list[ModelVersion] = []
    for card in _cards(models_dir or settings.MODELS_DIR):
        mv, created = ModelVersion.objects.get_or_create(
            task=card["task"],
            name=card["name"],
            version=str(card["version"]),
            defaults={
                "architecture": str(card.get("architecture", ""))[:128],
                "sha256": card.get("sha256", ""),
                "synthetic_training": bool(card.get("synthetic_training")),
                "training_data": card.get("training_data", {}),
                "metrics": card.get("metrics", {}),
                "card": card,
            },
        )
        if created and serve_new:
            started.append(set_serving(mv))
    return started


@transaction.atomic
def set_serving(model_version: ModelVersion) -> ModelVersion:
    """Make one version serve; the one it replaces is retired."""
    ModelVersion.objects.filter(
        task=model_version.task, name=model_version.name, status=ModelVersion.Status.SERVING
    ).exclude(pk=model_version.pk).update(status=ModelVersion.Status.RETIRED)
    model_version.status = ModelVersion.Status.SERVING
    model_version.serving_since = timezone.now()
    model_version.save(update_fields=["status", "serving_since"])
    return model_version


def serving_models(task: str | None = None):
    qs = ModelVersion.objects.filter(status=ModelVersion.Status.SERVING)
    return qs.filter(task=task) if task else qs
