"""The rule tables and the Clean Descriptors rule, checked on their own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from ingest import deid_profile, deid_text, deidentify
from tests.platform.ingest.helpers import ct_dataset

SHIFT = dt.timedelta(days=400)


def test_no_allow_list_keeps_what_table_e11_removes_unless_an_option_says_so():
    kept = (
        deid_profile.KEEP_TEXT_TAGS
        | deid_profile.CLEAN_TAGS
        | deid_profile.KEEP_SEQUENCE_TAGS
        | deid_profile.KEEP_BINARY_TAGS
    )
    for keyword, action in deid_profile.E1_1.items():
        applied = deid_profile.applied_action(keyword)
        if applied in ("X", "Z", "D") and keyword not in deid_profile.EMPTY_KEYWORDS:
            assert deid_profile.tags([keyword]) <= deid_profile.REMOVE_TAGS, keyword
            assert not deid_profile.tags([keyword]) & kept, keyword
        if action in ("X", "Z", "D") and applied not in ("X", "Z", "D"):
            assert keyword in deid_profile.OPTION_ACTIONS, keyword


def test_every_keyword_in_the_tables_is_a_dictionary_keyword():
    # A typo would silently change what is kept; deid_profile.tags raises on unknown ones.
    for keywords in (
        deid_profile.E1_1,
        deid_profile.KEEP_TEXT_KEYWORDS,
        deid_profile.CLEAN_KEYWORDS,
        deid_profile.KEEP_SEQUENCE_KEYWORDS,
        deid_profile.KEEP_BINARY_KEYWORDS,
        deid_profile.NAME_SOURCE_KEYWORDS,
    ):
        assert len(deid_profile.tags(keywords)) == len(set(keywords))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Non-ossifying fibroma of distal tibia", "Non-ossifying fibroma of distal tibia"),
        ("CT PELVIS W/O", "CT PELVIS W/O"),
        ("AP", "AP"),
        ("LAT", "LAT"),
        ("L-spine", "L-spine"),
        ("Bone 1.0", "Bone 1.0"),
        ("T1 sag 3mm L4-L5", "T1 sag 3mm L4-L5"),
        ("Knee born 19610412 at MARKERHOSP ref DRREFMARK", "Knee"),
        ("Hip 12/04/1961", "Hip"),
        ("Hip 1961-04-12T10:15", "Hip"),
        ("Hip 12 April 1961", "Hip"),
        ("Hip April 12, 1961", "Hip"),
        ("Knee tel +41 61 265 25 25", "Knee"),
        ("Knee 061.265.25.25", "Knee"),
        ("Knee 5551234", "Knee"),
        ("Chordoma of sacrum, S2", "Chordoma of sacrum, S2"),
        ("PET/CT Onko/Infekt", "PET/CT"),
        ("MARKERHOSP", ""),
        ("WINDOW1 phase2", "WINDOW1 phase2"),
        ("AB123 X12Y34 Br38f", ""),
    ],
)
def test_clean_descriptor_rule(text, expected):
    assert deid_text.clean_descriptor(text) == expected


def test_clean_descriptor_cuts_names_even_when_they_are_vocabulary_words():
    names, wholes = deid_text.name_words(["Hand^Mary"], ["Saint Bone Clinic", "PID-4711"])
    assert deid_text.clean_descriptor("Hand left PID-4711", names, wholes) == "left"
    # An institution's vocabulary words name no one once the rest is gone...
    assert deid_text.clean_descriptor("Bone 1.0", names, wholes) == "Bone 1.0"
    # ...but the institution's name as a whole is cut.
    assert deid_text.clean_descriptor("Saint Bone Clinic knee", names, wholes) == "knee"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("20240115", "20221211"),
        ("", ""),
        ("00010101", None),
        ("99991231", "99981126"),
        ("2024-01-15", None),
        ("20241332", None),
        ("2024011", None),
        ("20240115-20240201", None),
    ],
)
def test_shift_date(value, expected):
    assert deidentify._shift_date(value, SHIFT) == expected


def test_shift_datetime_keeps_time_and_offset():
    assert deidentify._shift_datetime("20240115101500.5+0100", SHIFT) == "20221211101500.5+0100"
    assert deidentify._shift_datetime("2024", SHIFT) is None
    assert deidentify._shift_datetime("00010101120000", SHIFT) is None


@pytest.mark.django_db
def test_safe_private_allow_list_keeps_only_its_tags():
    ds = ct_dataset(0)
    philips = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    philips.add_new(0x0E, "FL", 1.5)  # on the allow-list: kept
    philips.add_new(0x0F, "LO", "Quixwright")  # same block, not on it: removed
    deidentify.deidentify(ds, pseudonym="PRIV-1")
    kept = [(elem.tag, elem.value) for elem in ds if elem.tag.is_private]
    assert len(kept) == 2  # the creator and the scale slope
    assert ds.private_block(0x2005, "Philips MR Imaging DD 001")[0x0E].value == 1.5
    assert all("Quixwright" not in str(value) for _tag, value in kept)
    assert 0x00290010 not in ds  # the other (WOLFHALL) block is gone with its creator


@pytest.mark.django_db
def test_method_is_recorded():
    ds = ct_dataset(0)
    deidentify.deidentify(ds, pseudonym="M-1")
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113105", "113107", "113108", "113111"]
    assert ds.PatientIdentityRemoved == "YES" and ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert ds.preamble == bytes(128)


@pytest.mark.django_db
def test_standard_code_meanings_are_kept_and_local_ones_cleaned():
    ds = ct_dataset(0)
    standard = Dataset()
    standard.CodeValue, standard.CodingSchemeDesignator = "121320", "DCM"
    standard.CodeMeaning = "Uncompressed predecessor Quixwright"
    local = Dataset()
    local.CodeValue, local.CodingSchemeDesignator = "X1", "99LOCAL"
    local.CodeMeaning = "Pelvis for Quixwright"
    ref = Dataset()
    ref.ReferencedSOPInstanceUID = "1.2.3"
    ref.PurposeOfReferenceCodeSequence = [standard]
    ds.SourceImageSequence = [ref]
    ds.AnatomicRegionSequence = [local]
    deidentify.deidentify(ds, pseudonym="CODE-1")
    assert (
        ds.SourceImageSequence[0].PurposeOfReferenceCodeSequence[0].CodeMeaning == "Uncompressed predecessor"
    )
    assert ds.AnatomicRegionSequence[0].CodeMeaning == "Pelvis"


@pytest.mark.django_db
def test_a_dataset_built_in_memory_keeps_what_one_read_from_a_file_keeps(tmp_path):
    """Factories and converters de-identify datasets they built (decoded values, 'OB or
    OW' VRs); ingest de-identifies raw ones read from files: both keep the same."""
    in_memory = ct_dataset(1)
    path = tmp_path / "IM1"
    in_memory.save_as(path, enforce_file_format=True)
    from_file = pydicom.dcmread(path)
    deidentify.deidentify(in_memory, pseudonym="MEM-1")
    deidentify.deidentify(from_file, pseudonym="MEM-1")
    assert sorted(in_memory.keys()) == sorted(from_file.keys())
    for keyword in ("WindowCenter", "RescaleIntercept", "ImagePositionPatient", "PixelSpacing", "Rows",
                    "PixelData", "SliceThickness", "PatientAge", "Modality", "StudyDate"):  # fmt: skip
        assert in_memory[keyword].value == from_file[keyword].value, keyword


def test_the_conformance_table_in_the_docs_lists_every_e11_attribute():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "deidentification.md").read_text()
    rows = {line.split("|")[2].strip() for line in doc.splitlines() if line.startswith("| (")}
    assert rows == set(deid_profile.E1_1)
    for keyword in (*deid_profile.CLEAN_KEYWORDS, "Retain Safe Private", "burned-in"):
        assert keyword in doc
