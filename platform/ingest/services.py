"""Ingest: files in, one de-identified Case with its Study/Series/Instance rows out.

One function, ``ingest_paths``, serves the shell command, the upload view and the cohort
import. The order of work is what keeps it safe:

1. gather: sniff and expand (folders, zips), convert NIfTI and PNG/JPEG to DICOM;
2. per file: parse, validate the pixels, compare the ORIGINAL patient identity with the
   first file's, de-identify, then store the de-identified bytes content-addressed;
3. check the modalities make one case, then write every row in one transaction.

Any failure raises IngestError; the rows roll back and the stored objects this call
created are deleted, so bad input leaves nothing behind. The work folder (extracted
zips, conversions) is always removed.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from pydicom import config as pydicom_config

from cases import library_cache
from cases.models import Case, ClinicalData, Histopathology, Instance, Series, Study
from cases.pseudonyms import pseudonym_for_label
from cohorts.models import Cohort, CohortMembership
from inference_worker import vocabulary as vocab
from ingest import limits, rawvalues, readers, safe_decode, storage
from ingest.deidentify import (
    IMPLEMENTATION_VERSION,
    PatientIdentity,
    deidentify,
    shared_elements,
)
from ingest.errors import IngestError

log = logging.getLogger(__name__)
BULK = 500


@dataclass
class IngestResult:
    case: Case
    studies: int = 0  # new Study rows
    series: int = 0  # new Series rows
    instances: int = 0  # new Instance rows
    duplicates: int = 0  # instances already stored in this case (re-upload), skipped
    stored_bytes: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    unused_paths: set[str] = field(default_factory=set, repr=False)

    def summary(self) -> str:
        return (
            f"case {self.case.label} ({self.case.public_id}), task {self.case.task}: "
            f"{self.studies} new studies, {self.series} new series, {self.instances} new instances"
            + (f", {self.duplicates} duplicates skipped" if self.duplicates else "")
        )


@dataclass
class _Record:
    study_uid: str
    study: dict
    series_uid: str
    series: dict
    instance: dict


# --- small field readers ----------------------------------------------------------------


def _float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str | bytes) and hasattr(value, "__len__"):
            value = value[0] if len(value) else None
        number = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return number if math.isfinite(number) else None


# What an IS value may hold (PS3.5 6.2) and what every database's integer column takes.
_INT_RANGE = (-(2**31), 2**31 - 1)


def _int(value) -> int | None:
    """An integer attribute for a database column; None when missing, not a number or
    outside the 32-bit range (an IS of 9e99 is a corrupt header, not a series number)."""
    number = _float(value)
    if number is None or not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
        return None
    return int(number)


def _floats(value, count: int) -> list[float] | None:
    if isinstance(value, str):
        value = [value]
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(v) for v in numbers) else None


def _numbers(ds, keyword: str):
    """A DS/IS attribute as text values straight from the raw bytes when still raw:
    pydicom's DS objects and their validation cost more than the rest of a row."""
    elem = ds.get_item(keyword)
    if elem is None:
        return None
    if elem.is_raw and elem.value is not None:
        values = bytes(elem.value).decode("ascii", "replace").strip(" \x00").split("\\")
        return values if len(values) > 1 else values[0]
    return ds[keyword].value


def _text(ds, keyword: str, length: int) -> str:
    return rawvalues.text(ds, keyword)[:length]


