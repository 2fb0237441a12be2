"""De-identification of DICOM datasets before anything is stored.

PS3.15 Annex E Basic Application Level Confidentiality Profile (Table E.1-1, encoded in
ingest.deid_profile), with these options (recorded in DeidentificationMethodCodeSequence):

- Retain Longitudinal Temporal Information, Modified Dates (DCM 113107): every date the
  profile lets us keep is shifted back by a per-patient number of days derived from a
  keyed hash of the original patient identity, so intervals between one patient's
  studies survive while the real dates do not. Times of day are kept.
- Retain Patient Characteristics (DCM 113108), limited to PatientAge and PatientSex.
- Clean Descriptors (DCM 113105): StudyDescription, SeriesDescription, ProtocolName,
  BodyPartExamined and a few labels keep only words of a clinical vocabulary (see
  ingest.deid_text for the rule); all other free text is removed.
- Retain Safe Private (DCM 113111), with the short allow-list in deid_profile.SAFE_PRIVATE;
  every other private attribute is removed.

The design is an allow-list, applied to the dataset and to every sequence item at any
depth: an attribute is kept only when deid_profile names it (text, sequences, binary
data), or when it is a public attribute with a numeric VR (measurements and geometry,
value checked to be well formed) that Table E.1-1 does not remove, or a UID or date
(replaced / shifted). Unknown public tags, private tags, curves and overlays, person
names (PN), AE titles, URLs and every other text are removed. A value that pydicom cannot
decode, has the wrong VR or malformed content is removed rather than kept or allowed to
fail; when the file cannot do without it (its UIDs, the image pixel description) the
file is refused with an IngestError.

Every UID (UI) that is not a standard class / transfer-syntax UID is replaced by
``2.25.<int>`` from an HMAC of the original with a key derived from settings.SECRET_KEY,
so the same original UID always maps to the same new one: series stay together across
files and uploads, and references between instances still resolve.

Synthetic-phantom marker: ImageComments is free text and is removed, except that when it
says "SYNTHETIC PHANTOM" the attribute is rewritten to exactly that marker (nothing else
of the original text survives), because the UI must keep labelling phantom images as
such wherever they travel. The caller also gets the flag back to set Case.synthetic.

Pixel data is not examined: burned-in text is out of scope (no Clean Pixel Data option),
which is why the method says so and radiographs from outside should be checked by eye.
The stored file's 128-byte preamble is zeroed and its file meta group rebuilt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from pydicom import Dataset
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from ingest import deid_profile as profile
from ingest import deid_text
from ingest.errors import IngestError

PHANTOM_MARKER = "SYNTHETIC PHANTOM"
METHOD = (
    "PS3.15 E.1-1 basic profile",
    "allow-list of attributes",
    "dates shifted per patient",
    "age and sex kept",
    "descriptors cleaned",
    "UIDs replaced (keyed hash)",
    "pixel data not examined",
)
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113105", "Clean Descriptors Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
    ("113111", "Retain Safe Private Option"),
)
MAX_SHIFT_DAYS = 3650
IMPLEMENTATION_VERSION = "OSTEOLENS_1"

# Kept for callers and tests that name them; the tables live in deid_profile.
REMOVE_KEYWORDS = tuple(sorted(keyword_for_tag(tag) for tag in profile.REMOVE_TAGS))
REMOVE_TAGS = profile.REMOVE_TAGS
EMPTY_KEYWORDS = profile.EMPTY_KEYWORDS
EMPTY_TAGS = profile.EMPTY_TAGS
CLEAN_KEYWORDS = profile.CLEAN_KEYWORDS
CLEAN_TAGS = profile.CLEAN_TAGS
KEEP_UID_KEYWORDS = profile.KEEP_UID_KEYWORDS
KEEP_UID_TAGS = profile.KEEP_UID_TAGS
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT"})
DATE_VRS = frozenset({"DA", "DT"})
STANDARD_UID_ROOT = "1.2.840.10008."

PATIENT_NAME = tag_for_keyword("PatientName")
PATIENT_ID = tag_for_keyword("PatientID")
IMAGE_COMMENTS = tag_for_keyword("ImageComments")
PATIENT_AGE = tag_for_keyword("PatientAge")
PATIENT_SEX = tag_for_keyword("PatientSex")
CODE_MEANING = tag_for_keyword("CodeMeaning")
TRAILING_PADDING = tag_for_keyword("DataSetTrailingPadding")
# The file cannot be stored or shown without these: a bad value refuses the file.
ESSENTIAL_TAGS = profile.tags(
    (
        "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Rows", "Columns",
        "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
        "PhotometricInterpretation", "PixelData",
    )
)  # fmt: skip
# Type 2 attributes emptied, not removed, when their value cannot be kept.
EMPTY_WHEN_BAD = profile.tags(("StudyDate", "StudyTime"))

_CS = re.compile(rb"^[A-Z0-9 _]{0,16}$")
_AS = re.compile(rb"^\d{3}[DWMY]$")
_NUMBER = re.compile(rb"^[0-9+\-.eE ]*$")
_TM = re.compile(r"^(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?|\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)$")
_DT = re.compile(r"^(\d{8})(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?([+-]\d{4})?$")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_SEX = frozenset({"M", "F", "O", ""})


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


def _raw_text(ds: Dataset, keyword: str) -> str:
    """A header value as text without letting a malformed value raise."""
    elem = ds.get_item(keyword)
    if elem is None:
        return ""
    try:
        return str(ds[keyword].value or "")
    except Exception:  # noqa: BLE001 - hostile bytes: compare them as they are
        return bytes(elem.value or b"").decode("latin-1") if elem.is_raw else ""


@dataclass(frozen=True)
class PatientIdentity:
    """The original patient identity of a file, used only to compare files and derive
    keys; never stored."""

    patient_id: str
    patient_name: str

    @classmethod
    def of(cls, ds: Dataset) -> PatientIdentity:
        name = _raw_text(ds, "PatientName")
        # "Doe^John" and "DOE^JOHN^^" are one person.
        name = "^".join(part.strip() for part in name.upper().split("^")).rstrip("^")
        return cls(_raw_text(ds, "PatientID").strip(" \0"), name.strip(" \0"))

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


@dataclass
class _Context:
    shift: dt.timedelta
    names: frozenset[str]
    wholes: tuple[str, ...]
    result: Result


class _Drop(Exception):
    """Raised inside the element rules: the element cannot be kept."""


# --- values ---------------------------------------------------------------------------


def _shift_date(value: str, shift: dt.timedelta) -> str | None:
    """A DA value moved back by ``shift``; '' stays ''; None when it is not a date that
    can be shifted (malformed, year 0001, a range...), so it must go."""
    value = value.strip(" \0")
    if not value:
        return ""
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        day = dt.date(int(value[0:4]), int(value[4:6]), int(value[6:8])) - shift
    except (ValueError, OverflowError):
        return None
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _shift_datetime(value: str, shift: dt.timedelta) -> str | None:
    value = value.strip(" \0")
    if not value:
        return ""
    match = _DT.match(value)
    if not match:
        return None  # a year or month alone says too little to shift: it goes
    day = _shift_date(match.group(1), shift)
    return None if day is None else day + value[8:]


def _raw_values(ds: Dataset, tag: int) -> list[str]:
    """The values of a text element, from its raw bytes when it has not been decoded
    (no decoding cost, nothing can raise) or from pydicom's value."""
    elem = ds.get_item(tag)
    if elem.is_raw:
        raw = bytes(elem.value or b"")
        return raw.decode("latin-1").split("\\") if raw else []
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, list | tuple | MultiValue):
        return [str(v) for v in value]
    return [str(value)]  # one str, number (DSfloat, IS), PersonName...


