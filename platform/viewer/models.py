"""Derived, rebuildable data of the image endpoints (nothing here is a source of truth)."""

from __future__ import annotations

from django.db import models


class InstanceMetadata(models.Model):
    """One stored file's DICOM JSON (PS3.18 F.2), computed once from its header.

    Keyed by the file's sha256: stored files are content-addressed and never change, so
    an entry never goes stale and two cases holding the same bytes share it. Bulk data
    URIs hold BASE_PLACEHOLDER where the site's absolute DICOMweb root belongs, so one
    entry serves every host name the site answers on.
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    dicom_json = models.TextField()
    # The same object without answer-revealing free text ("" when nothing was removed),
    # kept ready so hidden-answer responses cost no more than full ones.
    redacted_json = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def reveals_answers(self) -> bool:
        return bool(self.redacted_json)
