"""De-identification of DICOM datasets before anything is stored.

Follows the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile, with
these options (recorded in every file's DeidentificationMethodCodeSequence):

- Retain Longitudinal Temporal Information, Modified Dates (DCM 113107): every DA/DT is
  shifted back by a per-patient number of days derived from a keyed hash of the original
  patient identity, so intervals between one patient's studies survive while the real
  dates do not. Times of day are kept.
- Retain Patient Characteristics (DCM 113108), limited to PatientAge and PatientSex:
  teaching and the models need them; weight, size and the rest are removed.
- Clean Descriptors (DCM 113105): StudyDescription, SeriesDescription and ProtocolName
  are kept (readers need "Non-ossifying fibroma of distal tibia"), but any fragment of
  the original patient name, ID or accession number found in them is cut out. Every
  other free-text attribute (comments, addresses, LT/ST/UT text) is removed.

Beyond the attribute lists, generic rules catch what a list would miss: every private
tag, every person name (PN) at any depth, curve (50xx) and overlay (60xx) groups, and
public tags this pydicom does not know are removed; every UID (UI) that is not a
standard class / transfer-syntax UID is replaced by ``2.25.<int>`` from an HMAC of the
original with a key derived from settings.SECRET_KEY, so the same original UID always
maps to the same new one: series stay together across files and uploads, and
references between instances still resolve.

Synthetic-phantom marker: ImageComments is free text and is removed, except that when it
says "SYNTHETIC PHANTOM" the attribute is rewritten to exactly that marker (nothing else
of the original text survives), because the UI must keep labelling phantom images as
such wherever they travel. The caller also gets the flag back to set Case.synthetic.

Pixel data is not examined: burned-in text is out of scope (no Clean Pixel Data option),
which is why the method says so and radiographs from outside should be checked by eye.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

PHANTOM_MARKER = "SYNTHETIC PHANTOM"
METHOD = (
    "PS3.15 E basic profile",
    "dates shifted per patient",
    "age and sex kept",
    "UIDs replaced (keyed hash)",
)
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113105", "Clean Descriptors Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)
MAX_SHIFT_DAYS = 3650
IMPLEMENTATION_VERSION = "OSTEOLENS_1"

# Attributes the profile removes (X) or that carry identity in practice. By keyword, so
# a reader can check the list against the standard's table.
REMOVE_KEYWORDS = (
    # Patient identity and demographics (patient characteristics kept: age, sex).
    "PatientBirthTime",
    "PatientBirthName",
    "PatientMotherBirthName",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientTelecomInformation",
    "PatientComments",
    "PatientInsurancePlanCodeSequence",
    "PatientPrimaryLanguageCodeSequence",
    "PatientReligiousPreference",
    "PatientSexNeutered",
    "PatientSize",
    "PatientWeight",
    "PatientState",
    "PatientInstitutionResidence",
    "PatientTransportArrangements",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "TypeOfPatientID",
    "MilitaryRank",
    "BranchOfService",
    "MedicalRecordLocator",
    "EthnicGroup",
    "Occupation",
    "AdditionalPatientHistory",
    "MedicalAlerts",
    "Allergies",
    "CountryOfResidence",
    "RegionOfResidence",
    "PregnancyStatus",
    "SmokingStatus",
    "LastMenstrualDate",
    "SpecialNeeds",
    "ResponsiblePerson",
    "ResponsiblePersonRole",
    "ResponsibleOrganization",
    "ReferencedPatientSequence",
    "ReferencedPatientPhotoSequence",
    # Visit, admission, request and procedure step.
    "AdmissionID",
    "IssuerOfAdmissionIDSequence",
    "AdmittingDate",
    "AdmittingTime",
    "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence",
    "CurrentPatientLocation",
    "ServiceEpisodeID",
    "ServiceEpisodeDescription",
    "VisitComments",
    "IssuerOfAccessionNumberSequence",
    "StudyIDIssuer",
    "StudyComments",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName",
    "ConsultingPhysicianIdentificationSequence",
    "PhysiciansOfRecord",
    "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianName",
    "PerformingPhysicianIdentificationSequence",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence",
    "OperatorsName",
    "OperatorIdentificationSequence",
    "RequestingPhysician",
    "RequestingService",
    "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence",
    "RequestAttributesSequence",
    "RequestedProcedureDescription",
    "RequestedProcedureID",
    "RequestedProcedureComments",
    "ReasonForTheRequestedProcedure",
    "ReasonForStudy",
    "ImagingServiceRequestComments",
    "OrderEnteredBy",
    "OrderEntererLocation",
    "OrderCallbackPhoneNumber",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "PerformedProcedureStepID",
    "PerformedProcedureStepDescription",
    "PerformedLocation",
    "PerformedStationName",
    "PerformedStationAETitle",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription",
    "ScheduledStationName",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepLocation",
    "ProcedureCodeSequence",
    "InterpretationRecorder",
    "InterpretationTranscriber",
    "InterpretationApproverSequence",
    "DistributionName",
    "DistributionAddress",
    # Institution and equipment identity (manufacturer and model are kept).
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "InstitutionCodeSequence",
    "InstitutionalDepartmentTypeCodeSequence",
    "StationName",
    "DeviceSerialNumber",
    "DeviceUID",
    "DetectorID",
    "GantryID",
    "PlateID",
    "CassetteID",
    "TimezoneOffsetFromUTC",
    # Free text.
    "FrameComments",
    "DerivationDescription",
    "AcquisitionComments",
    "AcquisitionDeviceProcessingDescription",
    "ContrastBolusAgent",
    "TextString",
    "TextComments",
    "ContentCreatorName",
    "ContentCreatorIdentificationCodeSequence",
    "VerifyingObserverName",
    "VerifyingObserverSequence",
    "VerifyingOrganization",
    "PersonName",
    "PersonIdentificationCodeSequence",
    # Signatures and audit trails hold the original values.
    "DigitalSignaturesSequence",
    "MACParametersSequence",
    "EncryptedAttributesSequence",
    "OriginalAttributesSequence",
    "ModifiedAttributesSequence",
    "ReferencedDigitalSignatureSequence",
    "ReferencedSOPInstanceMACSequence",
)
# Type 2 attributes: present but empty keeps the file conformant.
EMPTY_KEYWORDS = ("PatientBirthDate", "AccessionNumber", "StudyID", "ReferringPhysicianName")
CLEAN_KEYWORDS = ("StudyDescription", "SeriesDescription", "ProtocolName")
# UIDs naming a class or scheme, not an instance: replacing them would break the file.
KEEP_UID_KEYWORDS = (
    "SOPClassUID",
    "ReferencedSOPClassUID",
    "MediaStorageSOPClassUID",
    "AffectedSOPClassUID",
    "RequestedSOPClassUID",
    "ReferencedSOPClassUIDInFile",
    "RelatedGeneralSOPClassUID",
    "OriginalSpecializedSOPClassUID",
    "TransferSyntaxUID",
    "ReferencedTransferSyntaxUIDInFile",
    "ImplementationClassUID",
    "CodingSchemeUID",
    "ContextGroupExtensionCreatorUID",
)
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT"})
DATE_VRS = frozenset({"DA", "DT"})
STANDARD_UID_ROOT = "1.2.840.10008."


def _tags(keywords) -> frozenset[int]:
    tags = set()
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is None:  # pragma: no cover - guarded by a test
            raise LookupError(f"unknown DICOM keyword {keyword!r}")
        tags.add(tag)
    return frozenset(tags)


REMOVE_TAGS = _tags(REMOVE_KEYWORDS)
EMPTY_TAGS = _tags(EMPTY_KEYWORDS)
CLEAN_TAGS = _tags(CLEAN_KEYWORDS)
KEEP_UID_TAGS = _tags(KEEP_UID_KEYWORDS)
PATIENT_NAME = tag_for_keyword("PatientName")
PATIENT_ID = tag_for_keyword("PatientID")
IMAGE_COMMENTS = tag_for_keyword("ImageComments")


@lru_cache(maxsize=4)
def _key(secret: str, purpose: str) -> bytes:
    # One derived key per purpose: a UID hash never helps guess a date shift.
    return hmac.new(secret.encode(), f"osteolens-deid:{purpose}".encode(), hashlib.sha256).digest()


def _secret() -> str:
    return str(getattr(settings, "DEID_SECRET", "") or settings.SECRET_KEY)


@lru_cache(maxsize=65536)
def _replace_uid(secret: str, original: str) -> str:
    digest = hmac.new(_key(secret, "uid"), original.encode(), hashlib.sha256).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def replace_uid(original: str) -> str:
    """The site's pseudonymous UID for an original UID: stable, 2.25 form, <= 64 chars."""
    return _replace_uid(_secret(), original.strip())


