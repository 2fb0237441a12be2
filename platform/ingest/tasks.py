"""Bookkeeping tasks of ingest (queue "default"), run by Celery beat."""

from __future__ import annotations

from celery import shared_task

from ingest import cleanup


@shared_task(name="ingest.cleanup")
def cleanup_uploads() -> dict:
    """Sweep stale staged uploads and orphan stored objects (see ingest.cleanup)."""
    temp = cleanup.sweep_upload_temp()
    objects = cleanup.sweep_orphan_objects()
    return {
        "upload_temp": {"removed": temp.removed, "bytes": temp.bytes},
        "orphan_objects": {"removed": objects.removed, "bytes": objects.bytes},
    }
