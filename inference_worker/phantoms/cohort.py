"""Write a whole phantom cohort: image files, label maps, truth JSON and manifest.csv.

Diagnoses are class-balanced per task class (sacral: the six classes in turn;
radiographs: tumour/infection or metastasis/fracture in turn, the subtype then drawn
from the generator's own mix). Splits are assigned by a seeded shuffle with exact
counts (largest remainder). Cases in split "external" are made with the "external"
scanner profile and come from "Centre B"; all others from "Centre A".
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from inference_worker.manifest import write_manifest
from inference_worker.vocabulary import SACRAL_CLASSES, SPLITS, TASKS

DEFAULT_SPLITS = {"train": 0.7, "validation": 0.1, "test": 0.2}
CASE_PREFIX = {"sacral-ct": "Sacral", "bone-xray": "Bone", "spine-xray": "Spine"}


def case_seed(seed: int, index: int) -> int:
    """Independent, reproducible per-case seed."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def split_plan(n: int, splits: dict[str, float], seed: int) -> list[str]:
    """Exactly n split names in the given proportions, in a seeded random order."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {', '.join(unknown)}; use {', '.join(SPLITS)}")
    if any(v < 0 for v in splits.values()) or sum(splits.values()) <= 0:
        raise ValueError("split fractions must be non-negative and not all zero")
    total = sum(splits.values())
    names = list(splits)
    exact = np.array([splits[s] / total * n for s in names])
    counts = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[k] += 1
    plan = [name for name, c in zip(names, counts, strict=True) for _ in range(c)]
    np.random.default_rng([seed, 99]).shuffle(plan)
    return plan


def class_plan(task: str, n: int, seed: int) -> list[str]:
    """Class-balanced task classes, seeded order."""
    classes = list(SACRAL_CLASSES) if task == "sacral-ct" else list(TASKS[task]["classes"])
    plan = [classes[i % len(classes)] for i in range(n)]
    np.random.default_rng([seed, 98]).shuffle(plan)
    return plan


def _write_nifti_gz(path: Path, labels: np.ndarray, affine: np.ndarray) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(labels, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    # gzip with mtime=0 so identical seeds give byte-identical files.
    path.write_bytes(gzip.compress(img.to_bytes(), compresslevel=6, mtime=0))


def _png(path: Path, mask: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray((mask > 0).astype(np.uint8) * 255).save(path, optimize=False)


def _flag(value):
    return None if value is None else ("yes" if value else "no")


def _row(case_id, task, images, labels, clinical, diagnosis, split, centre, box=None) -> dict:
    row = {
        "case_id": case_id,
        "task": task,
        "images": ";".join(images),
        "labels": labels,
        "diagnosis": diagnosis,
        "confirmation": "synthetic",
        "certainty": "certain",
        "split": split,
        "centre": centre,
        "synthetic": "yes",
        "lesion_box": ",".join(str(int(v)) for v in box) if box is not None else None,
    }
    for key in ("age", "sex", "site", "site_group", "crp", "esr", "alp"):
        row[key] = clinical.get(key)
    for key in ("pain", "swelling", "trauma"):
        row[key] = _flag(clinical.get(key))
    return row


def make_case(job: dict) -> dict:
    """Generate and write one case; returns its manifest row. Runs in a worker process."""
    task, out, case_id, seed = job["task"], Path(job["out"]), job["case_id"], job["seed"]
    split, centre, profile = job["split"], job["centre"], job["profile"]
    folder = out / case_id
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"centre": centre, "task": task}
    if task == "sacral-ct":
        from inference_worker.phantoms import dicom_writer, sacral_ct

        if job["hybrid"]:
            from inference_worker.phantoms.hybrid_ct import generate_hybrid_case

            case = generate_hybrid_case(seed, job["diagnosis"])
        else:
            case = sacral_ct.generate_case(seed, job["diagnosis"], profile)
        dicom_writer.write_ct_series(case, folder / "ct", case_id, meta)
        _write_nifti_gz(folder / "labels.nii.gz", case.labels, case.affine)
        truth = {
            "clinical": case.clinical,
            "lesion": case.lesion,
            "profile": case.profile,
            "hybrid": case.hybrid,
        }
        clinical = {**case.clinical, "site": "sacrum", "site_group": "axial"}
        row = _row(
            case_id,
            task,
            [f"{case_id}/ct"],
            f"{case_id}/labels.nii.gz",
            clinical,
            case.diagnosis,
            split,
            centre,
        )
    elif task == "bone-xray":
        from inference_worker.phantoms import bone_xray, dicom_writer

        case = bone_xray.generate_case(seed, job["diagnosis"], profile)
        dicom_writer.write_radiograph(
            folder / "image.dcm",
            case.pixels,
            case.pixel_spacing,
            case_id,
            case.clinical,
            case.view,
            case.body_part,
            meta=meta,
            laterality=case.laterality,
        )
        _png(folder / "mask.png", case.mask)
        truth = {
            "clinical": case.clinical,
            "box": case.box,
            "profile": case.profile,
            "findings": case.findings,
        }
        row = _row(
            case_id,
            task,
            [f"{case_id}/image.dcm"],
            f"{case_id}/mask.png",
            case.clinical,
            case.diagnosis,
            split,
            centre,
            case.box,
        )
    elif task == "spine-xray":
        from inference_worker.phantoms import dicom_writer, spine_xray

        case = spine_xray.generate_case(seed, job["diagnosis"], profile)
        for index, view, code in ((0, "ap", "AP"), (1, "lateral", "LL")):
            dicom_writer.write_radiograph(
                folder / f"{view}.dcm",
                getattr(case, view),
                case.pixel_spacing,
                case_id,
                case.clinical,
                code,
                "LSPINE" if case.level.startswith("L") else "TSPINE",
                index=index,
                meta=meta,
            )
            _png(folder / f"{view}_mask.png", case.masks[view])
        truth = {"clinical": case.clinical, "boxes": case.boxes, "level": case.level, "profile": case.profile}
        clinical = {**case.clinical, "site": f"spine {case.level}", "site_group": "axial"}
        row = _row(
            case_id,
            task,
            [f"{case_id}/ap.dcm", f"{case_id}/lateral.dcm"],
            f"{case_id}/ap_mask.png",
            clinical,
            case.diagnosis,
            split,
            centre,
            case.boxes["ap"],
        )
    else:
        raise ValueError(f"unknown task {task!r}")
    truth.update(
        {"case_id": case_id, "diagnosis": case.diagnosis, "seed": seed, "split": split, "centre": centre}
    )
    (folder / "phantom.json").write_text(json.dumps(truth, indent=1, sort_keys=True, default=_jsonable))
    return row


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value))


def _diagnosis_for(task: str, task_class: str, seed: int) -> str:
    if task == "sacral-ct":
        return task_class
    if task == "spine-xray":
        return "metastasis" if task_class == "metastasis" else "osteoporotic_fracture"
    from inference_worker.phantoms.bone_xray import pick_diagnosis

    return pick_diagnosis(np.random.default_rng([seed, 7]), task_class)


def generate_cohort(
    task: str,
    n: int,
    seed: int,
    out: str | Path,
    splits: dict[str, float] | None = None,
    hybrid_fraction: float = 0.0,
    workers: int | None = None,
) -> Path:
    """Generate n cases of one task under out/; return the manifest path."""
    if task not in CASE_PREFIX:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(CASE_PREFIX)}")
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0.0 <= hybrid_fraction <= 1.0:
        raise ValueError("hybrid fraction must be between 0 and 1")
    if hybrid_fraction and task != "sacral-ct":
        raise ValueError("hybrid cases exist for sacral-ct only")
    if hybrid_fraction:
        try:
            import inference_worker.phantoms.hybrid_ct  # noqa: F401
        except ModuleNotFoundError:
            raise ValueError("hybrid sacral cases are not implemented yet in this build") from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split_names = split_plan(n, dict(splits or DEFAULT_SPLITS), seed)
    classes = class_plan(task, n, seed)
    hybrid_rng = np.random.default_rng([seed, 97])
    jobs = []
    for i in range(n):
        s = case_seed(seed, i)
        external = split_names[i] == "external"
        jobs.append(
            {
                "task": task,
                "out": str(out),
                "case_id": f"{CASE_PREFIX[task]}-s{seed}-{i + 1:04d}",
                "seed": s,
                "diagnosis": _diagnosis_for(task, classes[i], s),
                "split": split_names[i],
                "centre": "Centre B" if external else "Centre A",
                "profile": "external" if external else "default",
                "hybrid": bool(hybrid_rng.random() < hybrid_fraction) and not external,
            }
        )
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers > 1 and n > 2:
        # spawn, not fork: callers (Celery workers, pytest with torch loaded) may hold
        # threads, and forking a threaded process can deadlock the children.
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            rows = list(pool.map(make_case, jobs, chunksize=1))
    else:
        rows = [make_case(job) for job in jobs]
    manifest = out / "manifest.csv"
    write_manifest(manifest, rows)
    return manifest