def _raw_bytes(ds: Dataset, tag: int) -> bytes | None:
    elem = ds.get_item(tag)
    return bytes(elem.value or b"") if elem.is_raw else None


def _set(ds: Dataset, tag: int, vr: str, values: list[str]) -> None:
    """Replace an element without decoding the old value (which may not decode)."""
    value: object = values[0] if len(values) == 1 else ("" if not values else values)
    ds[tag] = DataElement(tag, vr, value)


@lru_cache(maxsize=1)
def _known_codes() -> dict[tuple[str, str], str]:
    """(coding scheme, code value) -> meaning, for the codes pydicom's SR dictionary
    knows (DCM, SCT, LN, UCUM, RADLEX...): a standard code keeps its standard meaning."""
    from pydicom.sr._concepts_dict import concepts

    known = {}
    for scheme, by_keyword in concepts.items():
        for codes in by_keyword.values():
            for code, (meaning, _cids) in codes.items():
                known[(scheme, code)] = meaning
    return known


# --- element rules ----------------------------------------------------------------------


def _numeric(ds: Dataset, tag: int, vrs: tuple[str, ...]) -> None:
    raw = _raw_bytes(ds, tag)
    if raw is None:
        return  # decoded by pydicom: a number already
    sizes = {profile.NUMERIC_ITEM_SIZES[vr] for vr in vrs if vr in profile.NUMERIC_ITEM_SIZES}
    if not any(len(raw) % size == 0 for size in sizes):
        raise _Drop  # pydicom would raise BytesLengthException on it


