"""Removing what interrupted uploads leave behind.

A web worker killed mid-upload (kill -9, out of memory, a deploy) runs no ``finally``:
its staged upload files and ingest work folders stay in the upload temp dir, and objects
it had stored but whose rows it never committed stay in MEDIA_ROOT with nothing
pointing at them. Two sweeps remove them:

- ``sweep_upload_temp``: entries of UPLOAD_TEMP_DIR untouched for the grace period;
- ``sweep_orphan_objects``: files under MEDIA_ROOT/objects that no database row refers
  to, older than the grace period (and half-written ``.tmp-`` files of the same age).

Only entries older than a grace period go, so a live upload in another worker or an
ingest between storing its objects and writing their rows is never touched. Both run at
web start-up (IngestConfig.ready, upload temp only: it needs no database), from the
``cleanup_uploads`` command and from the periodic Celery task ``ingest.cleanup``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ingest import limits, storage

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class Sweep:
    removed: int = 0  # entries (files or folders) removed
    bytes: int = 0
    kept: int = 0  # entries seen and kept (too recent, or referred to)

    def __str__(self) -> str:
        return f"{self.removed} removed ({self.bytes:,} bytes), {self.kept} kept"


def _newest_mtime(path: Path) -> tuple[float, int]:
    """The latest modification time anywhere in ``path`` (a file or a folder tree, links
    not followed) and its size in bytes: a folder still being written is recent."""
    info = path.lstat()
    newest, size = info.st_mtime, info.st_size if not path.is_dir() else 0
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            for name in dirnames + filenames:
                try:
                    entry = os.lstat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                newest = max(newest, entry.st_mtime)
                if name in filenames:
                    size += entry.st_size
    return newest, size


def sweep_upload_temp(*, grace: float | None = None, now: float | None = None) -> Sweep:
    """Remove entries of the upload temp dir not modified for ``grace`` seconds."""
    grace = limits.upload_temp_grace_seconds() if grace is None else grace
    now = time.time() if now is None else now
    root = Path(settings.UPLOAD_TEMP_DIR)
    sweep = Sweep()
    if not root.is_dir():
        return sweep
    for entry in sorted(root.iterdir()):
        try:
            newest, size = _newest_mtime(entry)
        except FileNotFoundError:  # removed meanwhile by its own request
            continue
        if now - newest < grace:
            sweep.kept += 1
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        sweep.removed += 1
        sweep.bytes += size
    if sweep.removed:
        log.info("upload temp sweep of %s: %s", root, sweep)
    return sweep


def _object_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            yield Path(dirpath) / name


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _annotation_paths() -> set[str]:
    """Objects that cases refer to in their annotations (cohort label volumes)."""
    from cases.models import Case

    paths = set()
    for value in Case.objects.exclude(annotations={}).values_list("annotations", flat=True).iterator():
        paths.update(s for s in _strings(value) if s.startswith(storage.OBJECTS + "/"))
    return paths


def _referenced(rel_paths: list[str], annotated: set[str]) -> set[str]:
    from cases.models import Instance

    found = {p for p in rel_paths if p in annotated}
    for start in range(0, len(rel_paths), BATCH):
        chunk = rel_paths[start : start + BATCH]
        found.update(Instance.objects.filter(path__in=chunk).values_list("path", flat=True))
    return found


def sweep_orphan_objects(
    *, grace: float | None = None, now: float | None = None, dry_run: bool = False
) -> Sweep:
    """Remove stored objects no row refers to and half-written temporary files, both
    older than ``grace`` seconds. ``dry_run``: count them, remove nothing."""
    grace = limits.orphan_grace_seconds() if grace is None else grace
    now = time.time() if now is None else now
    root = storage.root() / storage.OBJECTS
    sweep = Sweep()
    if not root.is_dir():
        return sweep
    old: dict[str, tuple[Path, int]] = {}
    for path in _object_files(root):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if now - info.st_mtime < grace:
            sweep.kept += 1
            continue
        old[path.relative_to(storage.root()).as_posix()] = (path, info.st_size)
    referenced = _referenced(sorted(old), _annotation_paths()) if old else set()
    for rel, (path, size) in old.items():
        if rel in referenced:
            sweep.kept += 1
            continue
        if not dry_run and not storage.unlink_and_tidy(path):
            continue
        sweep.removed += 1
        sweep.bytes += size
    if sweep.removed:
        log.info("orphan object sweep of %s: %s%s", root, sweep, " (dry run)" if dry_run else "")
    return sweep


def sweep_at_startup() -> None:
    """The start-up sweep: never lets a problem with the temp dir stop the process."""
    try:
        sweep_upload_temp()
    except OSError:
        log.exception("upload temp sweep at start-up failed")
