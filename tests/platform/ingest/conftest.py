from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_upload_temp(settings, tmp_path):
    """Uploads and ingest work folders go to this test's own folder, so leftovers show."""
    settings.UPLOAD_TEMP_DIR = tmp_path / "upload-tmp"
    settings.UPLOAD_TEMP_DIR.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(settings.UPLOAD_TEMP_DIR)