def _number_string(ds: Dataset, tag: int) -> None:
    raw = _raw_bytes(ds, tag)
    if raw is None:
        raw = "\\".join(_raw_values(ds, tag)).encode("latin-1", "replace")
    if not all(_NUMBER.match(part.strip(b" \0")) for part in raw.split(b"\\")):
        raise _Drop


def _uid(ds: Dataset, tag: int) -> None:
    values = [v.strip(" \0") for v in _raw_values(ds, tag)]
    if not all(_UID.match(v) for v in values if v):
        raise _Drop
    if tag in profile.KEEP_UID_TAGS:
        return
    replaced = [v if (not v or v.startswith(STANDARD_UID_ROOT)) else replace_uid(v) for v in values]
    _set(ds, tag, "UI", replaced)


def _dates(ds: Dataset, tag: int, vr: str, ctx: _Context) -> None:
    shift = _shift_date if vr == "DA" else _shift_datetime
    shifted = [shift(v, ctx.shift) for v in _raw_values(ds, tag)]
    if any(v is None for v in shifted):
        raise _Drop
    _set(ds, tag, vr, shifted)


def _time(ds: Dataset, tag: int) -> None:
    if not all(_TM.match(v.strip(" \0")) for v in _raw_values(ds, tag) if v.strip(" \0")):
        raise _Drop


def _kept_text(ds: Dataset, tag: int, vrs: tuple[str, ...]) -> None:
    if "CS" in vrs:
        values = _raw_values(ds, tag)
        if not all(_CS.match(v.encode("latin-1").strip(b" \0")) for v in values):
            raise _Drop
        if tag == PATIENT_SEX and any(v.strip(" \0") not in _SEX for v in values):
            raise _Drop
    elif "AS" in vrs:
        values = [v.strip(" \0") for v in _raw_values(ds, tag)]
        if not all(_AS.match(v.encode("latin-1")) for v in values if v):
            raise _Drop
    else:
        ds[tag].value  # noqa: B018 - decode now: a value pydicom cannot decode must go


def _clean(ds: Dataset, tag: int, vr: str, ctx: _Context) -> None:
    values = ds[tag].value  # decoded with the dataset's character set
    values = [] if values in (None, "") else ([values] if isinstance(values, str) else list(values))
    if tag == CODE_MEANING:
        known = _known_codes().get(
            (str(ds.get("CodingSchemeDesignator", "")).strip(), str(ds.get("CodeValue", "")).strip())
        )
        if known is not None:
            _set(ds, tag, vr, [known])
            return
    cleaned = [deid_text.clean_descriptor(str(v), ctx.names, ctx.wholes) for v in values]
    if vr == "CS":
        cleaned = [" ".join(re.sub(r"[^A-Z0-9 _]", " ", v.upper()).split())[:16] for v in cleaned]
    else:
        cleaned = [v[:64] if vr == "LO" else v for v in cleaned]
    _set(ds, tag, vr, cleaned)


