"""Rewrite stored files that still carry their case label as PatientID / PatientName.

Ingest used to write the case label (which may name the answer) into every file; it
now writes the opaque pseudonym of cases.pseudonyms. Files stored before that change
are rewritten here: the two attributes only, everything else byte for byte as pydicom
re-encodes it (the pixel data is not decoded). Objects are content-addressed, so each
rewritten file is stored anew, its Instance row points at it, and the old object is
removed when no other row refers to it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pydicom
from django.db import transaction

from cases.models import Instance
from cases.pseudonyms import case_pseudonym, patient_name
from ingest import storage


@dataclass
class Outcome:
    checked: int = 0
    rewritten: int = 0
    unreadable: int = 0


def _rewritten(path, pseudonym: str) -> bytes | None:
    """The file with the pseudonym in place, or None when it already carries it."""
    ds = pydicom.dcmread(path)
    if str(ds.get("PatientID", "")) == pseudonym and str(ds.get("PatientName", "")) == patient_name(
        pseudonym
    ):
        return None
    ds.PatientID = pseudonym
    ds.PatientName = patient_name(pseudonym)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def repseudonymise(instances=None, log=lambda message: None) -> Outcome:
    outcome = Outcome()
    rows = (instances if instances is not None else Instance.objects.all()).select_related(
        "series__study__case"
    )
    for instance in rows.iterator():
        outcome.checked += 1
        pseudonym = case_pseudonym(instance.series.study.case)
        try:
            data = _rewritten(storage.absolute_path(instance.path), pseudonym)
        except (OSError, ValueError, pydicom.errors.InvalidDicomError) as exc:
            outcome.unreadable += 1
            log(f"{instance.sop_uid}: not rewritten ({exc})")
            continue
        if data is None:
            continue
        stored = storage.put_bytes(data)
        old = instance.path
        with transaction.atomic():
            Instance.objects.filter(pk=instance.pk).update(
                path=stored.path, sha256=stored.sha256, size=stored.size
            )
        if not Instance.objects.filter(path=old).exists():
            storage.delete_objects([old])
        outcome.rewritten += 1
    return outcome