@dataclass(frozen=True)
class PatientIdentity:
    """The original patient identity of a file, used only to compare files and derive
    keys; never stored."""

    patient_id: str
    patient_name: str

    @classmethod
    def of(cls, ds: Dataset) -> PatientIdentity:
        name = str(ds.get("PatientName", "") or "")
        # "Doe^John" and "DOE^JOHN^^" are one person.
        name = "^".join(part.strip() for part in name.upper().split("^")).rstrip("^")
        return cls(str(ds.get("PatientID", "") or "").strip(), name)

    def describe(self) -> str:
        return "anonymous" if not (self.patient_id or self.patient_name) else "a named patient"

    def key(self) -> str:
        """A keyed hash of the identity: lets later uploads to the same case be checked
        against it without keeping the identity itself."""
        raw = f"{self.patient_id}\x00{self.patient_name}".encode()
        return hmac.new(_key(_secret(), "patient"), raw, hashlib.sha256).hexdigest()

    def date_shift(self) -> dt.timedelta:
        raw = f"{self.patient_id}\x00{self.patient_name}".encode()
        digest = hmac.new(_key(_secret(), "date-shift"), raw, hashlib.sha256).digest()
        return dt.timedelta(days=1 + int.from_bytes(digest[:8], "big") % MAX_SHIFT_DAYS)


