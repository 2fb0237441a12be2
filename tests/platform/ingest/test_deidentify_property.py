"""Property test (seeded random mutator; hypothesis is not installed): random datasets
with PHI markers planted in random attributes at random sequence depths -> no marker
survives anywhere in the bytes ingest would store.

Markers go into every kind of place: any public text attribute the data dictionary
knows (except the few coded ones deid_profile keeps as they are, which the docs list as
the residual risk), descriptors that are cleaned, unknown public tags, private tags,
kept and removed sequences at depth up to 4, and malformed numbers, dates, times, ages
and UIDs written as raw bytes."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pydicom
import pytest
from pydicom import config as pydicom_config
from pydicom.datadict import DicomDictionary, dictionary_has_tag
from pydicom.dataset import Dataset

from ingest import deid_profile, deidentify, readers
from tests.platform.ingest.helpers import ct_dataset
from tests.platform.ingest.test_deidentify_pentest import with_raw_elements

SEEDS = range(40)
TEXT_VRS = ("LO", "SH", "ST", "LT", "UT", "UC", "PN", "CS", "AE", "UR")
SHORT_VRS = {"SH": 16, "CS": 16, "AE": 16}
# Coded text kept as is (documented residual risk); the caller sets PatientName/ID.
NOT_PLANTED = set(deid_profile.KEEP_TEXT_KEYWORDS) | {"PatientName", "PatientID", "SpecificCharacterSet"}
_TEXT_ATTRIBUTES = sorted(
    (tag, vr, keyword)
    for tag, (vr, _vm, _name, _retired, keyword) in DicomDictionary.items()
    if vr in TEXT_VRS and keyword and keyword not in NOT_PLANTED and (tag >> 16) not in (0x0000, 0x0002)
)
_SEQUENCES = sorted(
    keyword for _tag, (vr, _vm, _name, _retired, keyword) in DicomDictionary.items() if vr == "SQ" and keyword
)
_KEPT_SEQUENCES = sorted(deid_profile.KEEP_SEQUENCE_KEYWORDS)


class Planter:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.markers: list[str] = []
        self.deepest = 0

    def marker(self, length: int = 10) -> str:
        # Upper-case letters fit every text VR (CS included) and are in no vocabulary.
        value = "QZ" + "".join(self.rng.choice(string.ascii_uppercase) for _ in range(length - 2))
        self.markers.append(value)
        return value

    def plant(self, ds: Dataset, depth: int) -> None:
        self.deepest = max(self.deepest, depth)
        rng = self.rng
        for _ in range(rng.randint(3, 10)):
            kind = rng.random()
            if kind < 0.55:
                tag, vr, _keyword = rng.choice(_TEXT_ATTRIBUTES)
                ds.add_new(tag, vr, self.marker(min(SHORT_VRS.get(vr, 16), 16)))
            elif kind < 0.7:
                keyword = rng.choice(deid_profile.CLEAN_KEYWORDS)
                marker = self.marker()
                words = ["knee", "CT", marker, "of", "distal", "tibia"]
                rng.shuffle(words)
                vr = DicomDictionary[pydicom.datadict.tag_for_keyword(keyword)][0]
                setattr(ds, keyword, (" ".join(words) if vr != "CS" else marker))
            elif kind < 0.8:
                while True:  # an even-group tag the dictionary does not know
                    tag = (rng.randrange(0x0008, 0x7FDF, 2) << 16) | rng.randrange(0x0010, 0xFFFF)
                    if not dictionary_has_tag(tag) and not 0x5000 <= tag >> 16 <= 0x60FF:
                        break
                ds.add_new(tag, "LO", self.marker())
            elif kind < 0.9:
                group = rng.randrange(0x0009, 0x7FDF, 2)
                block = ds.private_block(group, f"PRIV {self.marker(8)}", create=True)
                block.add_new(rng.randrange(0x10, 0xFF), rng.choice(("LO", "UT", "PN")), self.marker())
            elif depth < 4:
                keyword = rng.choice(_KEPT_SEQUENCES if rng.random() < 0.6 else _SEQUENCES)
                items = []
                for _ in range(rng.randint(1, 2)):
                    item = Dataset()
                    item.ReferencedSOPInstanceUID = "1.2.3.4." + str(rng.randrange(10**6))
                    self.plant(item, depth + 1)
                    items.append(item)
                setattr(ds, keyword, items)

    def raw_elements(self) -> list[tuple[int, str, bytes]]:
        """Malformed values pydicom would not write: numbers, dates, times, ages, UIDs."""
        choices = [
            (0x00180050, "DS"), (0x00200013, "IS"), (0x00080022, "DA"), (0x0008002A, "DT"),
            (0x00080032, "TM"), (0x00101010, "AS"), (0x00080014, "UI"), (0x00081155, "UI"),
            (0x00181030, "US"),
        ]  # fmt: skip
        picked = self.rng.sample(choices, self.rng.randint(1, len(choices)))
        return [(tag, vr, (self.marker() + " ").encode()[:12]) for tag, vr in picked]


def _stored_bytes(path: Path) -> bytes:
    dicom = readers.read_dicom(readers.Source(path, path.name))
    deidentify.deidentify(dicom.ds, pseudonym="PROP-1", rebuild_meta=dicom.pixel_element is None)
    chunks = readers.encode(dicom, shared=deidentify.shared_elements(), version_name="OSTEOLENS_1")
    return b"".join(bytes(c) for c in chunks)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_planted_marker_survives(tmp_path, seed):
    planter = Planter(seed)
    ds = ct_dataset(seed % 5)
    if seed % 3 == 0:
        ds.compress(pydicom.uid.RLELossless)  # the general path, not only the fast one
    with pydicom_config.disable_value_validation():
        planter.plant(ds, 0)
        data = with_raw_elements(ds, planter.raw_elements())
    path = tmp_path / "IM"
    path.write_bytes(data)
    stored = _stored_bytes(path)
    lowered = stored.lower()
    for marker in planter.markers:
        assert marker.lower().encode() not in lowered, f"seed {seed}: {marker} survived"
    copy = pydicom.dcmread(pydicom.filebase.DicomBytesIO(stored))
    assert copy.PatientID == "PROP-1" and copy.Rows == 32
    assert (copy.pixel_array == pydicom.dcmread(path).pixel_array).all()


def test_the_mutator_reaches_deep_items_and_every_kind_of_place():
    """Guards the property test itself: its datasets do nest and do plant widely."""
    deepest = 0
    count = 0
    for seed in SEEDS:
        planter = Planter(seed)
        with pydicom_config.disable_value_validation():
            planter.plant(ct_dataset(0), 0)
        deepest = max(deepest, planter.deepest)
        count += len(planter.markers)
    assert deepest >= 3 and count > 400
