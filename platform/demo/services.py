"""The demo: users, phantom cohorts for every task, demo models, and the processes.

Shared by the `seed_demo`, `train_demo_models` and `run_demo` commands.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.models import Role, Seniority, User

DEMO_PASSWORD = "osteolens-demo"
DEMO_USERS = (
    ("admin", Role.ADMIN, ""),
    ("junior", Role.RESIDENT, Seniority.JUNIOR),
    ("middle", Role.RESIDENT, Seniority.MIDDLE),
    ("senior", Role.RESIDENT, Seniority.SENIOR),
    ("referrer", Role.REFERRER, ""),
)


@dataclass(frozen=True)
class DemoCohort:
    task: str
    n: int
    seed: int

    @property
    def name(self) -> str:
        return f"demo-{self.task}"


# Sizes: enough for the demo models to learn each task, small enough for a 2-core machine.
DEMO_COHORTS = (
    DemoCohort("sacral-ct", 120, 2026),
    DemoCohort("bone-xray", 240, 2027),
    # 400 spine studies: 240 for training, as in docs/evaluation/radiographs.md, where the
    # B0 view models on vertebra crops reach held-out ensemble AUC >= 0.90.
    DemoCohort("spine-xray", 400, 2028),
)
DEMO_SPLITS = {"train": 0.6, "validation": 0.1, "test": 0.15, "external": 0.15}


def demo_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo"


@transaction.atomic
def ensure_demo_users() -> list[str]:
    created = []
    for username, role, seniority in DEMO_USERS:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={"role": role, "seniority": seniority, "email": f"{username}@demo.invalid"},
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = role == Role.ADMIN
            user.is_superuser = role == Role.ADMIN
            user.save()
            created.append(username)
    return created


def generate_phantoms(cohort: DemoCohort, log=print) -> Path:
    """Phantom DICOM + manifest for one task (kept: training reads them too)."""
    from inference_worker.phantoms.cohort import generate_cohort

    out = demo_dir() / cohort.task
    manifest = out / "manifest.csv"
    if manifest.exists():
        return manifest
    log(f"generating {cohort.n} {cohort.task} phantoms in {out}")
    return Path(generate_cohort(cohort.task, cohort.n, cohort.seed, out, splits=DEMO_SPLITS))


def seed(log=print) -> None:
    from cohorts.models import Cohort
    from cohorts.services import import_cohort

    created = ensure_demo_users()
    if created:
        log(f"created demo users: {', '.join(created)}")
    for cohort in DEMO_COHORTS:
        if Cohort.objects.filter(name=cohort.name).exists():
            log(f"{cohort.name}: already imported")
            continue
        manifest = generate_phantoms(cohort, log)
        summary = import_cohort(manifest, name=cohort.name)
        log(f"{cohort.name}: imported {len(summary.imported)} cases ({len(summary.skipped)} already there)")


def models_missing(task: str) -> bool:
    return not any((Path(settings.MODELS_DIR) / task).glob("*/*/card.json"))


def train_missing_models(log=print, *, quick: bool = False) -> list[str]:
    """Train the demo models of every task that has none, with our own training command."""
    trained = []
    for cohort in DEMO_COHORTS:
        if not models_missing(cohort.task):
            continue
        manifest = generate_phantoms(cohort, log)
        command = [
            sys.executable,
            "-m",
            "inference_worker",
            "train",
            cohort.task,
            "--data",
            str(manifest),
            "--out",
            str(settings.MODELS_DIR),
        ]
        if quick:
            command.append("--quick")
        log(f"training demo models for {cohort.task} (synthetic phantoms): {' '.join(command[1:])}")
        subprocess.run(command, check=True, cwd=settings.BASE_DIR)
        trained.append(cohort.task)
    return trained
