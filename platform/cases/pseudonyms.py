"""The opaque pseudonym a case's DICOM files carry as PatientID (and in PatientName).

The case label often names the diagnosis or the source cohort's case id, and readers
must not see it while reading; so the files carry a keyed hash of the label instead.
Keyed (settings.CASE_PSEUDONYM_KEY, by default SECRET_KEY): without the key nobody can
go from a label to its pseudonym, and the same label always gives the same pseudonym, so
images added to a case later carry the same PatientID as the first ones. Changing the
key therefore splits old and new files of one case: set it once.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

PREFIX = "OL-"
# 16 hex digits: 64 bits, far beyond any number of cases, short enough for LO (64).
DIGITS = 16


def _key() -> bytes:
    return (getattr(settings, "CASE_PSEUDONYM_KEY", "") or settings.SECRET_KEY).encode()


def pseudonym_for_label(label: str) -> str:
    digest = hmac.new(_key(), f"case-pseudonym:{label}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:DIGITS].upper()


def case_pseudonym(case) -> str:
    return pseudonym_for_label(case.label)


def patient_name(pseudonym: str) -> str:
    """PatientName as de-identification writes it (ingest.deidentify: ANON^<pseudonym>)."""
    return f"ANON^{pseudonym}"