def _study_date(ds):
    import datetime as dt

    value = _text(ds, "StudyDate", 8)
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def _record(ds, obj: storage.StoredObject, origin: str) -> _Record:
    """The row fields of one de-identified dataset (everything here is post de-id)."""
    spacing = _floats(_numbers(ds, "PixelSpacing") or _numbers(ds, "ImagerPixelSpacing") or (), 2)
    orientation = _floats(_numbers(ds, "ImageOrientationPatient") or (), 6)
    position = _floats(_numbers(ds, "ImagePositionPatient") or (), 3)
    location = None
    if position and orientation:
        # Distance along the slice normal: sorts any stack, oblique or not.
        r, c = orientation[:3], orientation[3:]
        normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
        location = sum(p * n for p, n in zip(position, normal, strict=True))
    else:
        location = _float(_numbers(ds, "SliceLocation"))
    rows, columns = _int(rawvalues.uint16(ds, "Rows")), _int(rawvalues.uint16(ds, "Columns"))
    return _Record(
        study_uid=str(ds.StudyInstanceUID),
        study={"description": _text(ds, "StudyDescription", 128), "study_date": _study_date(ds)},
        series_uid=str(ds.SeriesInstanceUID),
        series={
            "modality": _text(ds, "Modality", 16).upper() or "OT",
            "body_part": _text(ds, "BodyPartExamined", 64),
            "description": _text(ds, "SeriesDescription", 128),
            "number": _int(_numbers(ds, "SeriesNumber")),
            "view_position": _text(ds, "ViewPosition", 16),
            "photometric": _text(ds, "PhotometricInterpretation", 16),
            "rows": rows,
            "columns": columns,
            "pixel_spacing": spacing,
            "slice_thickness": _float(_numbers(ds, "SliceThickness")),
            "orientation": orientation,
            "source_format": origin,
        },
        instance={
            "sop_uid": str(ds.SOPInstanceUID),
            "sop_class_uid": str(ds.SOPClassUID),
            "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
            "instance_number": _int(_numbers(ds, "InstanceNumber")),
            "slice_location": location,
            "image_position": position,
            "rows": rows,
            "columns": columns,
            "window_center": _float(_numbers(ds, "WindowCenter")),
            "window_width": _float(_numbers(ds, "WindowWidth")),
            "sha256": obj.sha256,
            "path": obj.path,
            "size": obj.size,
        },
    )


# --- checks -----------------------------------------------------------------------------


def _as_inputs(paths: Iterable) -> list[readers.Input]:
    inputs = []
    for item in paths:
        if isinstance(item, readers.Input):
            inputs.append(item)
        else:
            path = Path(item)
            inputs.append(readers.Input(path, path.name or str(path)))
    if not inputs:
        raise IngestError("Nothing to ingest: no files were given.", code="empty")
    return inputs


def _check_size(inputs: list[readers.Input]) -> None:
    cap = limits.upload_max_bytes()
    total = 0
    for item in inputs:
        path = Path(item.path)
        if path.is_dir():
            total += sum(f.stat().st_size for f in readers._walk(path) if f.is_file())
        elif path.is_file():
            total += path.stat().st_size
        if total > cap:
            raise IngestError(
                f"The upload is too large: more than {cap:,} bytes (the limit is {cap / 1024**2:,.0f} MB).",
                code="too_large",
            )


def _choose_task(task: str | None, modalities: set[str]) -> str:
    if task:
        if task not in vocab.TASKS:
            raise IngestError(f"Unknown task {task!r}.", code="bad_task")
        allowed = set(vocab.TASKS[task]["modalities"])
        if not modalities <= allowed:
            raise IngestError(
                f"A {task} case takes {', '.join(sorted(allowed))} images; this upload has "
                f"{', '.join(sorted(modalities - allowed))}.",
                code="mixed_modalities",
            )
        return task
    for name, spec in vocab.TASKS.items():
        if modalities <= set(spec["modalities"]):
            return name
    if len(modalities) > 1:
        raise IngestError(
            f"Mixed modalities ({', '.join(sorted(modalities))}) cannot be one case: upload the CT and the "
            "radiographs as separate cases.",
            code="mixed_modalities",
        )
    raise IngestError(f"No OsteoLens task reads {', '.join(modalities)} images.", code="mixed_modalities")


def _new_label() -> str:
    return f"C-{secrets.token_hex(4).upper()}"


# --- the service ------------------------------------------------------------------------


