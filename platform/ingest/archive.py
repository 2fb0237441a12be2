"""Safe expansion of uploaded zip archives: every archive is treated as hostile.

Refused with a clear message: entries with absolute paths or ``..`` (path traversal),
symbolic links, encrypted entries, too many entries, too much uncompressed data, and
compression ratios no image reaches (zip bombs), judged for big entries one by one and
for the archive as a whole (many small entries are as much a bomb as one big one).
Declared sizes are not trusted: the bytes actually written are counted too. Nested archives are extracted as plain files
and never expanded further (the caller skips them).
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ingest import limits
from ingest.errors import IngestError

CHUNK = 1024 * 1024
# Below this much expanded data no ratio is a threat, and a few blank files compress
# thousands of times; above it the ratio of the whole archive is checked.
RATIO_FLOOR = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_member_name(raw: str, archive_name: str) -> PurePosixPath:
    """The member's relative path, or IngestError if it could escape the target folder."""
    name = raw.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or _DRIVE.match(name) or path.is_absolute():
        raise IngestError(
            f"{archive_name}: the archive contains an absolute path ({raw!r}); refused.",
            code="path_traversal",
        )
    if ".." in path.parts:
        raise IngestError(
            f"{archive_name}: the archive contains a path that leaves its folder ({raw!r}); refused.",
            code="path_traversal",
        )
    if "\x00" in name:
        raise IngestError(
            f"{archive_name}: the archive contains an invalid file name; refused.", code="path_traversal"
        )
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    # Unix mode bits live in the high 16 bits of external_attr when made on Unix.
    return stat.S_ISLNK(info.external_attr >> 16)


def extract_zip(
    path: str | Path, target: str | Path, *, display_name: str = "", keep_paths: bool = False
) -> Iterator[tuple[Path, str]]:
    """Check the whole archive, then extract it; yield (file on disk, name for messages).

    With ``keep_paths`` the archive's folder layout is recreated under ``target`` (a
    cohort manifest refers to files by relative path); otherwise files get numbered
    names, so a member name never decides where anything is written.
    """
    name = display_name or Path(path).name
    target = Path(target)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"{name}: not a readable zip archive ({exc}).", code="corrupt") from exc
    with archive:
        try:
            infos = archive.infolist()
        except Exception as exc:  # pragma: no cover - zipfile parses the directory on open
            raise IngestError(f"{name}: the zip directory is corrupt.", code="corrupt") from exc
        files = [i for i in infos if not i.is_dir()]
        if len(files) > limits.zip_max_files():
            raise IngestError(
                f"{name}: the archive has {len(files):,} files; at most {limits.zip_max_files():,} are accepted.",
                code="zip_bomb",
            )
        total_cap, ratio_cap = limits.zip_max_total_bytes(), limits.zip_max_ratio()
        declared = 0
        for info in infos:
            check_member_name(info.filename, name)
            if _is_symlink(info):
                raise IngestError(
                    f"{name}: the archive contains a symbolic link ({info.filename!r}); refused.",
                    code="symlink",
                )
            if info.flag_bits & 0x1:
                raise IngestError(
                    f"{name}: the archive is encrypted; upload it without a password.", code="encrypted"
                )
            declared += info.file_size
            if info.file_size > 1024 * 1024 and info.file_size > ratio_cap * max(info.compress_size, 1):
                raise IngestError(
                    f"{name}: {info.filename!r} expands {info.file_size / max(info.compress_size, 1):,.0f} times; "
                    "refused as a zip bomb.",
                    code="zip_bomb",
                )
        if declared > total_cap:
            raise IngestError(
                f"{name}: the archive expands to {declared:,} bytes; at most {total_cap:,} are accepted.",
                code="zip_bomb",
            )
        # The archive file's own size: the directory's compressed sizes could lie too.
        packed = max(os.path.getsize(path), 1)
        if declared > RATIO_FLOOR and declared > ratio_cap * packed:
            raise IngestError(
                f"{name}: the archive expands {declared / packed:,.0f} times ({packed:,} bytes to "
                f"{declared:,}); refused as a zip bomb.",
                code="zip_bomb",
            )
        target.mkdir(parents=True, exist_ok=True)
        written = 0
        for index, info in enumerate(files):
            member = check_member_name(info.filename, name)
            if keep_paths:
                out = target.joinpath(*member.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
            else:
                out = target / f"{index:06d}"
            try:
                with archive.open(info) as src, open(out, "xb") as dst:
                    own = 0
                    while chunk := src.read(CHUNK):
                        own += len(chunk)
                        written += len(chunk)
                        # The directory can lie about sizes; the stream cannot.
                        if own > info.file_size or written > total_cap:
                            raise IngestError(
                                f"{name}: {info.filename!r} expands beyond its declared size; refused as a zip bomb.",
                                code="zip_bomb",
                            )
                        dst.write(chunk)
            except IngestError:
                raise
            except FileExistsError as exc:
                raise IngestError(
                    f"{name}: the archive lists {info.filename!r} twice.", code="corrupt"
                ) from exc
            except Exception as exc:
                raise IngestError(
                    f"{name}: {info.filename!r} cannot be extracted; the archive is truncated or corrupt ({exc}).",
                    code="truncated",
                ) from exc
            yield out, f"{name}/{info.filename}"
