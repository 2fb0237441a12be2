"""The case label never reaches a served DICOM header: files carry an opaque pseudonym.

The label (here TIB-1, a source cohort's case id) is hidden on the pages while a case is
read; ingest used to write it as PatientID (and ANON^TIB-1 as PatientName) into every
file, so QIDO, the metadata and WADO gave it away.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from cases.pseudonyms import case_pseudonym, pseudonym_for_label
from tests.platform.factories import ct_slice

pytestmark = pytest.mark.django_db

LABEL = "TIB-1"


@pytest.fixture
def ingested(tmp_path, alice):
    from ingest.services import ingest_paths

    folder = tmp_path / "upload"
    folder.mkdir()
    yy, xx = np.mgrid[:32, :32]
    uids: tuple[str, str] | None = None
    for k in range(2):
        ds = ct_slice(np.where((yy - 16) ** 2 + (xx - 16) ** 2 < 60, 900, 20), z=3.0 * k)
        ds.PatientID, ds.PatientName = "HOSP-99812", "Doe^Jane"
        if uids:  # one series of two slices
            ds.StudyInstanceUID, ds.SeriesInstanceUID = uids
        uids = (ds.StudyInstanceUID, ds.SeriesInstanceUID)
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)
    return ingest_paths([folder], task="sacral-ct", label=LABEL, in_library=True, user=alice).case


def _no_label(blob: bytes, where: str) -> None:
    assert LABEL.encode() not in blob, f"{where} carries the case label"


def test_no_served_header_carries_the_case_label(ingested, client_for, alice, settings):
    from cases.models import Instance, Study

    pseudonym = case_pseudonym(ingested)
    assert pseudonym.startswith("OL-") and LABEL not in pseudonym
    client = client_for(alice)
    study = Study.objects.get(case=ingested)
    instance = Instance.objects.filter(series__study=study).first()

    stored = pydicom.dcmread(settings.MEDIA_ROOT / instance.path)
    assert (stored.PatientID, str(stored.PatientName)) == (pseudonym, f"ANON^{pseudonym}")

    qido = client.get("/dicomweb/studies")
    [found] = qido.json()
    _no_label(qido.content, "QIDO")
    # QIDO answers what the files hold, PatientName included.
    assert found["00100020"]["Value"] == [pseudonym]
    assert found["00100010"]["Value"] == [{"Alphabetic": f"ANON^{pseudonym}"}]
    assert client.get("/dicomweb/studies", {"PatientID": pseudonym}).json() == [found]
    assert client.get("/dicomweb/studies", {"PatientID": LABEL}).json() == []

    metadata = client.get(f"/dicomweb/studies/{study.study_uid}/metadata")
    body = b"".join(metadata.streaming_content)
    _no_label(body, "metadata")
    assert pseudonym.encode() in body

    wado = client.get(f"/viewer/wado/{instance.sop_uid}")
    assert wado.status_code == 200
    _no_label(b"".join(wado.streaming_content), "WADO-URI")
    rs = client.get(
        f"/dicomweb/studies/{study.study_uid}/series/{instance.series.series_uid}/instances/{instance.sop_uid}"
    )
    assert rs.status_code == 200
    _no_label(b"".join(rs.streaming_content) if rs.streaming else rs.content, "WADO-RS")


def test_the_pseudonym_is_keyed_and_stable(settings):
    settings.CASE_PSEUDONYM_KEY = "one key of at least thirty-two characters"
    first = pseudonym_for_label(LABEL)
    assert first == pseudonym_for_label(LABEL) != pseudonym_for_label("TIB-2")
    settings.CASE_PSEUDONYM_KEY = "another key of at least thirty-two characters"
    assert pseudonym_for_label(LABEL) != first


def test_files_stored_with_the_label_are_rewritten_by_the_command(ingested, client_for, alice, settings):
    """Files ingested before the pseudonyms (label in PatientID) are repaired in place."""
    from django.core.management import call_command

    from cases.models import Instance
    from ingest import storage

    # Put the pre-pseudonym state back: each file carries the label, as ingest wrote it.
    old_paths = []
    for instance in Instance.objects.filter(series__study__case=ingested):
        ds = pydicom.dcmread(storage.absolute_path(instance.path))
        ds.PatientID, ds.PatientName = LABEL, f"ANON^{LABEL}"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        stored = storage.put_bytes(buffer.getvalue())
        Instance.objects.filter(pk=instance.pk).update(
            path=stored.path, sha256=stored.sha256, size=stored.size
        )
        old_paths.append(stored.path)
    instance = Instance.objects.filter(series__study__case=ingested).first()
    assert LABEL.encode() in b"".join(
        client_for(alice).get(f"/viewer/wado/{instance.sop_uid}").streaming_content
    )

    call_command("repseudonymise_files")

    pseudonym = case_pseudonym(ingested)
    for instance in Instance.objects.filter(series__study__case=ingested):
        stored = pydicom.dcmread(storage.absolute_path(instance.path))
        assert (stored.PatientID, str(stored.PatientName)) == (pseudonym, f"ANON^{pseudonym}")
        assert stored.pixel_array.shape == (32, 32)
        _no_label(
            b"".join(client_for(alice).get(f"/viewer/wado/{instance.sop_uid}").streaming_content), "WADO"
        )
    assert not any(storage.exists(path) for path in old_paths)  # no orphan left behind
    paths = sorted(Instance.objects.values_list("path", flat=True))
    call_command("repseudonymise_files")  # a second run changes nothing
    assert sorted(Instance.objects.values_list("path", flat=True)) == paths
