"""Content-addressed storage of de-identified files under MEDIA_ROOT.

An object lives at ``objects/ab/cd/<sha256><suffix>``: identical content is stored once,
a path never changes meaning, and a reader can verify a file against its name. Writes are
atomic (temporary file in the target folder, then ``os.replace``), so a crash never
leaves a half-written object under a valid name.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

OBJECTS = "objects"
CHUNK = 1024 * 1024
_REL_PATH = re.compile(r"^objects/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]{1,8}){0,2}$")


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    path: str  # relative to MEDIA_ROOT
    size: int
    created: bool  # False when identical content was already stored


def root() -> Path:
    return Path(settings.MEDIA_ROOT)


def relative_path(sha256: str, suffix: str = ".dcm") -> str:
    return f"{OBJECTS}/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


def absolute_path(rel_path: str) -> Path:
    """The file of a stored object; refuses anything that is not an object path."""
    if not _REL_PATH.match(rel_path):
        raise ValueError(f"not a stored object path: {rel_path!r}")
    return root() / rel_path


def _reuse(target: Path) -> bool:
    """True if the object is stored already. Its time is refreshed: the orphan sweep
    (ingest.cleanup) spares recent objects, and this one is about to get a row."""
    try:
        os.utime(target)
    except FileNotFoundError:
        return False
    return True


def _commit(tmp_name: str, target: Path) -> bool:
    """Move a finished temporary file into place; False if the object already existed."""
    if _reuse(target):
        os.unlink(tmp_name)
        return False
    os.chmod(tmp_name, 0o644)
    os.replace(tmp_name, target)
    return True


def put_bytes(data: bytes, suffix: str = ".dcm") -> StoredObject:
    return put_chunks([data], suffix)


_PREAMBLE = 128
_ZERO_PREAMBLE = bytes(_PREAMBLE)


def _zero_preamble(chunks: list, suffix: str) -> list:
    """A DICOM file's 128-byte preamble is free for any use, so an upload can hide
    anything there; every stored file gets zeros, whichever writer produced it."""
    if suffix != ".dcm" or not chunks:
        return chunks
    head = chunks[0]
    if len(head) < _PREAMBLE + 4 or bytes(head[_PREAMBLE : _PREAMBLE + 4]) != b"DICM":
        return chunks
    if bytes(head[:_PREAMBLE]) == _ZERO_PREAMBLE:
        return chunks
    return [_ZERO_PREAMBLE + bytes(head[_PREAMBLE:]), *chunks[1:]]


def put_chunks(chunks: list, suffix: str = ".dcm") -> StoredObject:
    """Store the concatenation of ``chunks`` without building it in memory first."""
    chunks = _zero_preamble(chunks, suffix)
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    sha256 = digest.hexdigest()
    size = sum(len(c) for c in chunks)
    rel = relative_path(sha256, suffix)
    target = root() / rel
    if _reuse(target):
        return StoredObject(sha256, rel, size, False)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name in the target folder, created 0644 directly (no chmod afterwards).
    tmp_name = str(target.parent / f".tmp-{secrets.token_hex(8)}")
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        if target.exists():  # stored meanwhile by a concurrent ingest
            os.unlink(tmp_name)
            created = False
        else:
            os.replace(tmp_name, target)
            created = True
    except BaseException:
        _unlink_quietly(tmp_name)
        raise
    return StoredObject(sha256, rel, size, created)


def put_file(source: str | os.PathLike, suffix: str = ".dcm") -> StoredObject:
    """Store a file's bytes, hashing while copying (one read of the source)."""
    tmp_dir = root() / OBJECTS
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=".tmp-")
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        sha256 = digest.hexdigest()
        rel = relative_path(sha256, suffix)
        target = root() / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same file system as the target, so the rename is still atomic.
        created = _commit(tmp_name, target)
    except BaseException:
        _unlink_quietly(tmp_name)
        raise
    return StoredObject(sha256, rel, size, created)


def open_object(rel_path: str, mode: str = "rb"):
    if "w" in mode or "a" in mode or "+" in mode:
        raise ValueError("stored objects are read-only")
    return absolute_path(rel_path).open(mode)


def stream_object(rel_path: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
    with open_object(rel_path) as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def exists(rel_path: str) -> bool:
    return absolute_path(rel_path).is_file()


def delete_objects(rel_paths: Iterable[str]) -> int:
    """Remove objects (those a failed ingest created); missing ones are ignored."""
    return sum(unlink_and_tidy(absolute_path(rel)) for rel in rel_paths)


def unlink_and_tidy(path: Path) -> bool:
    """Remove one file under objects/ (False when already gone) and the fan-out folders
    it leaves empty, so a failed ingest leaves MEDIA_ROOT exactly as it found it."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        if folder == root():  # MEDIA_ROOT itself stays
            break
        try:
            folder.rmdir()
        except OSError:
            break
    return True


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def remove_tree(path: str | os.PathLike) -> None:
    shutil.rmtree(path, ignore_errors=True)
