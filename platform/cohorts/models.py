"""Cohorts and split membership (train / validation / test / external, by centre)."""

from django.db import models

from cases.models import TASK_CHOICES, Case
from inference_worker import vocabulary as vocab

SPLIT_CHOICES = [(s, s.capitalize()) for s in vocab.SPLITS]


class Cohort(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    task = models.CharField(max_length=16, choices=TASK_CHOICES)
    description = models.TextField(blank=True)
    synthetic = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CohortMembership(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    split = models.CharField(max_length=16, choices=SPLIT_CHOICES, db_index=True)
    centre = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cohort", "case"], name="one_membership_per_cohort")]
