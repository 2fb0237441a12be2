"""Case of the day: one library case per resident per day, drawn from what they miss.

The algorithm (Leitner boxes per diagnosis, a classic spaced-repetition scheme):

1. History = the resident's committed reads *before* the day, oldest first. Each
   diagnosis (histopathology code) sits in a box 1-5: a miss sends it back to box 1, a
   correct call moves it up one box. A diagnosis never read is "new".
2. A diagnosis in box b is due again INTERVAL_DAYS[b] days after its last read.
3. The day's diagnosis: among due ones, the lowest box first, then the highest smoothed
   miss rate (misses + 1) / (reads + 2), then a hash of (user, day, diagnosis). If none is
   due, a new diagnosis (hash order); if none is new either, the one read longest ago.
4. The day's case of that diagnosis: never read by this resident first, else the one
   read longest ago; ties broken by a hash of (user, day, case).

Only reads before the day count, and every tie is broken by a hash, so the choice is a
pure function of (user, day, history): reloading the page or a second server gives the
same case all day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cases.models import Case
from inference_worker import vocabulary as vocab
from teaching.models import DEFAULT_SPLITS, Read
from teaching.selectors import stable_key

INTERVAL_DAYS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
MAX_BOX = 5


@dataclass
class DiagnosisState:
    box: int = 0  # 0 = never read
    reads: int = 0
    misses: int = 0
    last: dt.date | None = None

    @property
    def miss_rate(self) -> float:
        return (self.misses + 1) / (self.reads + 2)

    def due(self, day: dt.date) -> bool:
        return self.box > 0 and self.last is not None and (day - self.last).days >= INTERVAL_DAYS[self.box]


def diagnosis_states(history: list[tuple[str, bool, dt.date]]) -> dict[str, DiagnosisState]:
    """Leitner state per diagnosis from (diagnosis, correct, date) in commit order."""
    states: dict[str, DiagnosisState] = {}
    for diagnosis, correct, when in history:
        s = states.setdefault(diagnosis, DiagnosisState())
        s.reads += 1
        s.last = when
        if correct:
            s.box = min(MAX_BOX, s.box + 1)
        else:
            s.misses += 1
            s.box = 1
    return states


def choose_diagnosis(
    user_key, day: dt.date, available: list[str], states: dict[str, DiagnosisState]
) -> str | None:
    if not available:
        return None
    due = [d for d in available if d in states and states[d].due(day)]
    if due:
        return min(due, key=lambda d: (states[d].box, -states[d].miss_rate, stable_key(user_key, day, d)))
    new = [d for d in available if d not in states]
    if new:
        return min(new, key=lambda d: stable_key(user_key, day, d))
    return min(available, key=lambda d: (states[d].last, stable_key(user_key, day, d)))


def candidate_cases():
    """Held-out, proven library cases whose diagnosis is a class of their task."""
    from django.db.models import Exists, OuterRef

    from cohorts.models import CohortMembership

    qs = Case.objects.filter(in_library=True, histopathology__isnull=False).select_related("histopathology")
    held_out = qs.filter(
        Exists(CohortMembership.objects.filter(case=OuterRef("pk"), split__in=DEFAULT_SPLITS))
    )
    # A library with no cohort split (uploads promoted by hand) still gets a case of the day.
    pool = held_out if held_out.exists() else qs
    return [c for c in pool if vocab.task_class(c.task, c.histopathology.diagnosis)]


def case_of_the_day(user, day: dt.date) -> Case | None:
    reads = list(
        Read.objects.filter(reader=user, committed_at__date__lt=day, correct__isnull=False)
        .exclude(truth_diagnosis="")
        .order_by("committed_at", "id")
        .values_list("truth_diagnosis", "correct", "committed_at", "case_id")
    )
    # Cases of an unfinished assisted study (teaching.selectors.hidden_case_ids) neither
    # steer the choice (a missed unaided read would hint at its answer) nor are chosen
    # (the daily reveal would show the answer mid-study).
    from teaching.selectors import hidden_case_ids

    hidden = hidden_case_ids(user)
    reads = [row for row in reads if row[3] not in hidden]
    states = diagnosis_states([(d, c, when.date()) for d, c, when, _ in reads])
    cases = [c for c in candidate_cases() if c.pk not in hidden]
    by_diagnosis: dict[str, list[Case]] = {}
    for case in cases:
        by_diagnosis.setdefault(case.histopathology.diagnosis, []).append(case)
    diagnosis = choose_diagnosis(user.pk, day, sorted(by_diagnosis), states)
    if diagnosis is None:
        return None
    last_read = {case_id: when for _, _, when, case_id in reads}
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    return min(
        by_diagnosis[diagnosis],
        key=lambda c: (c.pk in last_read, last_read.get(c.pk, never), stable_key(user.pk, day, c.pk)),
    )