@dataclass
class Result:
    synthetic_marker: bool = False
    removed: int = 0
    identifiers: list[str] = field(default_factory=list)


def _identifying_fragments(ds: Dataset) -> list[str]:
    """Strings from the original header that must not survive in kept descriptors."""
    values = [str(ds.get("PatientID", "") or ""), str(ds.get("AccessionNumber", "") or "")]
    name = str(ds.get("PatientName", "") or "")
    values += [part for part in name.replace("^", " ").replace("=", " ").split() if len(part) >= 3]
    return sorted({v.strip() for v in values if len(v.strip()) >= 3}, key=len, reverse=True)


def _clean_text(text: str, fragments: list[str]) -> str:
    lowered = text.lower()
    for fragment in fragments:
        start = lowered.find(fragment.lower())
        while start >= 0:
            text = text[:start] + text[start + len(fragment) :]
            lowered = text.lower()
            start = lowered.find(fragment.lower())
    return " ".join(text.split())


def _shift_date(value: str, shift: dt.timedelta) -> str | None:
    value = value.strip()
    if not value:
        return ""
    try:
        day = dt.date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except (ValueError, IndexError):
        return None  # unparseable: cannot be shifted, so it goes
    return (day - shift).strftime("%Y%m%d") + value[8:]


def _element_vr(ds: Dataset, tag: BaseTag) -> str | None:
    vr = ds.get_item(tag).VR  # raw elements keep their VR without being decoded
    if vr in (None, "UN"):
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return None
    return vr