def ingest_paths(
    paths: Iterable,
    *,
    user=None,
    task: str | None = None,
    label: str | None = None,
    owner=None,
    in_library: bool = False,
    cohort: Cohort | str | None = None,
    split: str | None = None,
    centre: str = "",
    clinical: dict | None = None,
    histopathology: dict | None = None,
    synthetic: bool = False,
    case: Case | None = None,
    annotations: dict | None = None,
    source: str | None = None,
) -> IngestResult:
    """Ingest files, folders or zips as one new Case (or more images of ``case``).

    ``paths`` holds paths or ``readers.Input`` (a path with the name to show in messages).
    Raises IngestError on bad input, leaving no rows and no stored files behind.
    """
    started = time.perf_counter()
    inputs = _as_inputs(paths)
    _check_size(inputs)
    if case is not None:
        task, label = case.task, case.label
    label = (label or _new_label()).strip()[:64]
    if split and split not in vocab.SPLITS:
        raise IngestError(f"Unknown split {split!r}; use one of {', '.join(vocab.SPLITS)}.", code="bad_split")
    modality_hint = "CT" if task and tuple(vocab.TASKS.get(task, {}).get("modalities", ())) == ("CT",) else ""
    warnings: list[str] = []
    created: list[str] = []
    temp_root = Path(getattr(settings, "UPLOAD_TEMP_DIR", "") or tempfile.gettempdir())
    temp_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-", dir=temp_root))
    try:
        sources = readers.gather(inputs, workdir, warnings, modality_hint=modality_hint)
        # Values set by de-identification are valid by construction, and pydicom's
        # per-value regex checks were a tenth of the time per slice.
        with pydicom_config.disable_value_validation():
            records, identity, marker, skipped = _store_all(sources, label, created, warnings, case)
        if not records:
            raise IngestError(
                "The upload contains no images (only non-image DICOM objects).", code="not_image"
            )
        task = _choose_task(task, {r.series["modality"] for r in records})
        result = _write_rows(
            records,
            case=case,
            user=user,
            task=task,
            label=label,
            owner=owner,
            in_library=in_library,
            cohort=cohort,
            split=split,
            centre=centre,
            clinical=clinical,
            histopathology=histopathology,
            synthetic=synthetic or marker,
            annotations=annotations,
            source=source,
            patient_key=identity.key(),
        )
        result.duplicates += skipped
        # A re-sent instance whose bytes differ from the stored copy left an object no
        # row points at; keep MEDIA_ROOT to what the database knows.
        unused = [p for p in created if p in result.unused_paths]
        if unused:
            still_used = set(Instance.objects.filter(path__in=unused).values_list("path", flat=True))
            storage.delete_objects([p for p in unused if p not in still_used])
        result.warnings = warnings
        result.stored_bytes = sum(r.instance["size"] for r in records)
        result.seconds = time.perf_counter() - started
        log.info("ingest: %s in %.2fs", result.summary(), result.seconds)
        return result
    except BaseException as exc:
        storage.delete_objects(created)
        if isinstance(exc, (IngestError, *safe_decode.PASS_THROUGH)):
            raise
        # The last line of defence: whatever failed, the uploader gets a message and a
        # 400, the log gets the traceback, and the rows and objects are gone already.
        log.exception("ingest: unexpected failure; the upload was refused and cleaned up")
        raise IngestError(
            f"The upload could not be stored ({safe_decode.describe(exc)}); nothing was kept.",
            code="unexpected",
        ) from exc
    finally:
        storage.remove_tree(workdir)


@dataclass
class _Prepared:
    """One file parsed, de-identified and stored by a worker thread."""

    name: str
    identity: PatientIdentity  # the ORIGINAL patient, for comparing files; never stored
    sop_uid: str  # the de-identified SOP Instance UID
    synthetic_marker: bool
    obj: storage.StoredObject
    record: _Record


def _prepare(source: readers.Source, label: str, shared: dict) -> _Prepared | None:
    """Parse, validate, de-identify and store one file; None when it holds no image.
    Touches no database and no state shared with other files, so it can run on a thread.

    The readers refuse the damage they know with a precise message; anything else a
    hostile file provokes (in pydicom, de-identification, a decoder) is still that one
    file's fault: it is refused by name, its traceback goes to the log, and an object
    already stored for it is removed."""
    stored: list[str] = []
    try:
        dicom = readers.read_dicom(source)
        if dicom is None:
            return None
        ds = dicom.ds
        identity = PatientIdentity.of(ds)  # read before de-identification rewrites the header
        # The fast writer (native files) builds the file meta itself. The files carry an
        # opaque keyed pseudonym, never the label (it may name the answer).
        outcome = deidentify(
            ds,
            pseudonym=pseudonym_for_label(label),
            identity=identity,
            rebuild_meta=dicom.pixel_element is None,
        )
        obj = storage.put_chunks(readers.encode(dicom, shared=shared, version_name=IMPLEMENTATION_VERSION))
        if obj.created:
            stored.append(obj.path)
        return _Prepared(source.name, identity, str(ds.SOPInstanceUID), outcome.synthetic_marker, obj,
                         _record(ds, obj, source.origin))  # fmt: skip
    except safe_decode.PASS_THROUGH:
        storage.delete_objects(stored)
        raise
    except BaseException as exc:  # noqa: BLE001 - see the docstring
        storage.delete_objects(stored)
        if isinstance(exc, IngestError):
            if source.name in exc.message:
                raise
            # De-identification refuses by attribute and does not know the file's name.
            raise IngestError(f"{source.name}: {exc.message}", code=exc.code) from exc
        raise safe_decode.unexpected(source.name, exc) from exc


