"""The penetration test's findings (issue 15): each input that took a worker down, held
memory, or answered 500 is now a 400 (or an accepted upload) with a clear message that
names the file, and leaves nothing behind."""

from __future__ import annotations

import logging

import pytest

from cases.models import Series
from ingest import safe_decode
from ingest.errors import IngestError
from ingest.services import ingest_paths
from tests.platform.ingest import hostile
from tests.platform.ingest.helpers import snapshot, temp_leftovers
from tests.platform.ingest.upload_client import accepted, client_of, error_of, post_files

pytestmark = pytest.mark.django_db
ENDPOINTS = list(hostile.ENDPOINTS)


def refused(tmp_path, files: dict[str, bytes], user, code: str, match: str) -> IngestError:
    """ingest_paths refuses these files with this code and message, changing nothing."""
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    check = snapshot()
    with pytest.raises(IngestError, match=match) as caught:
        ingest_paths(paths, user=user)
    assert caught.value.code == code, caught.value.message
    check()
    return caught.value


def refused_over_http(endpoint: str, user, files: dict[str, bytes], match: str) -> str:
    client = client_of(endpoint, user)  # its session or token row is made before the snapshot
    check = snapshot()
    response = post_files(endpoint, user, files, client=client)
    message = error_of(response)
    assert response.status_code == 400, (response.status_code, message)
    assert "Traceback" not in message
    import re

    assert re.search(match, message), message
    check()
    return message


# --- 1. a decoder panic must not end the process ------------------------------------------


