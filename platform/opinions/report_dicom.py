"""The PDF report as a DICOM Encapsulated PDF, for sending back to a PACS.

Why an Encapsulated PDF rather than a Structured Report: the PDF is the document a
doctor reads (bars, key images, model card, disclaimers); wrapping its exact bytes lets
any PACS viewer show the same pages. An SR would need coded concepts for every class and
model output, and most PACS show an SR as bare text.

The object joins the de-identified study the referral created: same Study Instance UID,
and the Patient and General Study modules copied from a stored (already de-identified)
file of that study, so nothing identifying is added. Its own UIDs are derived from the
request id, so regenerating it gives the same object.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pydicom
from django.conf import settings
from django.utils import timezone
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from cases.models import Instance
from opinions.models import AnalysisRequest
from opinions.report import render_report_pdf

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SERIES_NUMBER = 9100
DOCUMENT_TITLE = "OsteoLens second opinion (research use only)"

# Patient and General Study module attributes taken over from the stored study.
PATIENT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "LongitudinalTemporalInformationModified",
)
STUDY_KEYWORDS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
)
# Type 2 attributes: present, possibly empty, whatever the source file held.
TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime")
TYPE2 += ("ReferringPhysicianName", "StudyID", "AccessionNumber")


def _source_header(analysis: AnalysisRequest) -> Dataset:
    """Header of the first stored file of the request's case (de-identified at ingest)."""
    instance = (
        Instance.objects.filter(series__study__case=analysis.case)
        .order_by(
            "series__study_id", "series__number", "series_id", "slice_location", "instance_number", "id"
        )
        .first()
    )
    if instance is None:
        raise ValueError("the analysed case has no stored images")
    return pydicom.dcmread(Path(settings.MEDIA_ROOT) / instance.path, stop_before_pixels=True)


def _uid(analysis: AnalysisRequest, what: str) -> str:
    # 2.25.<hash>: no organisation root needed, stable for the same request.
    return generate_uid(prefix=None, entropy_srcs=[str(analysis.public_id), what])


def build_dataset(analysis: AnalysisRequest, pdf: bytes) -> Dataset:
    source = _source_header(analysis)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in PATIENT_KEYWORDS + STUDY_KEYWORDS:
        if keyword in source:
            ds[keyword] = source[keyword]
        elif keyword in TYPE2:
            setattr(ds, keyword, "")
    if ds.get("PatientIdentityRemoved") != "YES":
        # Every stored file went through ingest's de-identification; one that did not is a bug.
        raise ValueError("the stored study is not marked de-identified")

    now = timezone.now()
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = _uid(analysis, "report-series")
    ds.SeriesNumber = SERIES_NUMBER
    ds.SeriesDescription = DOCUMENT_TITLE
    ds.Manufacturer = "OsteoLens"
    ds.ManufacturerModelName = analysis.pipeline
    ds.ConversionType = "SYN"  # made by software, not scanned
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = _uid(analysis, "report-instance")
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    ds.AcquisitionDateTime = ""
    # The pages name only the request id and the non-identifying case label.
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = DOCUMENT_TITLE
    ds.ConceptNameCodeSequence = Sequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB values are padded to even length; the length attribute keeps the true size.
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def render_report_dicom(analysis: AnalysisRequest) -> Path:
    """report.dcm beside report.pdf (made once, like the PDF), wrapping those exact bytes."""
    pdf_path = render_report_pdf(analysis)
    target = pdf_path.with_name("report.dcm")
    if target.exists():
        return target
    ds = build_dataset(analysis, pdf_path.read_bytes())
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".dcm.tmp")
    os.close(fd)
    ds.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, target)
    return target


def encapsulated_pdf(path: Path) -> bytes:
    """The PDF inside an Encapsulated PDF file, without the even-length padding."""
    ds = pydicom.dcmread(path)
    data = bytes(ds.EncapsulatedDocument)
    length = ds.get("EncapsulatedDocumentLength")
    return data[: int(length)] if length is not None else data.rstrip(b"\0")
