"""Limits on what one upload may contain, read from settings with safe defaults.

Kept in one place so the zip reader, the service and the view agree, and so a site can
raise them (settings or environment) without touching code.
"""

from __future__ import annotations

from django.conf import settings


def upload_max_bytes() -> int:
    return int(getattr(settings, "UPLOAD_MAX_BYTES", 2 * 1024**3))


def zip_max_total_bytes() -> int:
    # What a zip may expand to; by default the same budget as a plain upload.
    return int(getattr(settings, "INGEST_ZIP_MAX_BYTES", upload_max_bytes()))


def zip_max_ratio() -> float:
    # Real DICOM compresses 2-10x; blank padding a little more. 200x is a bomb.
    return float(getattr(settings, "INGEST_ZIP_MAX_RATIO", 200))


def zip_max_files() -> int:
    return int(getattr(settings, "INGEST_ZIP_MAX_FILES", 10_000))


def max_files() -> int:
    return int(getattr(settings, "INGEST_MAX_FILES", 20_000))


def max_image_pixels() -> int:
    # Pillow's own default (about 89 Mpx); a 43x43 cm detector at 0.1 mm is 18 Mpx.
    return int(getattr(settings, "INGEST_MAX_IMAGE_PIXELS", 89_478_485))


def max_decoded_bytes() -> int:
    """What one file may expand to in memory when decoded or decompressed: compressed
    pixel data, a deflated DICOM dataset, a NIfTI volume. Checked against what the
    header declares before decoding, and against the bytes actually produced while
    inflating. 512 MiB holds a 512 x 512 x 1000 CT in 16 bits."""
    return int(getattr(settings, "INGEST_MAX_DECODED_BYTES", 512 * 1024**2))


def max_nifti_voxels() -> int:
    # Conversion holds the volume as float64 at least once: 8 bytes a voxel. 64 Mvoxel
    # (512 x 512 x 256) keeps one conversion near 0.5 GB.
    return int(getattr(settings, "INGEST_MAX_NIFTI_VOXELS", 64 * 1024**2))


def upload_max_files() -> int:
    """Files in one multipart request (Django refuses more on its own too)."""
    return int(getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FILES", None) or 5000)


def upload_temp_grace_seconds() -> int:
    # Older than this, an entry of the upload temp dir belongs to no live request: the
    # longest upload (2 GB at 2 Mbit/s) takes about 2.5 h.
    return int(getattr(settings, "UPLOAD_TEMP_GRACE_SECONDS", 6 * 3600))


def orphan_grace_seconds() -> int:
    # An ingest stores its objects before it writes their rows; a day is far longer
    # than any ingest, so an object that old with no row is an orphan.
    return int(getattr(settings, "INGEST_ORPHAN_GRACE_SECONDS", 24 * 3600))


# --- the decode sandbox (ingest.decode_sandbox) ------------------------------------------


def decode_sandbox_enabled() -> bool:
    """Compressed pixel data is decoded in a bounded child process; off only where a
    site cannot start processes (the in-process guards then still apply)."""
    value = getattr(settings, "INGEST_DECODE_SANDBOX", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def decode_sandbox_processes() -> int:
    # Decodes at once per web process; each may use decode_memory_bytes().
    return max(int(getattr(settings, "INGEST_DECODE_PROCESSES", 2)), 1)


def decode_timeout_seconds() -> float:
    # Wall clock for one file's decode. The largest accepted image (512 MiB of pixels)
    # in JPEG 2000 decodes in seconds; a minute is a runaway, not a slow file.
    return float(getattr(settings, "INGEST_DECODE_TIMEOUT_SECONDS", 60))


def decode_cpu_seconds() -> int:
    # CPU time for one file's decode; a decoder's own threads count too.
    return max(int(getattr(settings, "INGEST_DECODE_CPU_SECONDS", 120)), 1)


def decode_memory_bytes() -> int:
    """Address space a decoding child may add to what it has after its imports: the
    decoded image (at most max_decoded_bytes) and the decoder's working copies."""
    return int(getattr(settings, "INGEST_DECODE_MEMORY_BYTES", 3 * max_decoded_bytes()))


def decode_sandbox_fault() -> str:
    """Test seam only (see decode_sandbox.Job.fault); empty in every real deployment."""
    return str(getattr(settings, "INGEST_DECODE_SANDBOX_FAULT", "") or "")
