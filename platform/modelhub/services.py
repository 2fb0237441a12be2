"""Model versions: register the worker's model cards, choose which version serves."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from modelhub.cards import Card, CardError, card_paths, read_card
from modelhub.models import ModelVersion

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    started: list[ModelVersion] = field(default_factory=list)
    registered: list[ModelVersion] = field(default_factory=list)
    # One plain sentence per card that was skipped or changed on the way in.
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _register(card: Card, *, serve_new: bool) -> tuple[ModelVersion, bool]:
    data = card.data
    mv, created = ModelVersion.objects.get_or_create(
        task=str(data["task"]),
        name=str(data["name"]),
        version=str(data["version"]),
        defaults={
            "architecture": str(data.get("architecture") or "")[:128],
            "sha256": str(data.get("sha256") or ""),
            "synthetic_training": bool(data.get("synthetic_training")),
            "training_data": data.get("training_data") or {},
            "metrics": data.get("metrics") or {},
            "card": data,
        },
    )
    if created and serve_new:
        mv = set_serving(mv)
    return mv, created


def sync_cards(models_dir: Path | None = None, *, serve_new: bool = True) -> SyncReport:
    """Register every model card under MODELS_DIR, each on its own; say what was skipped.

    A card that cannot be read or stored is reported and the others still register:
    each card is its own savepoint, so a failed one leaves nothing half-written.
    """
    report = SyncReport()
    for path in card_paths(models_dir or settings.MODELS_DIR):
        try:
            card = read_card(path)
        except CardError as exc:
            report.problems.append(str(exc))
            continue
        try:
            with transaction.atomic():
                mv, created = _register(card, serve_new=serve_new)
        except (DatabaseError, ValueError, TypeError) as exc:
            report.problems.append(f"{path}: not registered ({type(exc).__name__}: {exc})")
            continue
        if card.nulled and created:
            report.warnings.append(f"{path}: non-finite numbers stored as null at {', '.join(card.nulled)}")
        if created:
            report.registered.append(mv)
            if serve_new:
                report.started.append(mv)
    for line in report.problems:
        log.warning("model card skipped: %s", line)
    return report


def sync_from_cards(models_dir: Path | None = None, *, serve_new: bool = True) -> list[ModelVersion]:
    """Register every model card under MODELS_DIR; optionally make the newest serve.

    Returns the versions that started serving, so callers can re-analyse library cases.
    """
    return sync_cards(models_dir, serve_new=serve_new).started


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
