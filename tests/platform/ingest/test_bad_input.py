"""Hostile and broken uploads: a clear message, and nothing left behind."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import JPEGLSLossless

from cases.models import Case
from ingest.errors import IngestError
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import (
    PHI,
    ct_dataset,
    dicom_bytes,
    make_zip,
    snapshot,
    stored_files,
    write_series,
)

pytestmark = pytest.mark.django_db


def refused(paths, user, code: str, match: str, **kwargs) -> IngestError:
    """Ingest must fail with this code and message and change nothing at all."""
    check = snapshot()
    with pytest.raises(IngestError, match=match) as caught:
        ingest_paths(paths, user=user, **kwargs)
    assert caught.value.code == code
    check()
    return caught.value


def test_not_an_image(tmp_path, alice):
    path = tmp_path / "notes.dcm"  # the extension lies
    path.write_text("Dear colleague, please see the attached scans.")
    refused([path], alice, "not_image", r"Not an image: notes\.dcm")


def test_truncated_uncompressed_dicom(tmp_path, alice):
    data = dicom_bytes(ct_dataset(0))
    path = tmp_path / "cut"
    path.write_bytes(data[: len(data) - 700])
    refused([path], alice, "truncated", r"cut: the file is truncated \(pixel data has")


def test_truncated_header(tmp_path, alice):
    data = dicom_bytes(ct_dataset(0))
    path = tmp_path / "stub"
    path.write_bytes(data[:300])
    refused([path], alice, "corrupt", r"stub: not a readable DICOM file; it is truncated or corrupt")


def test_truncated_compressed_file(tmp_path, alice):
    ds = ct_dataset(0, size=64)
    ds.compress(JPEGLSLossless)
    data = dicom_bytes(ds)
    path = tmp_path / "jls"
    path.write_bytes(data[: len(data) - 2000])
    refused([path], alice, "corrupt", r"jls: not a readable DICOM file; it is truncated or corrupt")


def test_truncated_jpeg_ls_codestream(tmp_path, alice):
    """The file parses, but its compressed frame is cut short: only decoding finds out."""
    ds = ct_dataset(0, size=64)
    ds.compress(JPEGLSLossless)
    (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
    ds.PixelData = encapsulate([frame[: len(frame) // 3]])
    path = tmp_path / "jls"
    ds.save_as(path, enforce_file_format=True)
    refused([path], alice, "truncated", r"jls: the compressed pixel data cannot be decoded \(JPEG-LS")


def test_failure_after_files_were_stored_removes_them(tmp_path, alice):
    folder = tmp_path / "series"
    write_series(folder, 5)
    data = dicom_bytes(ct_dataset(9))
    (folder / "zz-last").write_bytes(data[:-900])  # sorted last: four good files go first
    refused([folder], alice, "truncated", "zz-last: the file is truncated")
    assert stored_files() == []


def test_zip_bomb_by_ratio(tmp_path, alice):
    bomb = make_zip(tmp_path / "scans.zip", {"a.dcm": b"\0" * (8 * 1024 * 1024)})
    refused([bomb], alice, "zip_bomb", r"scans\.zip: 'a\.dcm' expands [\d,]+ times; refused as a zip bomb")


def test_zip_bomb_by_total_size(tmp_path, alice, settings):
    settings.INGEST_ZIP_MAX_BYTES = 100_000
    members = {f"IM{i}": dicom_bytes(ct_dataset(i, size=64)) for i in range(20)}
    archive = make_zip(tmp_path / "big.zip", members)
    refused([archive], alice, "zip_bomb", r"big\.zip: the archive expands to [\d,]+ bytes; at most 100,000")


def test_zip_with_too_many_files(tmp_path, alice, settings):
    settings.INGEST_ZIP_MAX_FILES = 3
    archive = make_zip(tmp_path / "many.zip", {f"IM{i}": dicom_bytes(ct_dataset(i)) for i in range(5)})
    refused([archive], alice, "zip_bomb", r"many\.zip: the archive has 5 files; at most 3")


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../../etc/cron.d/evil", "a path that leaves its folder"),
        ("scans/../../evil.dcm", "a path that leaves its folder"),
        ("/etc/passwd", "an absolute path"),
        ("C:\\Windows\\evil.dcm", "an absolute path"),
    ],
)
def test_zip_path_traversal(tmp_path, alice, member, message):
    archive = make_zip(tmp_path / "up.zip", {"IM0": dicom_bytes(ct_dataset(0)), member: b"x"})
    refused([archive], alice, "path_traversal", message)
    assert not (tmp_path.parent / "evil.dcm").exists()


def test_zip_symlink(tmp_path, alice):
    archive = make_zip(
        tmp_path / "up.zip", {"IM0": dicom_bytes(ct_dataset(0))}, symlinks={"IM1": "/etc/passwd"}
    )
    refused([archive], alice, "symlink", r"up\.zip: the archive contains a symbolic link \('IM1'\)")


def test_oversized_upload(tmp_path, alice, settings):
    settings.UPLOAD_MAX_BYTES = 10_000
    paths = write_series(tmp_path / "s", 3, size=64)
    refused(paths, alice, "too_large", "The upload is too large: more than 10,000 bytes")


def test_mixed_patients(tmp_path, alice):
    write_series(tmp_path / "s" / "a", 2)
    other = dict(PHI, PatientID="PID-0000001", PatientName="Someone^Else")
    write_series(tmp_path / "s" / "b", 2, phi=other, series_uid="1.2.3.9.2", study_uid="1.2.3.9.1")
    error = refused([tmp_path / "s"], alice, "mixed_patients", "The upload mixes patients")
    assert "Someone" not in error.message and "PID-" not in error.message  # no identity in messages


def test_mixed_modalities(tmp_path, alice):
    write_series(tmp_path / "s" / "ct", 2)
    write_series(tmp_path / "s" / "cr", 1, modality="CR", series_uid="1.2.3.8.2")
    refused([tmp_path / "s"], alice, "mixed_modalities", r"Mixed modalities \(CR, CT\) cannot be one case")


def test_modality_not_of_the_task(tmp_path, alice):
    write_series(tmp_path / "s", 2)
    refused(
        [tmp_path / "s"],
        alice,
        "mixed_modalities",
        "A bone-xray case takes CR, DX, OT images",
        task="bone-xray",
    )


def test_decompression_bomb_png(tmp_path, alice, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / "xray.png"
    Image.new("L", (300, 300)).save(path)
    refused([path], alice, "bomb", r"xray\.png: the image has too many pixels")


def test_nested_zip_is_not_expanded(tmp_path, alice):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("IM9", dicom_bytes(ct_dataset(9)))
    outer = make_zip(tmp_path / "up.zip", {"IM0": dicom_bytes(ct_dataset(0)), "more.zip": inner.getvalue()})
    result = ingest_paths([outer], user=alice)
    assert result.instances == 1
    assert any("a zip inside a zip is not expanded" in w for w in result.warnings)
    assert Case.objects.count() == 1


def test_the_first_problem_in_upload_order_is_reported_by_the_threads(tmp_path, alice, settings):
    """Files are prepared on threads but judged in upload order: the second file's
    patient is the first problem, not the corrupt sixth file, and the four good files
    the threads had already stored are removed again."""
    settings.INGEST_THREADS = 2
    paths = write_series(tmp_path / "upload", 8)
    other = dict(PHI, PatientID="OTHER-9999", PatientName="Other^Person")
    ct_dataset(1, phi=other).save_as(paths[1], enforce_file_format=True)
    paths[5].write_bytes(paths[5].read_bytes()[:300])
    refused(paths, alice, "mixed_patients", r"The upload mixes patients: IM0000 and IM0001")


def test_a_repeated_instance_with_other_bytes_leaves_no_orphan_object(tmp_path, alice):
    """The same SOP Instance sent twice with different pixels: the second copy is skipped
    as a duplicate, and the object the threads stored for it is removed."""
    first = write_series(tmp_path / "a", 3)
    again = ct_dataset(2)
    again.PixelData = bytes(len(again.PixelData))
    repeated = tmp_path / "b" / "IM0002-again"
    repeated.parent.mkdir()
    again.save_as(repeated, enforce_file_format=True)
    result = ingest_paths([*first, repeated], user=alice)
    assert result.instances == 3 and result.duplicates == 1
    assert len(stored_files()) == 3
