"""The cohort manifest: one CSV row per case.

The phantom generator writes it, ``manage.py import_cohort`` imports it and the
training command reads it, so its format is defined once, here.

Columns (header required; order free; unknown columns are an error so typos surface):

- ``case_id``: unique within the manifest.
- ``task``: ``sacral-ct``, ``bone-xray`` or ``spine-xray``.
- ``images``: paths relative to the manifest's folder, ``;``-separated. A path may be
  a DICOM file, a folder of DICOM files, a NIfTI volume or a PNG/JPEG.
- ``labels``: optional label map path (NIfTI for CT, PNG for radiographs).
- ``age`` (years), ``sex`` (M/F), ``site`` (free text, e.g. "sacrum", "distal femur"),
  ``site_group`` (axial/appendicular), ``pain``/``swelling``/``trauma`` (yes/no),
  ``crp`` (mg/L), ``esr`` (mm/h), ``alp`` (U/L): each may be blank (missing).
- ``diagnosis``: a code from ``vocabulary.DIAGNOSES``; ``behaviour``:
  benign/intermediate/malignant (blank: the diagnosis's default);
  ``confirmation``: how it was proven; ``certainty``.
- ``split``: train/validation/test/external; ``centre``: free text.
- ``lesion_box``: optional ``x0,y0,x1,y1`` in pixels (radiographs).
- ``synthetic``: yes/no.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from inference_worker import vocabulary as vocab

COLUMNS = (
    "case_id",
    "task",
    "images",
    "labels",
    "age",
    "sex",
    "site",
    "site_group",
    "pain",
    "swelling",
    "trauma",
    "crp",
    "esr",
    "alp",
    "diagnosis",
    "behaviour",
    "confirmation",
    "certainty",
    "split",
    "centre",
    "lesion_box",
    "synthetic",
)
REQUIRED = ("case_id", "task", "images", "diagnosis", "split")
_YES = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


@dataclass
class ManifestRow:
    line: int
    case_id: str
    task: str
    images: list[Path]
    labels: Path | None
    diagnosis: str
    behaviour: str
    split: str
    centre: str = ""
    confirmation: str = ""
    certainty: str = ""
    clinical: dict = field(default_factory=dict)
    lesion_box: tuple[int, int, int, int] | None = None
    synthetic: bool = False

    def files(self) -> list[Path]:
        """Every file of the row's images, folders expanded (sorted): what one study uploads."""
        found: list[Path] = []
        for path in self.images:
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
        return found


class ManifestError(ValueError):
    """A manifest with bad rows; ``errors`` lists (line number, message)."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__("; ".join(f"line {n}: {m}" for n, m in errors[:20]))


def _number(value: str, name: str, lo: float, hi: float) -> float | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not lo <= number <= hi:
        raise ValueError(f"{name} {number:g} is outside {lo:g}..{hi:g}")
    return number


def _choice(value: str, name: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _flag(value: str, name: str) -> bool | None:
    if value == "":
        return None
    try:
        return _YES[value.lower()]
    except KeyError:
        raise ValueError(f"{name} must be yes or no, got {value!r}") from None


def parse_row(raw: dict[str, str], line: int, base: Path) -> ManifestRow:
    """Validate one row; raise ValueError with a readable reason."""
    get = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    for name in REQUIRED:
        if not get[name]:
            raise ValueError(f"{name} is empty")
    task = _choice(get["task"], "task", tuple(vocab.TASKS))
    diagnosis = _choice(get["diagnosis"], "diagnosis", tuple(vocab.DIAGNOSIS_BY_CODE))
    if vocab.task_class(task, diagnosis) is None:
        raise ValueError(f"diagnosis {diagnosis!r} is not a class of task {task}")
    behaviour = get["behaviour"] or vocab.DIAGNOSIS_BY_CODE[diagnosis].behaviour
    _choice(behaviour, "behaviour", vocab.BEHAVIOURS)
    split = _choice(get["split"], "split", vocab.SPLITS)
    if get["confirmation"]:
        _choice(get["confirmation"], "confirmation", vocab.CONFIRMATIONS)
    if get["certainty"]:
        _choice(get["certainty"], "certainty", vocab.CERTAINTIES)
    images = []
    for part in get["images"].split(";"):
        rel = Path(part.strip())
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"image path {part!r} must be relative and inside the manifest folder")
        path = base / rel
        if not path.exists():
            raise ValueError(f"image {part!r} does not exist")
        images.append(path)
    labels = None
    if get["labels"]:
        rel = Path(get["labels"])
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError("labels path must be relative and inside the manifest folder")
        labels = base / rel
        if not labels.exists():
            raise ValueError(f"labels {get['labels']!r} does not exist")
    clinical = {
        "age": _number(get["age"], "age", 0, 120),
        "sex": _choice(get["sex"], "sex", vocab.SEXES) if get["sex"] else None,
        "site": get["site"] or None,
        "site_group": _choice(get["site_group"], "site_group", vocab.SITE_GROUPS)
        if get["site_group"]
        else None,
        "pain": _flag(get["pain"], "pain"),
        "swelling": _flag(get["swelling"], "swelling"),
        "trauma": _flag(get["trauma"], "trauma"),
        "crp": _number(get["crp"], "crp", 0, 1000),
        "esr": _number(get["esr"], "esr", 0, 200),
        "alp": _number(get["alp"], "alp", 0, 5000),
    }
    box = None
    if get["lesion_box"]:
        try:
            box = tuple(int(v) for v in get["lesion_box"].split(","))
        except ValueError:
            box = ()
        if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]:
            raise ValueError("lesion_box must be x0,y0,x1,y1 with x0<x1 and y0<y1")
    return ManifestRow(
        line=line,
        case_id=get["case_id"],
        task=task,
        images=images,
        labels=labels,
        diagnosis=diagnosis,
        behaviour=behaviour,
        split=split,
        centre=get["centre"],
        confirmation=get["confirmation"],
        certainty=get["certainty"],
        clinical=clinical,
        lesion_box=box,
        synthetic=bool(_flag(get["synthetic"], "synthetic")),
    )


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse a whole manifest; raise ManifestError listing every bad line."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError([(0, f"manifest {path} does not exist")])
    rows: list[ManifestRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing columns: {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown columns: {', '.join(unknown)}")
            raise ManifestError([(1, "; ".join(parts))])
        for raw in reader:
            line = reader.line_num
            try:
                row = parse_row(raw, line, path.parent)
            except ValueError as exc:
                errors.append((line, str(exc)))
                continue
            if row.case_id in seen:
                errors.append((line, f"case_id {row.case_id!r} repeats line {seen[row.case_id]}"))
                continue
            seen[row.case_id] = line
            rows.append(row)
    if errors:
        raise ManifestError(errors)
    if not rows:
        raise ManifestError([(1, "the manifest has no rows")])
    return rows


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    """Write rows (dicts keyed by COLUMNS; missing keys blank) as a manifest CSV."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in COLUMNS})
