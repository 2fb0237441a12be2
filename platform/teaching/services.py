"""Writes of the teaching app: build sets, start and commit reads, queue library analyses."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import Case
from cases.selectors import LibraryFilters, library_cases
from inference_worker import vocabulary as vocab
from teaching import artefacts, scoring, selectors
from teaching.models import DEFAULT_SPLITS, Read, SetItem, TeachingNote, TeachingSet

log = logging.getLogger(__name__)
# A timed read committed this long after the limit is still on time (page load, network).
LATE_GRACE_S = 5.0


def eligible_cases(user, task: str, *, filters: LibraryFilters | None = None, splits=DEFAULT_SPLITS):
    """Library cases a set may use: proven, in scope for the task, and in one of `splits`.

    `splits` empty means any split, training included (the set page then says so).
    """
    from cohorts.models import CohortMembership

    f = filters or LibraryFilters()
    f.task = task
    qs = library_cases(user, f).filter(in_library=True, histopathology__isnull=False)
    in_scope = [c for c in vocab.DIAGNOSIS_BY_CODE if vocab.task_class(task, c) is not None]
    qs = qs.filter(histopathology__diagnosis__in=in_scope)
    if splits:
        qs = qs.filter(Exists(CohortMembership.objects.filter(case=OuterRef("pk"), split__in=list(splits))))
    return qs


@transaction.atomic
def create_set(
    *,
    created_by,
    title: str,
    task: str,
    mode: str = TeachingSet.Mode.QUIZ,
    order: str = TeachingSet.Order.ORDERED,
    time_limit_s: int | None = None,
    description: str = "",
    splits: list[str] | None = None,
    filters: LibraryFilters | None = None,
    case_refs: list[str] | None = None,
    limit: int | None = None,
) -> tuple[TeachingSet, list[str]]:
    """A set from library filters, or by hand from case labels / public ids (in that order).

    Returns the set and the hand-picked references left out (unknown, out of scope for
    the task, or outside the allowed splits), so the page can say which and why.
    """
    if task not in vocab.TASKS:
        raise ValidationError(f"unknown task {task!r}")
    splits = list(DEFAULT_SPLITS if splits is None else splits)
    if any(s not in vocab.SPLITS for s in splits):
        raise ValidationError("unknown split")
    pool = eligible_cases(created_by, task, filters=filters, splits=splits)
    skipped: list[str] = []
    if case_refs:
        chosen: list[Case] = []
        for ref in case_refs:
            ref = ref.strip()
            if not ref:
                continue
            match = [c for c in pool.filter(label=ref)]
            if not match:
                try:
                    match = list(pool.filter(public_id=ref))
                except ValidationError:
                    match = []
            if match and match[0] not in chosen:
                chosen.append(match[0])
            elif not match:
                skipped.append(ref)
        cases = chosen
    else:
        cases = list(pool.order_by("id"))
    if limit:
        cases = cases[:limit]
    if not cases:
        raise ValidationError(
            "no eligible library case matches (proven, in scope for the task, allowed split)"
        )
    teaching_set = TeachingSet.objects.create(
        title=title,
        task=task,
        mode=mode,
        order=order,
        time_limit_s=time_limit_s or None,
        description=description,
        splits=splits,
        filters={k: v for k, v in asdict(filters).items() if v not in ("", None)} if filters else {},
        created_by=created_by,
    )
    SetItem.objects.bulk_create(
        [SetItem(teaching_set=teaching_set, case=case, position=i) for i, case in enumerate(cases)]
    )
    return teaching_set, skipped


def start_read(*, user, item: SetItem, kind: str) -> Read:
    """The reader's read of one set item; created (and its clock started) on first call only."""
    if kind == Read.Kind.AIDED:
        unaided_done = Read.objects.filter(
            reader=user, item=item, kind=Read.Kind.UNAIDED, committed_at__isnull=False
        ).exists()
        if not unaided_done:
            raise ValidationError("read the case unaided first")
    try:
        with transaction.atomic():
            read, _ = Read.objects.get_or_create(
                reader=user, item=item, kind=kind, defaults={"case": item.case}
            )
    except IntegrityError:  # two tabs opened at once: the other one won
        read = Read.objects.get(reader=user, item=item, kind=kind)
    return read


