"""Model versions known to the platform, mirrored from the worker's model cards."""

from __future__ import annotations

from django.db import models

from cases.models import TASK_CHOICES


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        SERVING = "serving", "Serving"
        RETIRED = "retired", "Retired"

    task = models.CharField(max_length=16, choices=TASK_CHOICES, db_index=True)
    name = models.CharField(max_length=64)
    version = models.CharField(max_length=32)
    architecture = models.CharField(max_length=128, blank=True)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    synthetic_training = models.BooleanField(default=False)
    # The training cohort as the card names it (manifest path and sha256, split sizes).
    training_data = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    serving_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["task", "name", "version"], name="unique_model_version"),
        ]

    def __str__(self) -> str:
        return f"{self.task}/{self.name} v{self.version} ({self.status})"
