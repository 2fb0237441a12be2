"""Teaching content for the demo: three sets and a history of reads per demo resident.

So quizzes, the reader and assisted studies, the dashboards' curves and the case of the
day have something to show from the first minute. The residents' calls are simulated
(seeded, so every demo looks the same): a senior is right more often than a junior,
reads are spread over the past three weeks, and the scoring is the platform's own
(teaching.services.commit_read), so dashboards compute exactly what real reads give.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inference_worker import vocabulary as vocab
from teaching.models import Read, TeachingSet
from teaching.services import commit_read, create_set, start_daily_read, start_read

SETS = (
    # (title, task, mode, order, time limit, description)
    (
        "Demo quiz: sacral tumours on CT",
        "sacral-ct",
        TeachingSet.Mode.QUIZ,
        TeachingSet.Order.ORDERED,
        None,
        "Read each sacral CT, commit your call, then compare it with the model and the histology.",
    ),
    (
        "Demo reader study: bone radiographs",
        "bone-xray",
        TeachingSet.Mode.QUIZ,
        TeachingSet.Order.SHUFFLED,
        120,
        "Timed reader study (2 minutes a case, shuffled per reader).",
    ),
    (
        "Demo assisted-reading study: spine radiographs",
        "spine-xray",
        TeachingSet.Mode.ASSISTED,
        TeachingSet.Order.SHUFFLED,
        None,
        "Each case read unaided first, then again with the model's opinion.",
    ),
)
# Chance that a simulated resident's call is right, by seniority.
ACCURACY = {"junior": 0.55, "middle": 0.7, "senior": 0.85}
HISTORY_DAYS = 21


def _admin() -> User | None:
    return User.objects.filter(username="admin").first()


def _residents() -> list[User]:
    return list(User.objects.filter(username__in=ACCURACY).order_by("username"))


def _call(rng: random.Random, read: Read, accuracy: float) -> tuple[str, bool]:
    """A simulated call: the truth with probability ``accuracy``, else another class."""
    from teaching import scoring

    classes = list(scoring.task_classes(read.case.task))
    histo = getattr(read.case, "histopathology", None)
    truth = vocab.task_class(read.case.task, histo.diagnosis) if histo else None
    if truth in classes and rng.random() < accuracy:
        call = truth
    else:
        call = rng.choice([c for c in classes if c != truth] or classes)
    malignant = histo.behaviour == "malignant" if histo else False
    if rng.random() > accuracy:
        malignant = not malignant
    return call, malignant


def _commit_in_past(read: Read, rng: random.Random, accuracy: float, when: dt.datetime) -> None:
    """Commit ``read`` as if it had been made at ``when`` (started a minute or two earlier)."""
    duration = dt.timedelta(seconds=rng.randint(25, 150))
    Read.objects.filter(pk=read.pk).update(started_at=when - duration)
    read.refresh_from_db()
    call, malignant = _call(rng, read, accuracy)
    certainty = rng.choice(vocab.CERTAINTIES)
    commit_read(read=read, diagnosis=call, malignant=malignant, certainty=certainty, now=when)


@transaction.atomic
def seed_teaching(log=print) -> str:
    """The three demo sets and the residents' reads; nothing when the sets exist already."""
    admin = _admin()
    if admin is None or TeachingSet.objects.filter(title__startswith="Demo ").exists():
        return ""
    sets = []
    for title, task, mode, order, limit, description in SETS:
        try:
            teaching_set, _ = create_set(
                created_by=admin,
                title=title,
                task=task,
                mode=mode,
                order=order,
                time_limit_s=limit,
                description=description,
                limit=12,
            )
        except Exception as exc:  # a library with no eligible case for a task: say which
            log(f"teaching: no set for {task}: {exc}")
            continue
        sets.append(teaching_set)
    reads = 0
    now = timezone.now()
    for resident in _residents():
        rng = random.Random(f"demo-reads-{resident.username}")
        accuracy = ACCURACY[resident.username]
        for teaching_set in sets:
            kinds = (
                (Read.Kind.UNAIDED, Read.Kind.AIDED)
                if teaching_set.mode == TeachingSet.Mode.ASSISTED
                else (Read.Kind.QUIZ,)
            )
            items = list(teaching_set.items.select_related("case__histopathology"))
            # Leave the last item of each set unread, so "continue" has something to do.
            for index, item in enumerate(items[:-1] if len(items) > 1 else items):
                when = now - dt.timedelta(days=HISTORY_DAYS - index % HISTORY_DAYS, hours=rng.randint(1, 9))
                for offset, kind in enumerate(kinds):
                    read = start_read(user=resident, item=item, kind=kind)
                    # The aided read comes later and, with the model's help, a bit better.
                    _commit_in_past(
                        read, rng, min(0.95, accuracy + 0.1 * offset), when + offset * dt.timedelta(minutes=5)
                    )
                    reads += 1
        # Cases of the day on alternate past days: the streak and the daily curve.
        for days_ago in range(HISTORY_DAYS, 0, -2):
            day = (now - dt.timedelta(days=days_ago)).date()
            read = start_daily_read(user=resident, day=day)
            if read is None or read.committed_at is not None:
                continue
            when = timezone.make_aware(dt.datetime.combine(day, dt.time(8, rng.randint(0, 59))))
            _commit_in_past(read, rng, accuracy, when)
            reads += 1
    return f"{len(sets)} set(s), {reads} read(s) for {len(_residents())} residents"
