"""The demo: users, the phantom library for every task, and its sizes.

Shared by the `seed_demo`, `train_demo_models` and `run_demo` commands. The library and
the models' training phantoms are separate cohorts (different seeds): the library opens
in a minute because it is small, the training phantoms are made in the background by
the inference worker (demo.training), and no library case was seen in training, so the
models' opinions on the library are honest held-out answers.

Where the time went before: seeding ~760 phantoms took ~30 min on 2 cores, almost all
of it phantom generation (measured: ~2 s per sacral CT, ~0.3 s per bone and ~0.5 s per
spine radiograph with 2 processes, idle machine; importing costs ~0.3 s per sacral case
and ~0.05 s per radiograph).
"""

from __future__ import annotations

import os
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
TASKS = ("sacral-ct", "bone-xray", "spine-xray")


@dataclass(frozen=True)
class DemoCohort:
    task: str
    n: int
    seed: int

    @property
    def name(self) -> str:
        return f"demo-{self.task}"


# The library residents browse and read: every case held out from training, so all of
# it is usable by quizzes and studies (which draw from test/external splits).
LIBRARY_SIZES = {
    "standard": {"sacral-ct": 12, "bone-xray": 24, "spine-xray": 24},
    "small": {"sacral-ct": 3, "bone-xray": 4, "spine-xray": 4},  # tests and CI
}
LIBRARY_SEEDS = {"sacral-ct": 3026, "bone-xray": 3027, "spine-xray": 3028}
LIBRARY_SPLITS = {"test": 0.7, "external": 0.3}

# The models' training phantoms. Full: enough for the demo models to learn each task
# (400 spine studies: 240 for training, as in docs/evaluation/radiographs.md, where the
# B0 view models on vertebra crops reach held-out ensemble AUC >= 0.90). Quick: the
# sizes the integration tests train their tiny models on.
TRAINING_SIZES = {
    "full": {"sacral-ct": 120, "bone-xray": 240, "spine-xray": 400},
    "quick": {"sacral-ct": 8, "bone-xray": 16, "spine-xray": 16},
}
TRAINING_SEEDS = {"sacral-ct": 2026, "bone-xray": 2027, "spine-xray": 2028}
TRAINING_SPLITS = {
    "full": {"train": 0.6, "validation": 0.1, "test": 0.15, "external": 0.15},
    "quick": {"train": 0.5, "validation": 0.25, "test": 0.25},
}

# Environment switches, so `make demo` and the CI test can pick sizes without flags.
SIZE_ENV = "OSTEOLENS_DEMO_SIZE"  # "standard" (default) or "small"
QUICK_ENV = "OSTEOLENS_DEMO_QUICK"  # "1": train with the quick recipe


class DemoError(Exception):
    """A demo set-up problem with a message meant for the person running the command."""


def library_size(explicit: str | None = None) -> str:
    size = explicit or os.environ.get(SIZE_ENV) or "standard"
    if size not in LIBRARY_SIZES:
        raise DemoError(f"{SIZE_ENV}={size!r}: use one of {', '.join(LIBRARY_SIZES)}")
    return size


def quick_from_env() -> bool:
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise DemoError(f"{QUICK_ENV}={value!r}: use 1 or 0")


def library_cohorts(size: str) -> list[DemoCohort]:
    return [DemoCohort(task, LIBRARY_SIZES[size][task], LIBRARY_SEEDS[task]) for task in TASKS]


def training_cohort(task: str, quick: bool) -> DemoCohort:
    recipe = "quick" if quick else "full"
    return DemoCohort(task, TRAINING_SIZES[recipe][task], TRAINING_SEEDS[task])


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


def make_phantoms(task: str, n: int, seed: int, out: Path, splits: dict) -> Path:
    """Phantom DICOM + manifest by our phantoms command (kept, so a rerun reuses them).

    A child process: the generator runs a process pool, which must not be spawned from
    inside a Celery or test process.
    """
    from inference_worker.demo_training import make_phantoms as make

    try:
        return make(task, n, seed, out, splits)
    except RuntimeError as exc:
        raise DemoError(str(exc)) from exc


def seed_library(size: str, log=print) -> None:
    from cohorts.models import Cohort
    from cohorts.services import import_cohort

    for cohort in library_cohorts(size):
        if Cohort.objects.filter(name=cohort.name).exists():
            log(f"{cohort.name}: already imported")
            continue
        log(f"{cohort.name}: making {cohort.n} phantoms")
        out = demo_dir() / "library" / cohort.task
        manifest = make_phantoms(cohort.task, cohort.n, cohort.seed, out, LIBRARY_SPLITS)
        summary = import_cohort(manifest, name=cohort.name)
        if summary.errors:
            raise DemoError(f"{cohort.name}: {len(summary.errors)} row(s) failed: {summary.errors[:3]}")
        log(f"{cohort.name}: imported {len(summary.imported)} cases")


def seed(log=print, *, size: str | None = None) -> None:
    """Users, the library and the teaching content; each part only once."""
    from demo import teaching_seed

    size = library_size(size)
    created = ensure_demo_users()
    if created:
        log(f"created demo users: {', '.join(created)}")
    seed_library(size, log)
    made = teaching_seed.seed_teaching(log)
    if made:
        log(f"teaching: {made}")


def models_missing(task: str) -> bool:
    return not any((Path(settings.MODELS_DIR) / task).glob("*/*/card.json"))