def start_daily_read(*, user, day: dt.date) -> Read | None:
    from teaching.spaced_repetition import case_of_the_day

    existing = Read.objects.filter(reader=user, kind=Read.Kind.DAILY, day=day).first()
    if existing:
        return existing
    case = case_of_the_day(user, day)
    if case is None:
        return None
    try:
        with transaction.atomic():
            return Read.objects.create(reader=user, case=case, kind=Read.Kind.DAILY, day=day)
    except IntegrityError:
        return Read.objects.get(reader=user, kind=Read.Kind.DAILY, day=day)


def _time_limit(read: Read) -> int | None:
    return read.item.teaching_set.time_limit_s if read.item_id else None


@transaction.atomic
def commit_read(
    *, read: Read, diagnosis: str, malignant: bool, certainty: str, region: dict | None = None, now=None
) -> Read:
    """Record the call once, time it server-side, and score it against the histopathology."""
    # Lock the read row alone: PostgreSQL refuses FOR UPDATE across the nullable item join.
    read = Read.objects.select_for_update().get(pk=read.pk)
    if read.committed_at is not None:
        raise ValidationError("this read is already committed")
    case = read.case
    if diagnosis not in scoring.task_classes(case.task):
        raise ValidationError("choose one of the task's classes")
    if certainty not in vocab.CERTAINTIES:
        raise ValidationError("choose a certainty")
    key = artefacts.key_image(case)
    clean = None
    if region:
        if key is None:
            raise ValidationError("this case has no image to mark")
        try:
            clean = scoring.clean_region(region, key.rows, key.columns)
        except scoring.RegionError as exc:
            raise ValidationError(str(exc)) from exc
    now = now or timezone.now()
    read.committed_at = now
    read.duration_s = round((now - read.started_at).total_seconds(), 3)
    limit = _time_limit(read)
    read.late = bool(limit and read.duration_s > limit + LATE_GRACE_S)
    read.diagnosis = diagnosis
    read.malignant = bool(malignant)
    read.certainty = certainty
    read.region = clean
    histo = getattr(case, "histopathology", None)
    if histo is not None:
        read.truth_diagnosis = histo.diagnosis
        read.truth_class = vocab.task_class(case.task, histo.diagnosis) or ""
        read.truth_malignant = histo.behaviour == "malignant"
        read.correct = read.truth_class == diagnosis if read.truth_class else None
        read.malignant_correct = read.truth_malignant == read.malignant
    opinion = selectors.opinion_for_read(case)
    read.opinion = opinion
    if opinion is not None:
        read.model_class = scoring.model_top_class(opinion.result or {}, case.task) or ""
        read.model_score = scoring.model_positive_score(opinion.result or {}, case.task)
    if clean and key is not None:
        reference, _ = artefacts.reference_mask(case, key, opinion)
        read.region_scores = scoring.region_scores(clean, reference, artefacts.heatmaps(opinion, key))
    read.save()
    return read


def save_teaching_note(*, diagnosis: str, text: str, user) -> TeachingNote:
    note, _ = TeachingNote.objects.update_or_create(
        diagnosis=diagnosis, defaults={"text": text, "updated_by": user}
    )
    return note


def analyse_library(cases=None, *, user=None) -> list:
    """Queue an analysis for every library case without a current opinion from the serving versions.

    Called when library cases are added and when a model version starts serving
    (teaching.signals). Returns the AnalysisRequests queued.
    """
    from inference_worker.queues import BACKFILL
    from opinions.services import submit_analysis

    queued = []
    for case in selectors.cases_needing_analysis(cases):
        # The backfill queue: a referring doctor's request sent meanwhile goes first.
        queued.append(submit_analysis(case=case, pipeline=case.task, user=user, queue=BACKFILL))
    if queued:
        log.info("queued %d library analyses", len(queued))
    return queued
