"""Hiding answers: what a quiz must not show, and who decides when it is hidden.

De-identification keeps StudyDescription, SeriesDescription and ProtocolName on purpose
(readers of the library want "Non-ossifying fibroma of distal tibia"), so during a quiz
the image endpoints must leave that text out themselves: in the page, in DICOM JSON and
in the DICOM files they serve (a redacted copy, made once per stored file).

Whether answers are hidden is decided per request by `answers_hidden()`:
- the request may ask for it (``?answers=hidden``): it can only ever hide more;
- the site's policy may force it: settings.VIEWER_ANSWER_POLICY names a function
  ``policy(user, case) -> bool`` (the teaching app's "is this user in a quiz on this
  case right now"). Without it nothing is forced.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import pydicom
from django.conf import settings
from django.utils.module_loading import import_string

HIDE_PARAM = "answers"
HIDE_VALUE = "hidden"

# Free text that may name the diagnosis. Ingest already removes most comment fields;
# these are listed again so a file ingested by an older or outside path cannot leak.
REVEALING_KEYWORDS = (
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "ImageComments",
    "StudyComments",
    "PatientComments",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "ReasonForStudy",
    "ReasonForTheRequestedProcedure",
    "RequestedProcedureDescription",
    "PerformedProcedureStepDescription",
    "ScheduledProcedureStepDescription",
    "ClinicalTrialSeriesDescription",
    "ClinicalTrialTimePointDescription",
    "ContentDescription",
    "DerivationDescription",
    "AcquisitionComments",
)
# Phantom images keep this exact marker (see ingest.deidentify): it names no diagnosis
# and the UI must keep labelling synthetic images as such.
SYNTHETIC_MARKER = "SYNTHETIC PHANTOM"


@lru_cache(maxsize=1)
def _policy():
    path = getattr(settings, "VIEWER_ANSWER_POLICY", "")
    return import_string(path) if path else None


def answers_hidden(request, case) -> bool:
    """`case` may be a callable returning the case: it is then loaded only if needed."""
    if request.GET.get(HIDE_PARAM) == HIDE_VALUE:
        return True
    policy = _policy()
    if policy is None:
        return False
    return bool(policy(request.user, case() if callable(case) else case))


def _revealing_tags() -> list[int]:
    from pydicom.datadict import tag_for_keyword

    return sorted({tag_for_keyword(k) for k in REVEALING_KEYWORDS if tag_for_keyword(k) is not None})


REVEALING_TAGS = _revealing_tags()
REVEALING_JSON_KEYS = {f"{tag:08X}" for tag in REVEALING_TAGS}


def _keeps(keyword: str, value) -> bool:
    return keyword == "ImageComments" and str(value).strip() == SYNTHETIC_MARKER


def strip_dataset(ds: pydicom.Dataset) -> bool:
    """Remove revealing text from `ds` in place (top level); True when anything went."""
    changed = False
    for tag in REVEALING_TAGS:
        element = ds.get(tag)
        if element is None or element.value in (None, "", b""):
            continue
        if _keeps(element.keyword, element.value):
            continue
        del ds[tag]
        changed = True
    return changed


def strip_json(obj: dict) -> bool:
    """Remove revealing attributes from one DICOM JSON object in place."""
    changed = False
    for key in REVEALING_JSON_KEYS & obj.keys():
        value = obj[key].get("Value")
        if not value:
            continue
        if key == "00204000" and str(value[0]).strip() == SYNTHETIC_MARKER:
            continue
        del obj[key]
        changed = True
    return changed


def redacted_path(sha256: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "derived" / "redacted" / sha256[:2] / f"{sha256}.dcm"


def redacted_copy(source: Path, sha256: str) -> Path:
    """A copy of the stored file without revealing text, written once and kept.

    The stored file is never changed (it is content-addressed); the copy sits beside
    the other derived data and is rebuilt whenever it is missing.
    """
    target = redacted_path(sha256)
    if target.exists():
        return target
    ds = pydicom.dcmread(source)
    strip_dataset(ds)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            ds.save_as(handle, enforce_file_format=True)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
