"""Teaching sets, the reads residents commit on them, and teaching notes per diagnosis.

A Read is the unit of every statistic: one reader, one case, one committed call. The
answer (histopathology) is never copied onto a Read; correctness is computed at commit
against the case's histopathology and stored so dashboards need no joins.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from cases.models import DIAGNOSIS_CHOICES, TASK_CHOICES, Case
from inference_worker import vocabulary as vocab

CERTAINTY_CHOICES = [(c, c.replace("_", " ").capitalize()) for c in vocab.CERTAINTIES]
# Only held-out cases by default, so the model is never scored on its own training data.
DEFAULT_SPLITS = ["test", "external"]


class TeachingSet(models.Model):
    class Order(models.TextChoices):
        ORDERED = "ordered", "In the order given"
        SHUFFLED = "shuffled", "Shuffled per reader"

    class Mode(models.TextChoices):
        QUIZ = "quiz", "Quiz (read, commit, reveal)"
        ASSISTED = "assisted", "Assisted-reading study (unaided, then with the model)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    task = models.CharField(max_length=16, choices=TASK_CHOICES)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.QUIZ)
    order = models.CharField(max_length=10, choices=Order.choices, default=Order.ORDERED)
    # None: untimed. Reads past the limit are kept but flagged `late`.
    time_limit_s = models.PositiveIntegerField(null=True, blank=True)
    # The cohort splits the cases were drawn from; shown on the set page.
    splits = models.JSONField(default=list, blank=True)
    # The library filters the set was built with (a record, not re-applied).
    filters = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class SetItem(models.Model):
    teaching_set = models.ForeignKey(TeachingSet, on_delete=models.CASCADE, related_name="items")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["teaching_set", "case"], name="one_item_per_case")]


class Read(models.Model):
    class Kind(models.TextChoices):
        QUIZ = "quiz", "Quiz"
        UNAIDED = "unaided", "Unaided (study)"
        AIDED = "aided", "With the model (study)"
        DAILY = "daily", "Case of the day"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reads")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(SetItem, null=True, blank=True, on_delete=models.CASCADE, related_name="reads")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.QUIZ)
    day = models.DateField(null=True, blank=True)  # case of the day only
    # Server-side timing: started when the reading page is first served.
    started_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    duration_s = models.FloatField(null=True, blank=True)
    late = models.BooleanField(default=False)
    # The call: a class of the case's task, benign/malignant, and how sure.
    diagnosis = models.CharField(max_length=32, blank=True)
    malignant = models.BooleanField(null=True, blank=True)
    certainty = models.CharField(max_length=16, choices=CERTAINTY_CHOICES, blank=True)
    region = models.JSONField(null=True, blank=True)  # {"shape", "points", "image"} in image pixels
    # Filled at commit: truth as the task's class, and the scores.
    truth_class = models.CharField(max_length=32, blank=True)
    truth_diagnosis = models.CharField(max_length=32, choices=DIAGNOSIS_CHOICES, blank=True)
    correct = models.BooleanField(null=True, blank=True)
    truth_malignant = models.BooleanField(null=True, blank=True)
    malignant_correct = models.BooleanField(null=True, blank=True)
    # The opinion of the serving model at commit time (shown in aided reads, compared at reveal).
    opinion = models.ForeignKey(
        "opinions.ModelOpinion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_class = models.CharField(max_length=32, blank=True)
    model_score = models.FloatField(null=True, blank=True)  # model's positive-class score
    region_scores = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reader", "item", "kind"],
                condition=models.Q(item__isnull=False),
                name="one_read_per_item",
            ),
            models.UniqueConstraint(
                fields=["reader", "day"], condition=models.Q(kind="daily"), name="one_daily_read_per_day"
            ),
        ]
        indexes = [models.Index(fields=["reader", "committed_at"])]

    @property
    def is_committed(self) -> bool:
        return self.committed_at is not None


class TeachingNote(models.Model):
    """What a resident should learn from a diagnosis; shown at every reveal of it."""

    diagnosis = models.CharField(max_length=32, choices=DIAGNOSIS_CHOICES, unique=True)
    text = models.TextField(help_text="Key imaging features, pitfalls, differentials. Plain text.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["diagnosis"]

    def __str__(self) -> str:
        return f"Note: {self.get_diagnosis_display()}"
