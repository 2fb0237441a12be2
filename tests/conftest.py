"""Shared fixtures: the named users of the permission matrix and real data paths."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    assert REAL_DATA.is_dir(), f"real test data missing at {REAL_DATA}"
    return REAL_DATA


@pytest.fixture(autouse=True)
def _isolated_media(request, tmp_path):
    """Each test stores files in its own MEDIA_ROOT, so 'nothing left behind' is checkable."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        settings = request.getfixturevalue("settings")
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.MEDIA_ROOT.mkdir()
    yield
