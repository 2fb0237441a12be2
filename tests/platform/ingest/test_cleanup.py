"""What killed uploads leave behind is removed (issue 15 item 8): stale entries of the
upload temp dir at start-up and periodically, orphan stored objects by a function, a
command and a periodic task; nothing recent and nothing a row refers to."""

from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command

from cases.models import Case, Instance
from ingest import cleanup, storage
from ingest.services import ingest_paths
from tests.platform.ingest.helpers import ct_dataset, dicom_bytes, write_series

HOUR = 3600


def age(path: Path, seconds: float) -> Path:
    """Set the modification time of ``path`` (and everything in it) ``seconds`` back."""
    when = time.time() - seconds
    for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.utime(item, (when, when), follow_symlinks=False)
    return path


def debris(root: Path) -> dict[str, Path]:
    """What a kill -9 leaves in the upload temp dir: a staged upload file, an ingest work
    folder with an extracted zip and a converted NIfTI slice."""
    staged = root / "tmpa1b2c3.upload.zip"
    staged.write_bytes(b"PK\x03\x04" + bytes(1000))
    work = root / "ingest-k9x"
    (work / "zip-1").mkdir(parents=True)
    (work / "zip-1" / "000000").write_bytes(bytes(5000))
    (work / "nifti-ab").mkdir()
    (work / "nifti-ab" / "00000.dcm").write_bytes(bytes(3000))
    return {"staged": staged, "work": work}


def test_stale_upload_temp_entries_go_and_recent_ones_stay(settings):
    root = Path(settings.UPLOAD_TEMP_DIR)
    old = debris(root)
    for path in old.values():
        age(path, 7 * HOUR)
    live_file = root / "tmplive.upload.dcm"
    live_file.write_bytes(b"x" * 10)
    # A folder created long ago that a live ingest is still writing into.
    live_work = root / "ingest-live"
    live_work.mkdir()
    age(live_work, 7 * HOUR)
    (live_work / "00001.dcm").write_bytes(b"y")
    sweep = cleanup.sweep_upload_temp(grace=6 * HOUR)
    assert sorted(p.name for p in root.iterdir()) == ["ingest-live", "tmplive.upload.dcm"]
    assert (sweep.removed, sweep.bytes, sweep.kept) == (2, 9004, 2)


def test_the_web_process_sweeps_the_upload_temp_dir_when_it_starts(settings):
    root = Path(settings.UPLOAD_TEMP_DIR)
    for path in debris(root).values():
        age(path, 7 * HOUR)
    recent = root / "tmp-recent.upload"
    recent.write_bytes(b"1")
    apps.get_app_config("ingest").ready()
    assert [p.name for p in root.iterdir()] == ["tmp-recent.upload"]


def test_the_upload_temp_dir_is_one_folder_inside_the_var_dir():
    from config import settings as site

    assert Path(site.FILE_UPLOAD_TEMP_DIR) == Path(site.UPLOAD_TEMP_DIR)
    if not os.environ.get("UPLOAD_TEMP_DIR"):
        assert Path(site.UPLOAD_TEMP_DIR) == Path(site.VAR_DIR) / "tmp" / "uploads"


def _orphan(content: bytes) -> Path:
    """An object stored by an ingest that was killed before it wrote its rows."""
    obj = storage.put_bytes(content)
    return storage.absolute_path(obj.path)


@pytest.mark.django_db
def test_orphan_objects_go_and_referred_ones_stay(tmp_path, alice):
    ingest_paths(write_series(tmp_path / "s", 2), user=alice)
    kept = [storage.absolute_path(p) for p in Instance.objects.values_list("path", flat=True)]
    labels = storage.put_bytes(b"label volume", suffix=".nii.gz")
    Case.objects.update(annotations={"labels": {"sha256": labels.sha256, "path": labels.path}})
    orphan_old = _orphan(dicom_bytes(ct_dataset(7)))
    orphan_new = _orphan(dicom_bytes(ct_dataset(8)))
    half_written = orphan_old.parent / ".tmp-0123456789abcdef"
    half_written.write_bytes(b"partial")
    for path in [*kept, storage.absolute_path(labels.path), orphan_old, half_written]:
        age(path, 30 * HOUR)

    sweep = cleanup.sweep_orphan_objects(grace=24 * HOUR)

    assert (sweep.removed, sweep.kept) == (2, 4)
    assert not orphan_old.exists() and not half_written.exists()
    assert all(p.exists() for p in kept) and orphan_new.exists()
    assert storage.absolute_path(labels.path).exists()
    # The fan-out folders of the removed objects went with them when they emptied.
    assert not orphan_old.parent.exists() or any(orphan_old.parent.iterdir())


@pytest.mark.django_db
def test_reusing_a_stored_object_refreshes_it_so_the_sweep_spares_it(tmp_path, alice):
    """An upload whose content is already stored (as an orphan) gets its row after the
    object was found: the object must not look old to a sweep in between."""
    data = dicom_bytes(ct_dataset(0))
    path = age(_orphan(data), 30 * HOUR)
    again = storage.put_bytes(data)
    assert not again.created
    assert cleanup.sweep_orphan_objects(grace=24 * HOUR).removed == 0
    assert path.exists()


@pytest.mark.django_db
def test_the_command_and_the_periodic_task_sweep_both(tmp_path, settings):
    root = Path(settings.UPLOAD_TEMP_DIR)
    for path in debris(root).values():
        age(path, 7 * HOUR)
    orphan = age(_orphan(b"orphan"), 30 * HOUR)
    out = StringIO()
    call_command("cleanup_uploads", "--dry-run", stdout=out)
    assert "orphan objects (older than 86400 s): 1 removed" in out.getvalue()
    assert orphan.exists() and any(root.iterdir())
    call_command("cleanup_uploads", stdout=out)
    assert not orphan.exists() and not any(root.iterdir())

    from ingest.tasks import cleanup_uploads

    for path in debris(root).values():
        age(path, 7 * HOUR)
    orphan = age(_orphan(b"another orphan"), 30 * HOUR)
    summary = cleanup_uploads()
    assert summary["upload_temp"]["removed"] == 2 and summary["orphan_objects"]["removed"] == 1
    assert not orphan.exists()


def test_the_cleanup_task_is_on_the_beat_schedule():
    from config.celery import app

    entry = app.conf.beat_schedule["ingest-cleanup"]
    app.loader.import_default_modules()
    assert entry["task"] == "ingest.cleanup" and entry["task"] in app.tasks
    assert entry["schedule"] <= 24 * HOUR