def test_a_panicking_decoder_refuses_the_file(tmp_path, alice):
    refused(
        tmp_path,
        {"mr-rle.dcm": hostile.corrupted_rle()},
        alice,
        "truncated",
        r"mr-rle\.dcm: the compressed pixel data cannot be decoded \(RLE Lossless\).*index out of bounds",
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_panicking_decoder_answers_400_on_every_endpoint(endpoint, dora):
    refused_over_http(endpoint, dora, {"mr-rle.dcm": hostile.corrupted_rle()}, r"^mr-rle\.dcm: ")


def test_the_guard_turns_a_panic_into_a_refusal_but_lets_signals_through():
    import io

    import pydicom

    refusal = lambda exc: IngestError(f"x: {type(exc).__name__}: {safe_decode.describe(exc)}")  # noqa: E731
    with (
        pytest.raises(IngestError, match="x: PanicException: index out of bounds"),
        safe_decode.guarded(refusal),
    ):
        pydicom.dcmread(io.BytesIO(hostile.corrupted_rle())).pixel_array  # noqa: B018
    for signal_like in (KeyboardInterrupt, SystemExit):
        with pytest.raises(signal_like), safe_decode.guarded(refusal):
            raise signal_like()


# --- 2. decompression within limits of memory and time -------------------------------------


def test_a_nifti_header_declaring_64_gib_is_refused_before_inflating(tmp_path, alice):
    refused(
        tmp_path,
        {"bomb.nii.gz": hostile.nifti_header_only_bomb()},
        alice,
        "too_large",
        r"bomb\.nii\.gz: the NIfTI volume declares 2048 x 2048 x 2048 voxels \(68,719,476,736 bytes\)",
    )


def test_a_gzipped_nifti_over_the_byte_limit_is_refused(tmp_path, alice, settings):
    settings.INGEST_MAX_DECODED_BYTES = 4 * 1024**2
    data = hostile.nifti_gz((256, 256, 64))  # 8 MiB of int16 zeros in about 10 kB
    assert len(data) < 100_000
    refused(tmp_path, {"ct.nii.gz": data}, alice, "too_large", r"ct\.nii\.gz: the NIfTI volume declares")


def test_a_nifti_over_the_voxel_limit_is_refused(tmp_path, alice, settings):
    settings.INGEST_MAX_NIFTI_VOXELS = 100_000
    refused(
        tmp_path,
        {"ct.nii.gz": hostile.nifti_gz((64, 64, 32))},
        alice,
        "too_large",
        r"ct\.nii\.gz: .* at most 100,000 voxels",
    )


def test_a_nifti_within_limits_is_read_only_as_far_as_its_data(tmp_path, alice, settings):
    """16 MiB of zeros after the volume would pass the byte limit: they are never inflated."""
    settings.INGEST_MAX_DECODED_BYTES = 4 * 1024**2
    data = hostile.nifti_gz((32, 32, 4), tail=bytes(16 * 1024**2))
    path = tmp_path / "small.nii.gz"
    path.write_bytes(data)
    result = ingest_paths([path], user=alice, task="sacral-ct")
    assert result.instances == 4


def test_a_deflated_dicom_inflating_past_the_limit_is_refused(tmp_path, alice, settings):
    settings.INGEST_MAX_DECODED_BYTES = 2 * 1024**2
    data = hostile.deflated_with_padding(24 * 1024**2)
    assert len(data) < 200_000
    refused(
        tmp_path,
        {"deflated.dcm": data},
        alice,
        "too_large",
        r"deflated\.dcm: the deflated dataset expands to more than 2,097,152 bytes",
    )


def test_a_deflated_dicom_within_the_limit_is_ingested(tmp_path, alice):
    path = tmp_path / "deflated.dcm"
    path.write_bytes(hostile.deflated_with_padding(1024))
    assert ingest_paths([path], user=alice).instances == 1


def test_compressed_pixel_data_declaring_too_many_bytes_is_refused_before_decoding(tmp_path, alice, settings):
    settings.INGEST_MAX_DECODED_BYTES = 1024**2
    # A real JPEG 2000 radiograph (see tests/data/real/NOTICE.md) of several MB decoded.
    from tests.conftest import REAL_DATA

    data = (REAL_DATA / "radiograph_nof_tibia" / "RG3_J2KR.dcm").read_bytes()
    refused(
        tmp_path,
        {"rg3.dcm": data},
        alice,
        "too_large",
        r"rg3\.dcm: the image declares [\d,]+ bytes of pixels",
    )


# --- 4. malformed headers: 400 with the file's name, never 500 -----------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_integer_string_of_9e99_is_not_stored(endpoint, dora):
    response = post_files(endpoint, dora, {"IM0": hostile.huge_is_numbers()})
    assert accepted(endpoint, response), response.content[:300]
    series = Series.objects.get()
    assert series.number is None
    assert series.instances.get().instance_number is None


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_transfer_syntax_is_a_clear_400(endpoint, dora):
    refused_over_http(
        endpoint,
        dora,
        {"odd-syntax.dcm": hostile.bogus_transfer_syntax()},
        r"^odd-syntax\.dcm: unknown transfer syntax '1\.2\.840\.10008\.9\.9\.9'",
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_odd_length_value_is_a_clear_400(endpoint, dora):
    refused_over_http(
        endpoint, dora, {"odd-rows.dcm": hostile.odd_length_rows()}, r"^odd-rows\.dcm: .*(invalid|corrupt)"
    )


@pytest.mark.parametrize(
    ("tag", "old", "new"),
    [
        (b"\x28\x00\x10\x00", b"US", b"FD"),  # Rows as a double: 2 bytes cannot be one
        (b"\x08\x00\x60\x00", b"CS", b"SQ"),  # Modality as a sequence
        (b"\x20\x00\x0d\x00", b"UI", b"AT"),  # StudyInstanceUID as tags
        (b"\x28\x00\x30\x00", b"DS", b"SS"),  # PixelSpacing as signed shorts
    ],
)
def test_a_wrong_vr_is_a_400_or_an_upload_never_a_500(tag, old, new, dora):
    response = post_files("ingest", dora, {"wrong-vr.dcm": hostile.wrong_vr(tag, old, new)})
    if response.status_code != 201:
        assert error_of(response).startswith("wrong-vr.dcm: ") or "wrong-vr.dcm" in error_of(response)
    assert temp_leftovers() == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_pydicoms_sc_rgb_jpeg_is_answered_without_a_500(endpoint, dora):
    response = post_files(endpoint, dora, {"SC_rgb_jpeg.dcm": hostile.pydicom_file("SC_rgb_jpeg.dcm")})
    if not accepted(endpoint, response):
        assert "SC_rgb_jpeg.dcm" in error_of(response)


def test_an_unforeseen_failure_in_one_file_is_a_refusal_naming_it(tmp_path, alice, monkeypatch, caplog):
    """The last line of defence, with a fault injected where no input reaches today."""
    from ingest import services

    real = services.deidentify

    def failing(ds, **kwargs):
        if str(ds.InstanceNumber) == "3":
            raise RuntimeError("an unforeseen bug")
        return real(ds, **kwargs)

    monkeypatch.setattr(services, "deidentify", failing)
    from tests.platform.ingest.helpers import ct_dataset, dicom_bytes

    files = {f"IM{i}": dicom_bytes(ct_dataset(i)) for i in range(4)}
    with caplog.at_level(logging.ERROR):
        refused(tmp_path, files, alice, "unreadable", r"^IM2: the file cannot be read \(an unforeseen bug\)")
    assert any(r.exc_info and "an unforeseen bug" in str(r.exc_info[1]) for r in caplog.records)


def test_an_unforeseen_failure_writing_rows_is_a_refusal(tmp_path, alice, monkeypatch):
    from ingest import services

    def failing(*args, **kwargs):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(services, "_write_rows", failing)
    from tests.platform.ingest.helpers import ct_dataset, dicom_bytes

    refused(
        tmp_path,
        {"IM0": dicom_bytes(ct_dataset(0))},
        alice,
        "unexpected",
        r"The upload could not be stored \(Python int too large",
    )


# --- 7. zip bombs made of many small entries --------------------------------------------------


def test_a_zip_of_many_small_zero_entries_is_refused_before_extracting(tmp_path, alice):
    bomb = hostile.small_entry_bomb(40)  # 40 MiB from about 40 kB: each entry 1 MiB, none checked before
    refused(
        tmp_path,
        {"scans.zip": bomb},
        alice,
        "zip_bomb",
        r"scans\.zip: the archive expands [\d,]+ times \([\d,]+ bytes to 41,943,040\); refused as a zip bomb",
    )


def test_a_normal_zip_of_small_files_is_still_accepted(tmp_path, alice):
    from tests.platform.ingest.helpers import ct_dataset, dicom_bytes

    archive = hostile.zip_of({f"IM{i}": dicom_bytes(ct_dataset(i, size=64)) for i in range(30)})
    path = tmp_path / "series.zip"
    path.write_bytes(archive)
    assert ingest_paths([path], user=alice).instances == 30


@pytest.mark.timeout(60)
def test_bytes_after_the_deflated_stream_end_the_count(tmp_path):
    """The fuzz run's hang: at the end of a deflate stream zlib leaves what follows in
    unconsumed_tail, and feeding that back returned nothing, for ever."""
    import io
    import zlib

    inflated = bytes(3 * 1024**2)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = packer.compress(inflated) + packer.flush() + b"trailing garbage"
    counted = safe_decode.inflate_count(
        io.BytesIO(stream), wbits=-zlib.MAX_WBITS, cap=10 * 1024**2, name="x", what="the dataset"
    )
    assert counted == len(inflated)


def test_a_float_nifti_with_nan_and_inf_keeps_its_finite_range(tmp_path, alice):
    import gzip

    import nibabel as nib
    import numpy as np
    import pydicom
    from django.conf import settings

    volume = np.linspace(-1000.5, 2000.25, 16 * 12 * 2, dtype=np.float32).reshape(16, 12, 2)
    volume[0, 0, 0], volume[1, 0, 0], volume[2, 0, 0] = np.nan, np.inf, -np.inf
    path = tmp_path / "float.nii.gz"
    path.write_bytes(gzip.compress(nib.Nifti1Image(volume, np.eye(4)).to_bytes()))
    result = ingest_paths([path], user=alice, task="sacral-ct")
    assert result.instances == 2
    stored = [
        pydicom.dcmread(f"{settings.MEDIA_ROOT}/{p}")
        for p in result.case.studies.get().series.get().instances.values_list("path", flat=True)
    ]
    values = np.concatenate([ds.pixel_array.ravel() * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                             for ds in stored])  # fmt: skip
    finite = volume[np.isfinite(volume)]
    assert values.min() == pytest.approx(finite.min(), abs=0.1)
    assert values.max() == pytest.approx(finite.max(), abs=0.1)
