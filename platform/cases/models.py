"""Cases, their images (Study > Series > Instance), clinical data and histopathology.

Everything stored here is de-identified: UIDs are the replaced ones, dates shifted.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from inference_worker import vocabulary as vocab

TASK_CHOICES = [(k, v["label"]) for k, v in vocab.TASKS.items()]
DIAGNOSIS_CHOICES = [(d.code, d.label) for d in vocab.DIAGNOSES]
BEHAVIOUR_CHOICES = [(b, b.capitalize()) for b in vocab.BEHAVIOURS]
CONFIRMATION_CHOICES = [(c, c.replace("_", " ").capitalize()) for c in vocab.CONFIRMATIONS]
CERTAINTY_CHOICES = [(c, c.replace("_", " ").capitalize()) for c in vocab.CERTAINTIES]
SEX_CHOICES = [("M", "Male"), ("F", "Female")]
SITE_GROUP_CHOICES = [(s, s.capitalize()) for s in vocab.SITE_GROUPS]


class Case(models.Model):
    class Source(models.TextChoices):
        IMPORT = "import", "Cohort import"
        UPLOAD = "upload", "Referral upload"
        PROMOTED = "promoted", "Promoted referral"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A short, non-identifying label (e.g. the manifest's case_id); never a patient name.
    label = models.CharField(max_length=64, db_index=True)
    task = models.CharField(max_length=16, choices=TASK_CHOICES, db_index=True)
    # Library cases are pathology-proven and visible to residents.
    in_library = models.BooleanField(default=False, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.IMPORT)
    synthetic = models.BooleanField(default=False)
    # Clinical history shown to readers; must never give the diagnosis away.
    history = models.TextField(blank=True)
    # Lesion box on the key radiograph (x0, y0, x1, y1), label-map object keys, ...
    annotations = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["in_library", "task", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.task})"


class ClinicalData(models.Model):
    """Clinical variables; any of them may be missing (null)."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="clinical")
    age = models.FloatField(null=True, blank=True, db_index=True)
    sex = models.CharField(max_length=1, choices=SEX_CHOICES, blank=True, db_index=True)
    site = models.CharField(max_length=64, blank=True, db_index=True)
    site_group = models.CharField(max_length=16, choices=SITE_GROUP_CHOICES, blank=True)
    pain = models.BooleanField(null=True, blank=True)
    swelling = models.BooleanField(null=True, blank=True)
    trauma = models.BooleanField(null=True, blank=True)
    crp = models.FloatField("CRP (mg/L)", null=True, blank=True)
    esr = models.FloatField("ESR (mm/h)", null=True, blank=True)
    alp = models.FloatField("ALP (U/L)", null=True, blank=True)

    FIELDS = ("age", "sex", "site", "site_group", "pain", "swelling", "trauma", "crp", "esr", "alp")

    def as_dict(self) -> dict:
        return {name: (getattr(self, name) if getattr(self, name) != "" else None) for name in self.FIELDS}


class Histopathology(models.Model):
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="histopathology")
    diagnosis = models.CharField(max_length=32, choices=DIAGNOSIS_CHOICES, db_index=True)
    behaviour = models.CharField(max_length=16, choices=BEHAVIOUR_CHOICES, db_index=True)
    confirmation = models.CharField(max_length=24, choices=CONFIRMATION_CHOICES, blank=True)
    certainty = models.CharField(max_length=16, choices=CERTAINTY_CHOICES, blank=True)
    notes = models.TextField(blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_diagnosis_display()} ({self.behaviour})"


class Study(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="studies")
    study_uid = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=128, blank=True)
    study_date = models.DateField(null=True, blank=True)  # shifted by de-identification

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "studies"


class Series(models.Model):
    class Format(models.TextChoices):
        DICOM = "dicom", "DICOM"
        NIFTI = "nifti", "NIfTI (converted to DICOM)"
        RASTER = "raster", "PNG/JPEG (converted to DICOM)"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_uid = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=16, db_index=True)
    body_part = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=128, blank=True)
    number = models.IntegerField(null=True, blank=True)
    view_position = models.CharField(max_length=16, blank=True)
    photometric = models.CharField(max_length=16, blank=True)
    rows = models.IntegerField(null=True, blank=True)
    columns = models.IntegerField(null=True, blank=True)
    pixel_spacing = models.JSONField(null=True, blank=True)  # [row, col] mm
    slice_thickness = models.FloatField(null=True, blank=True)
    orientation = models.JSONField(null=True, blank=True)  # ImageOrientationPatient
    source_format = models.CharField(max_length=8, choices=Format.choices, default=Format.DICOM)

    class Meta:
        ordering = ["number", "id"]
        verbose_name_plural = "series"


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    transfer_syntax = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    # Position along the slice normal; the stack is sorted by it.
    slice_location = models.FloatField(null=True, blank=True)
    image_position = models.JSONField(null=True, blank=True)
    rows = models.IntegerField(null=True, blank=True)
    columns = models.IntegerField(null=True, blank=True)
    window_center = models.FloatField(null=True, blank=True)
    window_width = models.FloatField(null=True, blank=True)
    # Content-addressed: MEDIA_ROOT/<path>, sha256 of the de-identified file.
    sha256 = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=255)
    size = models.BigIntegerField()

    class Meta:
        ordering = ["slice_location", "instance_number", "id"]


class LibraryVersion(models.Model):
    """One row whose number changes whenever something the library list shows or filters
    on changes; cached list fragments are keyed on it (cases.library_cache)."""

    value = models.BigIntegerField(default=0)