def _scrub(ds: Dataset, shift: dt.timedelta, fragments: list[str], result: Result) -> None:
    for tag in list(ds.keys()):
        tag_int = int(tag)  # plain ints: BaseTag comparisons are slow in this hot loop
        group = tag_int >> 16
        if (
            tag.is_private
            or tag_int in REMOVE_TAGS
            or 0x5000 <= group <= 0x50FF
            or 0x6000 <= group <= 0x60FF
            or (tag_int & 0xFFFF) == 0  # group lengths go stale; writers recompute them
        ):
            del ds[tag]
            result.removed += 1
            continue
        if tag_int in EMPTY_TAGS:
            ds[tag].value = ""
            continue
        if tag_int == PATIENT_NAME or tag_int == PATIENT_ID:
            continue  # set to the pseudonym by the caller
        if tag_int == IMAGE_COMMENTS:
            text = str(ds[tag].value or "")
            if PHANTOM_MARKER in text.upper():
                ds[tag].value = PHANTOM_MARKER
                result.synthetic_marker = True
            else:
                del ds[tag]
                result.removed += 1
            continue
        vr = _element_vr(ds, tag)
        if vr is None or vr == "PN" or vr in FREE_TEXT_VRS:
            del ds[tag]
            result.removed += 1
        elif vr == "SQ":
            for item in ds[tag].value:
                _scrub(item, shift, fragments, result)
        elif vr == "UI":
            if tag_int in KEEP_UID_TAGS:
                continue
            element = ds[tag]
            values = element.value if element.VM > 1 else [element.value]
            replaced = [
                v if (not v or str(v).startswith(STANDARD_UID_ROOT)) else replace_uid(str(v)) for v in values
            ]
            element.value = replaced if element.VM > 1 else replaced[0]
        elif vr in DATE_VRS:
            element = ds[tag]
            values = element.value if element.VM > 1 else [element.value]
            shifted = [_shift_date(str(v), shift) for v in values]
            if any(v is None for v in shifted):
                del ds[tag]
                result.removed += 1
            else:
                element.value = shifted if element.VM > 1 else shifted[0]
        elif tag_int in CLEAN_TAGS and fragments:
            element = ds[tag]
            element.value = _clean_text(str(element.value or ""), fragments)


def deidentify(
    ds: Dataset, *, pseudonym: str, identity: PatientIdentity | None = None, rebuild_meta: bool = True
) -> Result:
    """De-identify ``ds`` in place (its file meta included) and return what was done.

    ``pseudonym`` becomes PatientID and, as ``ANON^<pseudonym>``, PatientName. With
    ``rebuild_meta=False`` the caller writes a fresh file meta group itself (the fast
    writer does) and ds.file_meta is left as read.
    """
    identity = identity or PatientIdentity.of(ds)
    fragments = _identifying_fragments(ds)
    result = Result()
    _scrub(ds, identity.date_shift(), fragments, result)
    ds.PatientName = f"ANON^{pseudonym}"
    ds.PatientID = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(METHOD)
    ds.DeidentificationMethodCodeSequence = _method_codes()
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    if rebuild_meta:
        _rebuild_file_meta(ds)
    return result


def shared_elements() -> dict[int, Sequence]:
    """Elements that are one shared object in every de-identified file (for the writer)."""
    return {tag_for_keyword("DeidentificationMethodCodeSequence"): _method_codes()}


@lru_cache(maxsize=1)
def _method_codes() -> Sequence:
    """Built once and shared: every file gets the same items, and datasets are only
    written, never edited, after de-identification."""
    codes = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        codes.append(item)
    return Sequence(codes)


def _rebuild_file_meta(ds: Dataset) -> None:
    """A fresh file meta group: the original names the sending hosts (AE titles) and
    may carry private information."""
    old = getattr(ds, "file_meta", None) or FileMetaDataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = old.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
