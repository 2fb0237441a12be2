"""Training/evaluation cases for the sacral pipeline: from a cohort manifest or made
in memory by the phantom generator (tests, quick runs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from inference_worker import manifest as manifest_mod
from inference_worker import vocabulary as vocab
from inference_worker.io.ct import load_ct

TASK = "sacral-ct"


@dataclass
class Case:
    case_id: str
    split: str
    diagnosis: str
    behaviour: str
    clinical: dict
    load: callable  # () -> (hu float32, labels uint8 | None, affine), both RAS
    lesion: dict = field(default_factory=dict)
    synthetic: bool = False

    @property
    def malignant(self) -> bool:
        return self.behaviour == "malignant"


def manifest_path(data: str | Path) -> Path:
    path = Path(data)
    return path / "manifest.csv" if path.is_dir() else path


def _load_manifest_case(row: manifest_mod.ManifestRow):
    def load():
        ct = load_ct(row.images)
        labels = None
        if row.labels is not None:
            img = nib.as_closest_canonical(nib.load(str(row.labels)))
            if img.shape != ct.hu.shape or not np.allclose(img.affine, ct.affine, atol=1e-2):
                raise ValueError(f"{row.case_id}: label map grid differs from its CT")
            labels = np.asarray(img.dataobj).astype(np.uint8)
        return ct.hu, labels, ct.affine

    return load


def _phantom_truth(row: manifest_mod.ManifestRow) -> dict:
    """The generator's lesion description next to a phantom's images (for reader simulation)."""
    truth = row.images[0].parent / "phantom.json"
    if row.synthetic and truth.is_file():
        return json.loads(truth.read_text()).get("lesion", {})
    return {}


def cases_from_manifest(data: str | Path) -> list[Case]:
    rows = [r for r in manifest_mod.read_manifest(manifest_path(data)) if r.task == TASK]
    if not rows:
        raise ValueError(f"no {TASK} rows in {data}")
    return [
        Case(
            case_id=r.case_id,
            split=r.split,
            diagnosis=r.diagnosis,
            behaviour=r.behaviour,
            clinical={"age": r.clinical.get("age"), "sex": r.clinical.get("sex")},
            load=_load_manifest_case(r),
            lesion=_phantom_truth(r),
            synthetic=r.synthetic,
        )
        for r in rows
    ]


def phantom_cases(n: int, seed: int, split: str, profile: str = "default") -> list[Case]:
    """n phantoms with classes cycled so every split holds every class."""
    from inference_worker.phantoms.sacral_ct import generate_case

    cases = []
    for i in range(n):
        diagnosis = vocab.SACRAL_CLASSES[i % len(vocab.SACRAL_CLASSES)]
        case_seed = seed * 100_003 + i
        phantom = generate_case(case_seed, diagnosis=diagnosis, profile=profile)

        def load(p=phantom):
            return p.hu.astype(np.float32), p.labels, p.affine

        cases.append(
            Case(
                case_id=f"phantom-{seed}-{i}",
                split=split,
                diagnosis=diagnosis,
                behaviour=vocab.DIAGNOSIS_BY_CODE[diagnosis].behaviour,
                clinical={"age": phantom.clinical["age"], "sex": phantom.clinical["sex"]},
                load=load,
                lesion=phantom.lesion,
                synthetic=True,
            )
        )
    return cases
