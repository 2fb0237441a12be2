"""Planted identity never reaches storage or the database; UIDs are replaced consistently."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSLossless, RLELossless

from cases.models import Case, Instance, Series, Study
from cases.pseudonyms import pseudonym_for_label
from ingest import deidentify
from ingest.errors import IngestError
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import (
    PHI,
    PRIVATE_TEXT,
    SERIES_UID,
    STUDY_UID,
    ct_dataset,
    db_dump,
    snapshot,
    stored_files,
    write_series,
)

pytestmark = pytest.mark.django_db


def planted_values() -> list[str]:
    values = [v for v in PHI.values()]
    values += [part for v in PHI.values() for part in re.split(r"[\^ ,]", v) if len(part) >= 5]
    values += [PRIVATE_TEXT, "WOLFHALL", "Reviewer^Secret", "Overlay says Quixwright", STUDY_UID, SERIES_UID]
    return sorted(set(values))


def hostile_series(folder: Path, count: int = 4) -> list[Path]:
    """Uncompressed slices plus JPEG-LS and RLE ones, with identity in every nook."""
    paths = write_series(folder, count)
    for index, syntax in ((count, JPEGLSLossless), (count + 1, RLELossless)):
        ds = ct_dataset(index)
        ds.compress(syntax)
        item = Dataset()
        item.ReferencedSOPClassUID = ds.SOPClassUID
        item.ReferencedSOPInstanceUID = f"{SERIES_UID}.1"
        item.ReviewerName = "Reviewer^Secret"  # a person name in a sequence, not on any list
        ds.SourceImageSequence = [item]
        ds.add_new(0x60000022, "LO", "Overlay says Quixwright")  # overlay description
        path = folder / f"IM{index:04d}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def test_no_planted_identity_in_storage_or_database(tmp_path, alice):
    hostile_series(tmp_path / "in")
    result = ingest_paths([tmp_path / "in"], user=alice, label="PHI-1")
    assert result.instances == 6
    files = stored_files()
    assert len(files) == 6
    needles = planted_values()
    for path in files:
        raw = path.read_bytes()
        for value in needles:
            assert value.encode() not in raw, f"{value!r} survived in {path.name}"
    dump = repr(db_dump())
    for value in needles:
        assert value not in dump, f"{value!r} is in the database"


def test_kept_for_imaging_and_marked_as_deidentified(tmp_path, alice):
    originals = hostile_series(tmp_path / "in")
    ingest_paths([tmp_path / "in"], user=alice, label="PHI-2")
    by_number = {}
    for path in stored_files():
        ds = pydicom.dcmread(path)
        by_number[int(ds.InstanceNumber)] = ds
    for number, ds in by_number.items():
        original = pydicom.dcmread(originals[number - 1])
        # The files carry the case's opaque pseudonym, never its label (cases.pseudonyms).
        pseudonym = pseudonym_for_label("PHI-2")
        assert str(ds.PatientName) == f"ANON^{pseudonym}" and ds.PatientID == pseudonym
        assert ds.PatientIdentityRemoved == "YES"
        assert "113100" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
        assert ds.PatientBirthDate == ""
        assert (ds.PatientAge, ds.PatientSex) == ("063Y", "F")
        assert ds.StudyDescription == "CT pelvis"  # the patient ID was cut out of it
        assert "ImageComments" not in ds and "PatientComments" not in ds
        assert not any(elem.tag.is_private for elem in ds.iterall())
        assert ds.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "RescaleIntercept",
                        "WindowCenter", "Modality", "BodyPartExamined", "PhotometricInterpretation"):  # fmt: skip
            assert ds[keyword].value == original[keyword].value, keyword
        assert np.array_equal(ds.pixel_array, original.pixel_array)
        assert ds.StudyDate != "20240115" and ds.StudyDate == ds.SeriesDate
    dates = {ds.StudyDate for ds in by_number.values()}
    assert len(dates) == 1  # one patient, one shift
    # A reference inside a sequence points at the replaced UID of the slice it named.
    ref = by_number[5].SourceImageSequence[0].ReferencedSOPInstanceUID
    assert ref == by_number[1].SOPInstanceUID
    assert "ReviewerName" not in by_number[5].SourceImageSequence[0]


def test_uids_replaced_and_series_kept_together_across_uploads(tmp_path, alice):
    write_series(tmp_path / "a", 3)
    first = ingest_paths([tmp_path / "a"], user=alice, label="UID-1")
    more = tmp_path / "b"
    more.mkdir()
    for i in range(3, 6):
        ct_dataset(i).save_as(more / f"IM{i}", enforce_file_format=True)
    second = ingest_paths([more], user=alice, case=first.case)
    assert (second.studies, second.series, second.instances) == (0, 0, 3)
    series = Series.objects.get()
    assert series.series_uid == deidentify.replace_uid(SERIES_UID)
    assert series.series_uid.startswith("2.25.") and len(series.series_uid) <= 64
    assert Study.objects.get().study_uid == deidentify.replace_uid(STUDY_UID)
    assert series.instances.count() == 6
    assert all(uid.startswith("2.25.") for uid in Instance.objects.values_list("sop_uid", flat=True))
    # The same files again: nothing new, nothing stored twice.
    again = ingest_paths([tmp_path / "a"], user=alice, case=first.case)
    assert (again.instances, again.duplicates) == (0, 3)
    assert len(stored_files()) == 6


def test_same_study_as_a_new_case_is_refused(tmp_path, alice):
    write_series(tmp_path / "a", 2)
    ingest_paths([tmp_path / "a"], user=alice, label="DUP-1")
    check = snapshot()
    with pytest.raises(IngestError, match="already stored as case DUP-1"):
        ingest_paths([tmp_path / "a"], user=alice, label="DUP-2")
    check()


def test_different_patient_cannot_join_a_case(tmp_path, alice):
    write_series(tmp_path / "a", 2)
    case = ingest_paths([tmp_path / "a"], user=alice).case
    other = dict(PHI, PatientID="PID-OTHER", PatientName="Other^Person")
    write_series(tmp_path / "b", 2, phi=other, series_uid="1.2.3.4.5.6", study_uid="1.2.3.4.5")
    check = snapshot()
    with pytest.raises(IngestError) as caught:
        ingest_paths([tmp_path / "b"], user=alice, case=case)
    assert caught.value.code == "mixed_patients"
    check()


def test_synthetic_phantom_marker_is_the_only_comment_kept(tmp_path, alice):
    folder = tmp_path / "in"
    folder.mkdir()
    ds = ct_dataset(0, phi={"ImageComments": "SYNTHETIC PHANTOM seed 7 by Dr Quixwright"})
    ds.save_as(folder / "one", enforce_file_format=True)
    case = ingest_paths([folder], user=alice).case
    assert case.synthetic
    (path,) = stored_files()
    assert pydicom.dcmread(path).ImageComments == "SYNTHETIC PHANTOM"
    assert b"Quixwright" not in path.read_bytes()


def test_uid_replacement_is_keyed_by_the_site_secret(settings):
    first = deidentify.replace_uid("1.2.3.4")
    assert first == deidentify.replace_uid("1.2.3.4")
    settings.SECRET_KEY = "another-site-secret-of-sufficient-length-000"
    assert deidentify.replace_uid("1.2.3.4") != first


def test_profile_lists_use_known_keywords():
    # A keyword typo would silently keep an attribute; _tags raises on unknown keywords.
    assert len(deidentify.REMOVE_TAGS) == len(set(deidentify.REMOVE_KEYWORDS))
    assert Case._meta.get_field("label").max_length >= len("ANON^")
