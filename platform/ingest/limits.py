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