def _image_comments(ds: Dataset, tag: int, ctx: _Context) -> None:
    text = " ".join(_raw_values(ds, tag))
    if PHANTOM_MARKER not in text.upper():
        raise _Drop
    _set(ds, tag, "LT", [PHANTOM_MARKER])
    ctx.result.synthetic_marker = True


def _sequence(ds: Dataset, tag: int, ctx: _Context, depth: int) -> None:
    if tag not in profile.KEEP_SEQUENCE_TAGS:
        raise _Drop
    for item in ds[tag].value:
        _scrub(item, ctx, depth + 1)


def _public(ds: Dataset, tag: int, ctx: _Context, depth: int) -> None:
    """Apply the rules to one public element; raise _Drop to remove it."""
    group = tag >> 16
    if (
        (tag & 0xFFFF) == 0  # group lengths go stale; writers recompute them
        or group in (0x0000, 0x0002)  # command and file meta groups do not belong here
        or 0x5000 <= group <= 0x50FF  # curves
        or 0x6000 <= group <= 0x60FF  # overlays (may hold burned-in text as bits)
        or tag == TRAILING_PADDING
    ):
        raise _Drop
    if depth == 0 and tag in (PATIENT_NAME, PATIENT_ID):
        return  # set to the pseudonym by the caller
    if tag == IMAGE_COMMENTS:
        _image_comments(ds, tag, ctx)
        return
    vrs = profile.dictionary_vrs(tag)
    if tag in profile.EMPTY_TAGS:
        _set(ds, tag, vrs[0] if vrs else "LO", [])
        return
    if tag in profile.REMOVE_TAGS or vrs is None:
        raise _Drop  # what the profile removes, and tags this dictionary does not know
    declared = ds.get_item(tag).VR
    if declared and " or " in declared:
        declared = None  # set in memory without choosing ("OB or OW"): the dictionary's
    if declared not in (None, "UN") and declared not in vrs:
        raise _Drop  # a wrong VR: pydicom would decode it as something it is not
    vr = declared if declared in vrs else vrs[0]
    if vr == "SQ":
        _sequence(ds, tag, ctx, depth)
    elif vr == "UI":
        _uid(ds, tag)
    elif vr in DATE_VRS:
        _dates(ds, tag, vr, ctx)
    elif vr == "TM":
        _time(ds, tag)
    elif vr in profile.NUMERIC_ITEM_SIZES and vr not in ("OF", "OD", "OL", "OV"):
        _numeric(ds, tag, vrs)
    elif vr in profile.NUMBER_STRING_VRS:
        _number_string(ds, tag)
    elif vr in profile.BINARY_VRS or vr in ("OF", "OD", "OL", "OV"):
        if tag not in profile.KEEP_BINARY_TAGS:
            raise _Drop
    elif tag in profile.CLEAN_TAGS:
        _clean(ds, tag, vr, ctx)
    elif tag in profile.KEEP_TEXT_TAGS:
        _kept_text(ds, tag, vrs)
    else:
        raise _Drop  # every other text: PN, AE, UR, LO/SH/ST/LT/UT/UC not on a list


