"""Cohort import from a manifest: dry run reports every bad line, a real run imports
library cases with histopathology, clinical data, split, centre and annotations."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from cases.models import Case
from cohorts.models import Cohort
from inference_worker.manifest import write_manifest
from tests.platform.ingest.helpers import PHI, ct_dataset, dicom_bytes, snapshot, write_series

pytestmark = pytest.mark.django_db


def patient(n: int) -> dict:
    return dict(PHI, PatientID=f"PID-{n}", PatientName=f"Patient^Number{n}")


def make_cohort(root: Path, *, bad_rows: bool = False, broken_image: bool = False) -> Path:
    """Three sacral CT cases of two slices each (one with a label map) in a manifest."""
    rows = []
    for n in range(3):
        folder = root / f"case{n}"
        write_series(folder, 2, phi=patient(n), study_uid=f"1.2.3.{n}.1", series_uid=f"1.2.3.{n}.2")
        rows.append(
            {"case_id": f"SAC-{n:03d}", "task": "sacral-ct", "images": f"case{n}", "diagnosis": "chordoma",
             "confirmation": "biopsy", "certainty": "certain", "split": ("train", "validation", "test")[n],
             "centre": f"centre-{n % 2}", "age": 50 + n, "sex": "MF"[n % 2], "site": "sacrum", "pain": "yes",
             "synthetic": "yes"}
        )  # fmt: skip
    labels = np.zeros((4, 4, 2), dtype=np.uint8)
    labels[1:3, 1:3, :] = 1
    image = nib.Nifti1Image(labels, np.eye(4))
    image.header["descrip"] = b"Patient Number0 labels"
    nib.save(image, root / "case0-labels.nii.gz")
    rows[0]["labels"] = "case0-labels.nii.gz"
    rows[1]["lesion_box"] = "1,2,10,20"
    if bad_rows:
        rows[1]["diagnosis"] = "osteochondroma"  # not a sacral-ct class
        rows[2]["images"] = "missing-folder"
    if broken_image:
        data = dicom_bytes(ct_dataset(5, phi=patient(2), study_uid="1.2.3.2.1", series_uid="1.2.3.2.2"))
        (root / "case2" / "IM-cut").write_bytes(data[:-600])
    path = root / "manifest.csv"
    write_manifest(path, rows)
    return path


def test_import_creates_library_cases(tmp_path, alice, capsys):
    manifest = make_cohort(tmp_path / "pilot")
    call_command("import_cohort", str(manifest), "--name", "sacral-pilot")
    assert "imported 3" in capsys.readouterr().out
    cohort = Cohort.objects.get(name="sacral-pilot")
    assert (cohort.task, cohort.synthetic) == ("sacral-ct", True)
    cases = {c.label: c for c in Case.objects.all()}
    assert set(cases) == {"SAC-000", "SAC-001", "SAC-002"}
    for n, label in enumerate(sorted(cases)):
        case = cases[label]
        assert case.in_library and case.synthetic and case.task == "sacral-ct"
        assert (case.histopathology.diagnosis, case.histopathology.behaviour) == ("chordoma", "malignant")
        assert (case.histopathology.confirmation, case.histopathology.confirmed_by) == ("biopsy", alice)
        assert (case.clinical.age, case.clinical.sex, case.clinical.pain) == (50 + n, "MF"[n % 2], True)
        membership = case.memberships.get()
        assert (membership.split, membership.centre) == (
            ("train", "validation", "test")[n],
            f"centre-{n % 2}",
        )
        assert case.studies.get().series.get().instances.count() == 2
    assert cases["SAC-001"].annotations["lesion_box"] == [1, 2, 10, 20]
    labels = cases["SAC-000"].annotations["labels"]
    stored = Path(settings.MEDIA_ROOT) / labels["path"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == labels["sha256"]
    assert b"Number0" not in nib.load(stored).header["descrip"].tobytes()
    assert np.array_equal(
        np.asanyarray(nib.load(stored).dataobj),
        np.asanyarray(nib.load(tmp_path / "pilot" / "case0-labels.nii.gz").dataobj),
    )
    # Running it again imports nothing twice.
    call_command("import_cohort", str(manifest), "--name", "sacral-pilot")
    assert "0 errors" in capsys.readouterr().out and Case.objects.count() == 3


def test_dry_run_reports_every_bad_line_and_imports_nothing(tmp_path, alice, capsys):
    manifest = make_cohort(tmp_path / "pilot", bad_rows=True)
    check = snapshot()
    with pytest.raises(CommandError, match="2 bad rows; nothing was imported"):
        call_command("import_cohort", str(manifest), "--dry-run")
    err = capsys.readouterr().err
    assert "line 3: diagnosis 'osteochondroma' is not a class of task sacral-ct" in err
    assert "line 4: image 'missing-folder' does not exist" in err
    check()


def test_dry_run_of_a_good_manifest_checks_the_images_too(tmp_path, alice, capsys):
    manifest = make_cohort(tmp_path / "pilot")
    (tmp_path / "pilot" / "case1" / "notes.txt").write_text("not an image")
    check = snapshot()
    with pytest.raises(CommandError, match="1 rows failed"):
        call_command("import_cohort", str(manifest), "--dry-run")
    out = capsys.readouterr().out
    assert "would import 2" in out and "line 3: notes.txt is not a DICOM, NIfTI, PNG or JPEG image" in out
    check()


def test_a_broken_row_fails_alone_and_leaves_nothing(tmp_path, alice, capsys):
    manifest = make_cohort(tmp_path / "pilot", broken_image=True)
    with pytest.raises(CommandError, match="1 rows failed; the others were imported"):
        call_command("import_cohort", str(manifest))
    assert "line 4: case2/IM-cut: the file is truncated" in capsys.readouterr().out
    assert set(Case.objects.values_list("label", flat=True)) == {"SAC-000", "SAC-001"}
    stored = list((Path(settings.MEDIA_ROOT) / "objects").rglob("*.dcm"))
    assert len(stored) == 4  # two rows of two slices; the failed row's slices were removed


def manifest_zip(root: Path, **kwargs) -> bytes:
    make_cohort(root, **kwargs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, f"pilot/{path.relative_to(root)}")
    return buffer.getvalue()


def test_import_page_permissions(client_for, rita, dora):
    assert client_for(None).get("/cohorts/import/").status_code == 302
    assert client_for(rita).get("/cohorts/import/").status_code == 403
    assert client_for(dora).get("/cohorts/import/").status_code == 403


def test_import_page_dry_run_shows_line_errors(client_for, alice, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(alice)
    data = manifest_zip(tmp_path / "pilot", bad_rows=True)
    check = snapshot()
    response = client.post(
        "/cohorts/import/", {"archive": SimpleUploadedFile("pilot.zip", data), "dry_run": "on"}
    )
    assert response.status_code == 400
    assert response.context["errors"][0][0] == 3 and response.context["errors"][1][0] == 4
    assert b"is not a class of task sacral-ct" in response.content
    check()


def test_import_page_imports(client_for, alice, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = manifest_zip(tmp_path / "pilot")
    response = client_for(alice).post("/cohorts/import/", {"archive": SimpleUploadedFile("pilot.zip", data)})
    assert response.status_code == 200
    assert response.context["summary"].imported == ["SAC-000", "SAC-001", "SAC-002"]
    assert Cohort.objects.get().name == "pilot"
    assert Case.objects.filter(in_library=True).count() == 3
