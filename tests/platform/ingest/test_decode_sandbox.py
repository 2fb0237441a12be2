"""Compressed pixel data is decoded in a bounded child process (issue 15, item 1): a
decoder that crashes, runs away or allocates without end costs that file a clear
refusal, never the web process, and the next upload is decoded as usual."""

from __future__ import annotations

import os

import numpy as np
import pytest
from pydicom.uid import RLELossless

from cases.models import Instance
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import ct_dataset, dicom_bytes
from tests.platform.ingest.test_hostile_uploads import refused, refused_over_http

pytestmark = pytest.mark.django_db


def rle_slice(index: int, size: int = 32) -> bytes:
    """A CT slice with RLE-compressed pixel data, so ingest has to decode it."""
    uid = f"1.2.826.0.1.3680043.9.7777.{size}.{index}"  # a study of its own: no duplicates
    ds = ct_dataset(index, size=size, series_uid=f"{uid}.1", study_uid=uid)
    if size > 32:
        ramp = (np.arange(size * size, dtype=np.int64).reshape(size, size) // 97) % 3000
        ds.PixelData = ramp.astype(np.int16).tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom")
    return dicom_bytes(ds)


def accepted_now(tmp_path, user, name: str, data: bytes) -> None:
    """The next ordinary compressed upload is decoded and stored."""
    folder = tmp_path / f"next-{name}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    before = Instance.objects.count()
    result = ingest_paths([folder / name], user=user)
    assert result.instances == 1 and Instance.objects.count() == before + 1


def test_a_decoder_that_segfaults_refuses_the_file_and_the_process_carries_on(tmp_path, alice, settings):
    settings.INGEST_DECODE_SANDBOX_FAULT = "crash"  # the child reads address 0, as a broken C decoder would
    pid = os.getpid()
    refused(
        tmp_path,
        {"IM0001": rle_slice(0)},
        alice,
        "decode_crashed",
        r"^IM0001: the compressed pixel data could not be decoded safely: the decoder process crashed "
        r"\(SIGSEGV\); the file is refused\.$",
    )
    assert os.getpid() == pid
    settings.INGEST_DECODE_SANDBOX_FAULT = ""
    accepted_now(tmp_path, alice, "IM0001", rle_slice(0))


@pytest.mark.parametrize("endpoint", ["ingest", "api"])
def test_a_decoder_crash_is_a_clear_400_over_http(endpoint, dora, settings):
    settings.INGEST_DECODE_SANDBOX_FAULT = "crash"
    refused_over_http(
        endpoint, dora, {"crash.dcm": rle_slice(1)}, r"crash\.dcm: .*could not be decoded safely"
    )


def test_a_decode_past_the_wall_clock_limit_is_refused(tmp_path, alice, settings):
    # A real 2048 x 2048 decode cannot finish in a millisecond.
    settings.INGEST_DECODE_TIMEOUT_SECONDS = 0.001
    refused(
        tmp_path,
        {"big.dcm": rle_slice(0, size=2048)},
        alice,
        "decode_timeout",
        r"^big\.dcm: the compressed pixel data could not be decoded safely: decoding took longer than 0\.001 s",
    )
    del settings.INGEST_DECODE_TIMEOUT_SECONDS
    accepted_now(tmp_path, alice, "big.dcm", rle_slice(0, size=2048))


def test_a_decode_that_never_ends_is_stopped_by_the_cpu_limit(tmp_path, alice, settings):
    settings.INGEST_DECODE_SANDBOX_FAULT = "spin"
    settings.INGEST_DECODE_CPU_SECONDS = 1
    refused(
        tmp_path,
        {"spin.dcm": rle_slice(2)},
        alice,
        "decode_crashed",
        r"^spin\.dcm: .*could not be decoded safely: the decoder ran past its CPU time limit \(SIGXCPU\)",
    )
    settings.INGEST_DECODE_SANDBOX_FAULT = ""
    accepted_now(tmp_path, alice, "spin.dcm", rle_slice(2))


def test_a_decode_past_the_memory_budget_is_refused(tmp_path, alice, settings):
    # 2048 x 2048 x 16 bits decodes to 8 MiB; a 4 MiB budget cannot hold it, but does
    # hold a small image's decode (so the refusal is the decode's, not the budget's).
    settings.INGEST_DECODE_MEMORY_BYTES = 4 * 1024**2
    accepted_now(tmp_path, alice, "small.dcm", rle_slice(3))
    error = refused(
        tmp_path,
        {"big.dcm": rle_slice(0, size=2048)},
        alice,
        "decode_memory",
        r"^big\.dcm: the compressed pixel data could not be decoded safely: decoding needs more than "
        r"4,194,304 bytes of memory",
    )
    assert "Traceback" not in error.message
    del settings.INGEST_DECODE_MEMORY_BYTES
    accepted_now(tmp_path, alice, "big.dcm", rle_slice(0, size=2048))


def test_the_decode_runs_in_the_child_and_its_errors_keep_their_words(tmp_path, alice, monkeypatch):
    """A decoder's own error (here a Rust panic) keeps its precise message, and the
    web process decodes nothing itself."""
    from ingest import readers
    from tests.platform.ingest import hostile

    def in_the_web_process(*args, **kwargs):
        raise AssertionError("decoded in the web process")

    monkeypatch.setattr(readers, "pixel_array", in_the_web_process)

    refused(
        tmp_path,
        {"mr-rle.dcm": hostile.corrupted_rle()},
        alice,
        "truncated",
        r"^mr-rle\.dcm: the compressed pixel data cannot be decoded \(RLE Lossless\); the file is "
        r"truncated or corrupt",
    )
    accepted_now(tmp_path, alice, "IM0004", rle_slice(4))


def png_bytes(size: int, shade: int = 0) -> bytes:
    import io

    from PIL import Image

    ramp = ((np.arange(size * size).reshape(size, size) // 7 + shade) % 256).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_radiograph_whose_decoder_crashes_is_refused(tmp_path, alice, settings):
    settings.INGEST_DECODE_SANDBOX_FAULT = "crash"
    refused(
        tmp_path,
        {"hand.png": png_bytes(64)},
        alice,
        "decode_crashed",
        r"^hand\.png: the image could not be decoded safely: the decoder process crashed \(SIGSEGV\)",
    )
    settings.INGEST_DECODE_SANDBOX_FAULT = ""
    accepted_now(tmp_path, alice, "hand.png", png_bytes(64))


def test_a_radiograph_past_the_memory_budget_is_refused(tmp_path, alice, settings):
    # 3000 x 3000 in 8 bits is 9 MB decoded; a 4 MiB budget holds the 64 x 64 one.
    settings.INGEST_DECODE_MEMORY_BYTES = 4 * 1024**2
    accepted_now(tmp_path, alice, "small.png", png_bytes(64, shade=1))
    refused(
        tmp_path,
        {"chest.png": png_bytes(3000)},
        alice,
        "decode_memory",
        r"^chest\.png: the image could not be decoded safely: decoding needs more than 4,194,304 bytes",
    )


def test_turned_off_the_decode_runs_in_the_web_process(tmp_path, alice, settings, monkeypatch):
    from ingest import readers

    calls = []
    real = readers.pixel_array
    monkeypatch.setattr(readers, "pixel_array", lambda ds: calls.append(1) or real(ds))
    settings.INGEST_DECODE_SANDBOX = "false"
    accepted_now(tmp_path, alice, "IM0005", rle_slice(5))
    assert calls == [1]