def _prepare_all(sources, label: str, created: list[str], accept) -> None:
    """_prepare every source and hand each result to ``accept(source, item)`` in upload
    order; ``accept`` raises to refuse the upload, which stops starting new files.

    Half of a slice's cost is file I/O and hashing, which release the GIL, so two
    threads keep both cores busy. Every object a thread stored is listed in ``created``
    before any error is raised, so the caller's clean-up sees them all."""
    shared = shared_elements()
    threads = _ingest_threads()
    if threads <= 1 or len(sources) < 2:
        for source in sources:
            item = _prepare(source, label, shared)
            if item is not None and item.obj.created:
                created.append(item.obj.path)
            accept(source, item)
        return
    error = None
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ingest") as pool:
        futures = [pool.submit(_prepare, source, label, shared) for source in sources]
        for source, future in zip(sources, futures, strict=True):
            if error is not None:
                future.cancel()  # after the first failure, start no more files
            try:
                item = future.result()
            except CancelledError:
                continue
            except BaseException as exc:  # noqa: BLE001 - re-raised once every thread is done
                error = error or exc
                continue
            if item is not None and item.obj.created:
                created.append(item.obj.path)
            if error is None:
                try:
                    accept(source, item)
                except BaseException as exc:  # noqa: BLE001 - as above
                    error = exc
    if error is not None:
        raise error


def _ingest_threads() -> int:
    return max(1, int(getattr(settings, "INGEST_THREADS", min(2, os.cpu_count() or 1))))


def _store_all(sources, label, created, warnings, case):
    """De-identify and store every file; return the row records and the patient.

    Files are checked against each other in upload order as they come back from the
    threads, after they were stored: a refused upload (mixed patients, a corrupt file)
    has its objects deleted by the caller, and what was stored had been de-identified,
    so nothing identifying is written either way."""
    records: list[_Record] = []
    seen: set[str] = set()
    first: tuple[PatientIdentity, str] | None = None
    known_key = (case.annotations or {}).get("patient_key") if case is not None else None
    marker = False
    skipped = 0
    non_images = []
    dropped: set[str] = set()

    def accept(source, item: _Prepared | None) -> None:
        nonlocal first, marker, skipped
        if item is None:
            non_images.append(source.name)
            return
        if first is None:
            first = (item.identity, item.name)
            if known_key and item.identity.key() != known_key:
                raise IngestError(
                    f"{item.name} belongs to a different patient than the images already in case {label}.",
                    code="mixed_patients",
                )
        elif item.identity != first[0]:
            raise IngestError(
                f"The upload mixes patients: {first[1]} and {item.name} belong to different patients. "
                "Upload one patient per case.",
                code="mixed_patients",
            )
        if item.sop_uid in seen:
            skipped += 1
            dropped.add(item.obj.path)
            return
        seen.add(item.sop_uid)
        marker = marker or item.synthetic_marker
        records.append(item.record)

    _prepare_all(sources, label, created, accept)
    # A repeated instance whose bytes differ from the first copy stored an object that no
    # record keeps; drop it so storage holds only what rows point at.
    orphans = dropped - {r.instance["path"] for r in records}
    if orphans:
        storage.delete_objects([p for p in created if p in orphans])
        created[:] = [p for p in created if p not in orphans]
    if non_images:
        warnings.append(f"Skipped {len(non_images)} DICOM objects without an image (e.g. {non_images[0]}).")
    identity = first[0] if first else PatientIdentity("", "")
    return records, identity, marker, skipped


def _resolve_cohort(cohort, task: str) -> Cohort | None:
    if cohort is None or isinstance(cohort, Cohort):
        return cohort
    name = slugify(str(cohort))[:64]
    if not name:
        raise IngestError(f"Invalid cohort name {cohort!r}.", code="bad_cohort")
    found, _ = Cohort.objects.get_or_create(name=name, defaults={"task": task})
    if found.task != task:
        raise IngestError(f"Cohort {found.name} is for {found.task}, not {task}.", code="bad_cohort")
    return found


def _write_rows(records: list[_Record], *, case, user, task, label, owner, in_library, cohort, split, centre,
                clinical, histopathology, synthetic, annotations, source, patient_key) -> IngestResult:  # fmt: skip
    try:
        with transaction.atomic():
            return _write_rows_atomic(
                records, case=case, user=user, task=task, label=label, owner=owner, in_library=in_library,
                cohort=cohort, split=split, centre=centre, clinical=clinical, histopathology=histopathology,
                synthetic=synthetic, annotations=annotations, source=source, patient_key=patient_key,
            )  # fmt: skip
    except IntegrityError as exc:
        # Two uploads of the same study racing each other; the loser is told plainly.
        raise IngestError(
            "These images were stored by another upload at the same moment; try again."
        ) from exc


