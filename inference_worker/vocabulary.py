"""Controlled vocabulary shared by the web side and the worker.

One list of diagnoses, with the WHO behaviour each implies by default and the task
classes each maps to. Kept Django-free so phantoms, training and import agree.
"""

from __future__ import annotations

from dataclasses import dataclass

BEHAVIOURS = ("benign", "intermediate", "malignant")
SPLITS = ("train", "validation", "test", "external")
SEXES = ("M", "F")
SITE_GROUPS = ("axial", "appendicular")
CERTAINTIES = ("possible", "probable", "almost_certain", "certain")
CONFIRMATIONS = (
    "biopsy",
    "resection",
    "culture",  # microbiology, for infection
    "mri_follow_up",
    "ct_follow_up",
    "clinical_follow_up",
    "synthetic",  # phantom: the label is the generator's ground truth
)


@dataclass(frozen=True)
class Diagnosis:
    code: str
    label: str
    behaviour: str  # default WHO behaviour
    group: str  # "tumour", "infection", "fracture", "other"


DIAGNOSES: tuple[Diagnosis, ...] = (
    # Sacral tumour classes of seed 001.
    Diagnosis("metastasis", "Metastasis", "malignant", "tumour"),
    Diagnosis("chondrosarcoma", "Chondrosarcoma", "malignant", "tumour"),
    Diagnosis("osteosarcoma", "Osteosarcoma", "malignant", "tumour"),
    Diagnosis("chordoma", "Chordoma", "malignant", "tumour"),
    Diagnosis("neurogenic_tumour", "Neurogenic tumour", "benign", "tumour"),
    Diagnosis("giant_cell_tumour", "Giant cell tumour", "intermediate", "tumour"),
    # Further primary bone tumours seen on radiographs (seed 003).
    Diagnosis("ewing_sarcoma", "Ewing sarcoma", "malignant", "tumour"),
    Diagnosis("osteochondroma", "Osteochondroma", "benign", "tumour"),
    Diagnosis("enchondroma", "Enchondroma", "benign", "tumour"),
    Diagnosis("non_ossifying_fibroma", "Non-ossifying fibroma", "benign", "tumour"),
    Diagnosis("aneurysmal_bone_cyst", "Aneurysmal bone cyst", "benign", "tumour"),
    Diagnosis("simple_bone_cyst", "Simple bone cyst", "benign", "tumour"),
    Diagnosis("osteoid_osteoma", "Osteoid osteoma", "benign", "tumour"),
    # Bone infection (seed 003).
    Diagnosis("osteomyelitis", "Osteomyelitis", "benign", "infection"),
    Diagnosis("tuberculosis", "Bone tuberculosis", "benign", "infection"),
    # Vertebral lesions (seed 004).
    Diagnosis("osteoporotic_fracture", "Benign osteoporotic fracture", "benign", "fracture"),
    Diagnosis("other", "Other", "benign", "other"),
)

DIAGNOSIS_BY_CODE = {d.code: d for d in DIAGNOSES}

# The classes each imaging task predicts, in model output order.
SACRAL_CLASSES = (
    "metastasis",
    "chondrosarcoma",
    "osteosarcoma",
    "chordoma",
    "neurogenic_tumour",
    "giant_cell_tumour",
)
TASKS = {
    "sacral-ct": {
        "label": "Sacral tumour type and malignancy (CT)",
        "modalities": ("CT",),
        "classes": SACRAL_CLASSES,
    },
    "bone-xray": {
        "label": "Primary bone tumour vs bone infection (radiograph)",
        "modalities": ("CR", "DX", "OT"),
        "classes": ("tumour", "infection"),
    },
    "spine-xray": {
        "label": "Vertebral metastasis vs benign fracture (spine radiograph)",
        "modalities": ("CR", "DX", "OT"),
        "classes": ("fracture", "metastasis"),
    },
}


def task_class(task: str, diagnosis: str) -> str | None:
    """The class a confirmed diagnosis counts as for one task, or None if out of scope."""
    if task == "sacral-ct":
        return diagnosis if diagnosis in SACRAL_CLASSES else None
    group = DIAGNOSIS_BY_CODE[diagnosis].group if diagnosis in DIAGNOSIS_BY_CODE else None
    if task == "bone-xray":
        return group if group in ("tumour", "infection") else None
    if task == "spine-xray":
        if diagnosis == "metastasis":
            return "metastasis"
        return "fracture" if group == "fracture" else None
    raise ValueError(f"unknown task {task!r}")


def is_malignant(diagnosis: str) -> bool:
    return DIAGNOSIS_BY_CODE[diagnosis].behaviour == "malignant"
