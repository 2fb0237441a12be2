"""Cohort import: a manifest CSV (inference_worker.manifest) in, library cases out.

A dry run validates every row (the manifest's own checks, plus that each image path is
something ingest can read and that the case is not already in the cohort) and imports
nothing. A real run imports row by row, each row all-or-nothing through
ingest.services.ingest_paths, and reports what happened to every line.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.text import slugify

from cohorts.models import Cohort
from inference_worker.manifest import ManifestError, ManifestRow, read_manifest
from ingest import archive, readers, storage
from ingest.errors import IngestError
from ingest.services import ingest_paths

LABEL_SUFFIXES = {readers.NIFTI: ".nii.gz", readers.PNG: ".png"}


@dataclass
class ImportSummary:
    cohort: str
    dry_run: bool
    rows: int = 0
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the cohort
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        lines = [
            f"cohort {self.cohort}: {self.rows} rows, {verb} {len(self.imported)}, "
            f"{len(self.skipped)} already present, {len(self.errors)} errors"
        ]
        lines += [f"line {n}: {m}" for n, m in self.errors]
        return "\n".join(lines)


def _cohort_name(manifest: Path, name: str | None) -> str:
    return slugify(name or manifest.parent.name or manifest.stem)[:64] or "cohort"


def _check_row(row: ManifestRow) -> None:
    """What ingest would refuse, found without storing anything."""
    for path in row.images:
        files = readers._walk(path) if path.is_dir() else [path]
        if not files:
            raise IngestError(f"image folder {path.name} is empty")
        for file in files:
            if readers.sniff(file) is None:
                raise IngestError(f"{file.name} is not a DICOM, NIfTI, PNG or JPEG image")
    if row.labels is not None and readers.sniff(row.labels) not in LABEL_SUFFIXES:
        raise IngestError(f"labels {row.labels.name} must be a NIfTI or PNG label map")


def import_cohort(
    manifest: str | Path,
    *,
    user=None,
    name: str | None = None,
    dry_run: bool = False,
    progress: Callable | None = None,
) -> ImportSummary:
    """Import (or with ``dry_run`` only check) a manifest. ``progress`` wraps the row
    iterable (e.g. tqdm). Raises ManifestError when the manifest itself is invalid."""
    manifest = Path(manifest)
    cohort_name = _cohort_name(manifest, name)
    rows = read_manifest(manifest)  # ManifestError lists every bad line
    summary = ImportSummary(cohort=cohort_name, dry_run=dry_run, rows=len(rows))
    tasks = sorted({r.task for r in rows})
    if len(tasks) > 1:
        raise ManifestError([(1, f"one cohort holds one task; this manifest mixes {', '.join(tasks)}")])
    existing = Cohort.objects.filter(name=cohort_name).first()
    if existing is not None and existing.task != tasks[0]:
        raise ManifestError([(1, f"cohort {cohort_name} exists for task {existing.task}, not {tasks[0]}")])
    present = set(existing.memberships.values_list("case__label", flat=True)) if existing else set()

    if dry_run:
        for row in rows:
            if row.case_id in present:
                summary.skipped.append(row.case_id)
                continue
            try:
                _check_row(row)
            except IngestError as exc:
                summary.errors.append((row.line, exc.message))
            else:
                summary.imported.append(row.case_id)
        return summary

    cohort, _ = Cohort.objects.get_or_create(
        name=cohort_name, defaults={"task": tasks[0], "synthetic": all(r.synthetic for r in rows)}
    )
    for row in progress(rows) if progress else rows:
        if row.case_id in present:
            summary.skipped.append(row.case_id)
            continue
        try:
            _import_row(row, cohort, user)
        except IngestError as exc:
            summary.errors.append((row.line, exc.message))
        else:
            summary.imported.append(row.case_id)
    return summary


def _import_row(row: ManifestRow, cohort: Cohort, user) -> None:
    """One manifest row as one library case; all or nothing."""
    annotations: dict = {}
    label_object = None
    if row.lesion_box:
        annotations["lesion_box"] = list(row.lesion_box)
    try:
        if row.labels is not None:
            label_object = _store_labels(row.labels)
            annotations["labels"] = {"sha256": label_object.sha256, "path": label_object.path}
        ingest_paths(
            row.images,
            user=user,
            task=row.task,
            label=row.case_id,
            in_library=True,
            cohort=cohort,
            split=row.split,
            centre=row.centre,
            clinical=row.clinical,
            histopathology={
                "diagnosis": row.diagnosis,
                "behaviour": row.behaviour,
                "confirmation": row.confirmation,
                "certainty": row.certainty,
            },
            synthetic=row.synthetic,
            annotations=annotations,
        )
    except BaseException:
        if label_object is not None and label_object.created:
            storage.delete_objects([label_object.path])
        raise


def _store_labels(path: Path) -> storage.StoredObject:
    """Store a label map content-addressed, rewritten without free-text header fields
    (a NIfTI description or PNG text chunk can name a patient)."""
    kind = readers.sniff(path)
    if kind not in LABEL_SUFFIXES:
        raise IngestError(f"labels {path.name} must be a NIfTI or PNG label map")
    temp_root = Path(getattr(settings, "UPLOAD_TEMP_DIR", "") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=temp_root, prefix="labels-") as folder:
        clean = Path(folder) / f"labels{LABEL_SUFFIXES[kind]}"
        try:
            if kind == readers.NIFTI:
                import nibabel as nib

                raw = readers._read_limited(path, path.name)
                img = nib.Nifti1Image.from_bytes(raw)
                header = img.header.copy()
                for key in ("descrip", "aux_file", "db_name", "intent_name"):
                    if key in header:
                        header[key] = b""
                header.extensions.clear()
                nib.Nifti1Image(img.dataobj, img.affine, header).to_filename(clean)
            else:
                from PIL import Image

                with Image.open(path) as image:
                    image.load()
                    # A fresh image object carries no text chunks or EXIF.
                    Image.frombytes(image.mode, image.size, image.tobytes()).save(clean)
        except IngestError:
            raise
        except Exception as exc:
            raise IngestError(f"labels {path.name} cannot be read ({exc})", code="corrupt") from exc
        return storage.put_file(clean, suffix=LABEL_SUFFIXES[kind])


def import_uploaded_zip(upload_path: str | Path, *, user=None, name: str | None = None, dry_run: bool = True):
    """The admin page's import: a zip holding manifest.csv and its files."""
    temp_root = Path(getattr(settings, "UPLOAD_TEMP_DIR", "") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=temp_root, prefix="cohort-") as folder:
        for _ in archive.extract_zip(upload_path, folder, display_name="the upload", keep_paths=True):
            pass
        manifests = sorted(Path(folder).rglob("manifest.csv"), key=lambda p: len(p.parts))
        if not manifests:
            raise IngestError("The zip holds no manifest.csv.", code="no_manifest")
        return import_cohort(manifests[0], user=user, name=name, dry_run=dry_run)