def _write_rows_atomic(records, *, case, user, task, label, owner, in_library, cohort, split, centre, clinical,
                       histopathology, synthetic, annotations, source, patient_key) -> IngestResult:  # fmt: skip
    study_uids = {r.study_uid for r in records}
    existing_studies = {s.study_uid: s for s in Study.objects.filter(study_uid__in=study_uids)}
    foreign = [s for s in existing_studies.values() if case is None or s.case_id != case.pk]
    if foreign:
        other = foreign[0].case
        raise IngestError(
            f"This study is already stored as case {other.label}; it cannot be uploaded again as a new case."
            if (user is not None and _can_see(user, other))
            else "This study has already been uploaded to OsteoLens by someone else; ask an admin.",
            code="duplicate_study",
        )
    if case is None:
        case = Case.objects.create(
            label=label,
            task=task,
            in_library=in_library,
            owner=owner,
            source=source or (Case.Source.UPLOAD if owner is not None else Case.Source.IMPORT),
            synthetic=synthetic,
            annotations={**(annotations or {}), "patient_key": patient_key},
        )
        if clinical:
            values = {k: clinical.get(k) for k in ClinicalData.FIELDS}
            for name in ("sex", "site", "site_group"):
                values[name] = values[name] or ""
            ClinicalData.objects.create(case=case, **values)
        if histopathology:
            Histopathology.objects.create(case=case, confirmed_by=user, **histopathology)
        cohort = _resolve_cohort(cohort, task)
        if cohort is not None:
            CohortMembership.objects.create(
                cohort=cohort, case=case, split=split or "train", centre=centre or ""
            )
    else:
        case = Case.objects.select_for_update().get(pk=case.pk)
        if synthetic and not case.synthetic:
            case.synthetic = True
            case.save(update_fields=["synthetic"])

    result = IngestResult(case=case)
    new_studies = []
    for uid in sorted(study_uids - set(existing_studies)):
        first = next(r for r in records if r.study_uid == uid)
        new_studies.append(Study(case=case, study_uid=uid, **first.study))
    Study.objects.bulk_create(new_studies)
    result.studies = len(new_studies)
    # Re-read rather than trust bulk_create to return primary keys on every backend.
    studies = {s.study_uid: s for s in Study.objects.filter(case=case, study_uid__in=study_uids)}

    series_uids = {r.series_uid for r in records}
    existing_series = {s.series_uid: s for s in Series.objects.filter(series_uid__in=series_uids)}
    if any(s.study.case_id != case.pk for s in existing_series.values()):
        raise IngestError("A series of this upload belongs to another case.", code="duplicate_study")
    new_series, first_by_series = [], {}
    for r in records:
        first_by_series.setdefault(r.series_uid, r)
    for uid, first in first_by_series.items():
        if uid not in existing_series:
            new_series.append(Series(study=studies[first.study_uid], series_uid=uid, **first.series))
    Series.objects.bulk_create(new_series)
    if new_series:
        # bulk_create sends no signals; a new series can change the library's modality filter.
        library_cache.bump()
    result.series = len(new_series)
    series = {s.series_uid: s for s in Series.objects.filter(study__case=case, series_uid__in=series_uids)}

    sop_uids = [r.instance["sop_uid"] for r in records]
    existing = set()
    for start in range(0, len(sop_uids), BULK):
        chunk = sop_uids[start : start + BULK]
        existing |= set(Instance.objects.filter(sop_uid__in=chunk).values_list("sop_uid", flat=True))
    if existing:
        elsewhere = Instance.objects.filter(sop_uid__in=list(existing)[:BULK]).exclude(
            series__study__case=case
        )
        if elsewhere.exists():
            raise IngestError("These images are already stored in another case.", code="duplicate_study")
    rows = [
        Instance(series=series[r.series_uid], **r.instance)
        for r in records
        if r.instance["sop_uid"] not in existing
    ]
    Instance.objects.bulk_create(rows, batch_size=BULK)
    result.instances = len(rows)
    result.duplicates = len(existing)
    result.unused_paths = {r.instance["path"] for r in records if r.instance["sop_uid"] in existing}
    return result


def _can_see(user, case) -> bool:
    from accounts.permissions import can_view_case

    return can_view_case(user, case)