def _scrub_private(ds: Dataset, ctx: _Context) -> None:
    """Remove private elements except those on the safe-private allow-list (and the
    creator elements that name their blocks)."""
    private = [tag for tag in ds.keys() if tag.is_private]
    if not private:
        return
    keep_creators = set()
    for tag in private:
        tag = int(tag)
        group, element = tag >> 16, tag & 0xFFFF
        if element >= 0x1000:
            creator_tag = (group << 16) | (element >> 8)
            creator = " ".join(_raw_values(ds, creator_tag)).strip(" \0") if creator_tag in ds else ""
            vr = profile.SAFE_PRIVATE.get((group, creator, element & 0xFF))
            if vr is not None and ds.get_item(tag).VR in (None, "UN", vr):
                try:
                    _numeric(ds, tag, (vr,))
                except _Drop:
                    pass
                else:
                    keep_creators.add(creator_tag)
                    continue
        elif 0x0010 <= element <= 0x00FF:
            continue  # decided below, once every element of its block is decided
        del ds[tag]
        ctx.result.removed += 1
    for tag in private:
        if tag in ds and (int(tag) & 0xFFFF) < 0x1000 and int(tag) not in keep_creators:
            del ds[tag]
            ctx.result.removed += 1


def _scrub(ds: Dataset, ctx: _Context, depth: int = 0) -> None:
    _scrub_private(ds, ctx)
    for tag in list(ds.keys()):
        tag = int(tag)  # plain ints: BaseTag comparisons are slow in this hot loop
        if tag & 0x10000:  # odd group: handled by _scrub_private
            continue
        try:
            _public(ds, tag, ctx, depth)
            continue
        except _Drop:
            reason = "cannot be kept"
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 - hostile values fail in pydicom anywhere
            reason = f"cannot be decoded ({type(exc).__name__})"
        if depth == 0 and tag in ESSENTIAL_TAGS:
            name = keyword_for_tag(tag)
            raise IngestError(
                f"The file's {name} ({tag >> 16:04X},{tag & 0xFFFF:04X}) {reason}: its value is malformed "
                "or has the wrong type, so the file was refused.",
                code="corrupt",
            )
        if tag in EMPTY_WHEN_BAD and depth == 0:
            _set(ds, tag, profile.dictionary_vrs(tag)[0], [])
            continue
        del ds[tag]
        ctx.result.removed += 1


# --- identifying words for Clean Descriptors ----------------------------------------------


def _identifying_values(ds: Dataset, people: list[str], others: list[str], depth: int = 0) -> None:
    """Collect every person name (PN, at any depth, private ones too) and the values of
    the identifying attributes in deid_profile.NAME_SOURCE_KEYWORDS."""
    if depth > 32:
        return
    for tag in list(ds.keys()):
        tag = int(tag)
        elem = ds.get_item(tag)
        vr = elem.VR
        vrs = profile.dictionary_vrs(tag) if (vr in (None, "UN") and not tag & 0x10000) else (vr,)
        vrs = vrs or ()
        try:
            if "SQ" in vrs:
                for item in ds[tag].value:
                    _identifying_values(item, people, others, depth + 1)
            elif "PN" in vrs:
                people.extend(v for v in _raw_values(ds, tag) if v.strip(" \0"))
            elif tag in profile.NAME_SOURCE_TAGS:
                others.extend(v for v in _raw_values(ds, tag) if v.strip(" \0"))
        except Exception:  # noqa: BLE001, S112 - a value that cannot be read names no one here
            continue


def deidentify(
    ds: Dataset, *, pseudonym: str, identity: PatientIdentity | None = None, rebuild_meta: bool = True
) -> Result:
    """De-identify ``ds`` in place (its file meta included) and return what was done.

    ``pseudonym`` becomes PatientID and, as ``ANON^<pseudonym>``, PatientName. With
    ``rebuild_meta=False`` the caller writes a fresh file meta group itself (the fast
    writer does) and ds.file_meta is left as read. Raises IngestError when a value the
    file cannot do without is malformed.
    """
    identity = identity or PatientIdentity.of(ds)
    people: list[str] = []
    others: list[str] = []
    _identifying_values(ds, people, others)
    names, wholes = deid_text.name_words(people, others)
    result = Result()
    _scrub(ds, _Context(identity.date_shift(), names, wholes, result))
    ds.PatientName = f"ANON^{pseudonym}"
    ds.PatientID = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(METHOD)
    ds.DeidentificationMethodCodeSequence = _method_codes()
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    # Whatever the upload had in its 128-byte preamble (anything at all) is not written.
    ds.preamble = b"\0" * 128
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
