"""Per-instance DICOM JSON (PS3.18 F.2), computed once per stored file and cached.

Series metadata is the hot path of outside viewers (OHIF and the like ask for it before
showing anything), so its cost must not grow with header parsing: each file's header is
read once (stop_before_pixels), turned into DICOM JSON, and kept in InstanceMetadata
keyed by sha256. A metadata response is then one query and a concatenation, and the
finished body is kept in memory for the next request for the same instances.

Pixel data is never inline: it is a BulkDataURI to the instance's frames resource.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pydicom
from django.conf import settings

from cases.models import Instance
from viewer.answers import strip_json
from viewer.models import InstanceMetadata

# Replaced by the absolute DICOMweb root (".../dicomweb") when a response is sent.
BASE_PLACEHOLDER = "@@DICOMWEB_BASE@@"
ENCAPSULATED_VR = "OB"
# Binary values above this size are bulk data; only pixel data is served as bulk data,
# other large binary elements (rare after de-identification) are left out.
BULK_THRESHOLD = 1024
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
CHUNK = 500
# Finished metadata bodies kept per process (a 500-slice CT is about 4 MB).
RENDERED_BUDGET = 64 * 1024 * 1024
SEND_CHUNK = 1024 * 1024


def instance_path(instance: Instance) -> Path:
    return Path(settings.MEDIA_ROOT) / instance.path


def frames_uri(study_uid: str, series_uid: str, sop_uid: str, frames: int) -> str:
    numbers = ",".join(str(n) for n in range(1, max(frames, 1) + 1))
    return f"{BASE_PLACEHOLDER}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/{numbers}"


def header_json(path: Path) -> dict:
    """The DICOM JSON object of one file, pixel data as a BulkDataURI."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)

    def drop_bulk(element):
        # to_json_dict asks this only for binary values over the threshold.
        return None

    obj = ds.to_json_dict(
        bulk_data_threshold=BULK_THRESHOLD, bulk_data_element_handler=drop_bulk, suppress_invalid_tags=True
    )
    for key in [k for k, v in obj.items() if "BulkDataURI" in v and not v["BulkDataURI"]]:
        del obj[key]
    syntax = str(ds.file_meta.get("TransferSyntaxUID", pydicom.uid.ExplicitVRLittleEndian))
    # AvailableTransferSyntaxUID: lets a client pick a decoder before fetching frames.
    obj["00083002"] = {"vr": "UI", "Value": [syntax]}
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    compressed = pydicom.uid.UID(syntax).is_compressed
    bits = int(ds.get("BitsAllocated", 16) or 16)
    obj["7FE00010"] = {
        "vr": ENCAPSULATED_VR if compressed or bits <= 8 else "OW",
        "BulkDataURI": frames_uri(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, frames),
    }
    return dict(sorted(obj.items()))


def _entry(instance: Instance) -> InstanceMetadata:
    obj = header_json(instance_path(instance))
    full = json.dumps(obj, separators=(",", ":"))
    redacted = json.dumps(obj, separators=(",", ":")) if strip_json(obj) else ""
    return InstanceMetadata(sha256=instance.sha256, dicom_json=full, redacted_json=redacted)


def ensure_cached(instances: Iterable[Instance]) -> int:
    """Compute the entries still missing; returns how many were computed.

    Also the warm-up hook for ingest: call it on a new series so that even the first
    metadata request is fast.
    """
    by_sha = {i.sha256: i for i in instances}
    known = set(_entries(list(by_sha), "sha256"))
    missing = [i for sha, i in by_sha.items() if sha not in known]
    entries = [_entry(i) for i in missing]
    # Two requests may compute the same entry; the content is identical, so either wins.
    InstanceMetadata.objects.bulk_create(entries, batch_size=CHUNK, ignore_conflicts=True)
    return len(entries)


def _entries(shas: list[str], column: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(shas), CHUNK):
        chunk = shas[start : start + CHUNK]
        found.update(InstanceMetadata.objects.filter(sha256__in=chunk).values_list("sha256", column))
    return found


class _Rendered:
    """Finished metadata bodies, per process, least recently used dropped first.

    The key is a digest of the ordered sha256 list (plus site root and hidden flag), so
    a series that gains or loses an instance simply misses; entries never go stale.
    """

    def __init__(self, budget: int):
        self.budget, self.used = budget, 0
        self.items: OrderedDict[bytes, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self.lock:
            body = self.items.get(key)
            if body is not None:
                self.items.move_to_end(key)
            return body

    def put(self, key: bytes, body: bytes) -> None:
        if len(body) > self.budget // 4:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = body
            self.used += len(body)
            while self.used > self.budget:
                _, dropped = self.items.popitem(last=False)
                self.used -= len(dropped)


RENDERED = _Rendered(RENDERED_BUDGET)


def metadata_body(instances: list[Instance], *, base: str, hidden: bool) -> bytes:
    """The JSON array of the instances' cached objects, in the given order.

    Warm: one dictionary lookup. Cold: one query for the entries (computing the missing
    ones from the file headers), then the body is kept for the next request. Built
    before the response starts, so a missing file is a 404, not a broken stream.
    """
    shas = [i.sha256 for i in instances]
    key = hashlib.sha256("\n".join([base, str(hidden), *shas]).encode()).digest()
    body = RENDERED.get(key)
    if body is None:
        ensure_cached(instances)
        full = _entries(shas, "dicom_json")
        redacted = _entries(shas, "redacted_json") if hidden else {}
        text = "[" + ",".join(redacted.get(s) or full[s] for s in shas) + "]"
        body = text.replace(BASE_PLACEHOLDER, base).encode()
        RENDERED.put(key, body)
    return body


def chunks(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), SEND_CHUNK):
        yield view[start : start + SEND_CHUNK]
