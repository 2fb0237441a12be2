"""Analysis requests and the opinions the worker returned for them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from cases.models import TASK_CHOICES, Case


class AnalysisRequest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="analyses")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="analyses"
    )
    pipeline = models.CharField(max_length=16, choices=TASK_CHOICES)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    clinical = models.JSONField(default=dict, blank=True)
    reader = models.JSONField(null=True, blank=True)  # optional reader interpretation (seed 000)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.pipeline} analysis of {self.case.label} ({self.status})"

    @property
    def out_dir(self) -> str:
        """Storage-relative folder of this request's artefacts."""
        return f"analyses/{self.public_id}"


class ModelOpinion(models.Model):
    """One finished analysis result; exactly one per request (redelivery-safe)."""

    request = models.OneToOneField(AnalysisRequest, on_delete=models.CASCADE, related_name="opinion")
    result = models.JSONField()
    out_of_domain = models.BooleanField(default=False)
    synthetic_training = models.BooleanField(default=False)
    model_versions = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
