"""Reads of the teaching app: sets, a reader's progress, the library's model opinions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connections, router
from django.db.models import QuerySet

from cases.models import Case
from inference_worker import vocabulary as vocab
from opinions.models import AnalysisRequest, ModelOpinion
from teaching import scoring
from teaching.models import Read, SetItem, TeachingNote, TeachingSet


def stable_key(*parts) -> str:
    """A per-(user, set, item) or per-(user, date, ...) order that never changes between requests."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


# --- browse mode: the serving model's opinion on a library case --------------------------


def serving_versions(task: str) -> set[tuple[str, str]]:
    from modelhub.services import serving_models

    return {(m.name, m.version) for m in serving_models(task)}


def answered_versions(opinion: ModelOpinion) -> set[tuple[str, str]]:
    return {(str(m.get("name")), str(m.get("version"))) for m in opinion.model_versions or []}


def latest_opinion(case: Case) -> ModelOpinion | None:
    return (
        ModelOpinion.objects.filter(request__case=case, request__status=AnalysisRequest.Status.DONE)
        .select_related("request")
        .order_by("-created_at", "-id")
        .first()
    )


def is_current(opinion: ModelOpinion | None, serving: set[tuple[str, str]]) -> bool:
    """Current: every serving version of the task answered (nothing serving: any opinion is)."""
    if opinion is None:
        return False
    return serving <= answered_versions(opinion)


@dataclass
class LibraryOpinion:
    opinion: ModelOpinion | None
    stale: bool
    pending: bool
    versions: list[dict] = field(default_factory=list)
    serving: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    truth_class: str | None = None
    model_class: str | None = None
    wrong: bool | None = None
    synthetic_training: bool = False
    out_of_domain: bool = False


def library_opinion(case: Case) -> LibraryOpinion:
    """The latest opinion on a library case, whether it is stale, and whether it was wrong."""
    from opinions.presentation import opinion_rows

    serving = serving_versions(case.task)
    opinion = latest_opinion(case)
    pending = AnalysisRequest.objects.filter(
        case=case, status__in=[AnalysisRequest.Status.QUEUED, AnalysisRequest.Status.RUNNING]
    ).exists()
    view = LibraryOpinion(
        opinion=opinion,
        stale=opinion is not None and not is_current(opinion, serving),
        pending=pending,
        serving=[f"{n} v{v}" for n, v in sorted(serving)],
    )
    if opinion is None:
        return view
    histo = getattr(case, "histopathology", None)
    view.versions = opinion.model_versions or []
    view.rows = opinion_rows(opinion.result or {})
    view.synthetic_training = opinion.synthetic_training
    view.out_of_domain = opinion.out_of_domain
    view.model_class = scoring.model_top_class(opinion.result or {}, case.task)
    if histo is not None:
        view.truth_class = vocab.task_class(case.task, histo.diagnosis)
        if view.truth_class and view.model_class:
            view.wrong = view.truth_class != view.model_class
    return view


def opinion_for_read(case: Case) -> ModelOpinion | None:
    """The opinion a read is compared with: the serving versions' if there is one, else the latest."""
    serving = serving_versions(case.task)
    opinions = (
        ModelOpinion.objects.filter(request__case=case, request__status=AnalysisRequest.Status.DONE)
        .select_related("request")
        .order_by("-created_at", "-id")
    )
    latest = None
    for opinion in opinions[:20]:
        latest = latest or opinion
        if is_current(opinion, serving):
            return opinion
    return latest


def cases_needing_analysis(cases: QuerySet | list[Case] | None = None) -> list[Case]:
    """Library cases with images whose latest opinion is not from the serving versions.

    Cases with an analysis already queued or running are left alone, so calling this
    twice queues nothing twice. Tasks with no serving model are skipped: nothing to run.
    """
    qs = Case.objects.filter(in_library=True, studies__series__instances__isnull=False).distinct()
    if cases is not None:
        qs = qs.filter(pk__in=[c.pk for c in cases])
    busy = set(
        AnalysisRequest.objects.filter(
            status__in=[AnalysisRequest.Status.QUEUED, AnalysisRequest.Status.RUNNING]
        ).values_list("case_id", flat=True)
    )
    serving_by_task: dict[str, set] = {}
    needing = []
    for case in qs.order_by("id"):
        if case.pk in busy:
            continue
        serving = serving_by_task.setdefault(case.task, serving_versions(case.task))
        if serving and not is_current(latest_opinion(case), serving):
            needing.append(case)
    return needing


# --- sets and progress -------------------------------------------------------------------


def visible_sets(user) -> QuerySet:
    qs = TeachingSet.objects.all()
    return qs if user.is_admin_role else qs.filter(is_active=True)


def reader_items(user, teaching_set: TeachingSet) -> list[SetItem]:
    """The set's items in this reader's order: as given, or shuffled once per reader."""
    items = list(teaching_set.items.select_related("case"))
    if teaching_set.order == TeachingSet.Order.SHUFFLED:
        items.sort(key=lambda it: stable_key(user.pk, teaching_set.pk, it.pk))
    return items


def kinds_for(teaching_set: TeachingSet) -> tuple[str, ...]:
    if teaching_set.mode == TeachingSet.Mode.ASSISTED:
        return (Read.Kind.UNAIDED, Read.Kind.AIDED)
    return (Read.Kind.QUIZ,)


def next_step(user, teaching_set: TeachingSet) -> tuple[SetItem, str] | None:
    """The next (item, kind) the reader has not committed; None when the set is done.

    In an assisted study each case is read unaided, then at once with the model.
    """
    committed = set(
        Read.objects.filter(
            reader=user, item__teaching_set=teaching_set, committed_at__isnull=False
        ).values_list("item_id", "kind")
    )
    for item in reader_items(user, teaching_set):
        for kind in kinds_for(teaching_set):
            if (item.pk, kind) not in committed:
                return item, kind
    return None


@dataclass
class Progress:
    done: int
    total: int
    correct: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def set_progress(user, teaching_set: TeachingSet) -> Progress:
    kinds = kinds_for(teaching_set)
    reads = Read.objects.filter(
        reader=user, item__teaching_set=teaching_set, committed_at__isnull=False, kind=kinds[-1]
    )
    return Progress(
        done=reads.count(), total=teaching_set.items.count(), correct=reads.filter(correct=True).count()
    )


def set_splits(teaching_set: TeachingSet) -> list[str]:
    """The cohort splits the set's cases belong to (what the set page says)."""
    from cohorts.models import CohortMembership

    found = set(
        CohortMembership.objects.filter(case__in=teaching_set.items.values("case")).values_list(
            "split", flat=True
        )
    )
    return [s for s in vocab.SPLITS if s in found]


def pending_case_ids_sql(user, connection) -> tuple[str, list] | None:
    """A SELECT of the cases the user has opened for reading but not committed (one
    column), or None when there can be none; settings.PENDING_READS names this, so that
    the library can ask for them in the same round trip as its data version."""
    # Fixed SQL text: building the same query through the ORM cost three times the CPU
    # of running it (0.38 against 0.11 ms in process, tests/bench/bench_library.py).
    # No ORDER BY: only the set is wanted.
    if user.pk is None:
        return None
    quote = connection.ops.quote_name
    column = {name: quote(Read._meta.get_field(name).column) for name in ("case", "reader", "committed_at")}
    sql = (
        f"SELECT {column['case']} FROM {quote(Read._meta.db_table)} "  # noqa: S608 - names from the model
        f"WHERE {column['reader']} = %s AND {column['committed_at']} IS NULL"
    )
    return sql, [user.pk]


def committed_reads(user=None, *, kinds=None) -> QuerySet:
    qs = Read.objects.filter(committed_at__isnull=False).select_related("case", "reader", "opinion")
    if user is not None:
        qs = qs.filter(reader=user)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.order_by("committed_at", "id")


def teaching_note(diagnosis: str) -> TeachingNote | None:
    return TeachingNote.objects.filter(diagnosis=diagnosis).first()


# --- answer hiding for other apps' pages ---------------------------------------------------

POLICY_PATH = "teaching.selectors.answers_hidden_for"


def answers_hidden_for(user, case) -> bool:
    """settings.VIEWER_ANSWER_POLICY: must pages hide `case`'s answers from `user` now?

    True while the user has an uncommitted read of the case, or an unaided study read
    whose aided read is not committed yet (the answer must wait for the second pass).
    The case page (cases:detail) should ask the same question before showing the
    histopathology and the model's opinion.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    connection = connections[router.db_for_read(Read)]
    with connection.cursor() as cursor:
        cursor.execute(_answers_hidden_sql(connection.vendor), [user.pk, case.pk, user.pk])
        return cursor.fetchone() is not None


@lru_cache(maxsize=4)
def _answers_hidden_sql(vendor: str) -> str:
    """The question as one statement, written out: the viewer asks it for every image
    file that carries answer text (real scanner files keep their study description), and
    the two ORM queries it was cost 0.6 ms of CPU per file against 0.1 ms for this
    (tests/bench/bench_wado.py --source real-j2k). An unaided read whose item has no
    aided read committed (or has no item) keeps the answer hidden, as before."""
    quote = connections[
        router.db_for_read(Read)
    ].ops.quote_name  # same quoting on every connection of a vendor
    table = quote(Read._meta.db_table)
    col = {
        name: quote(Read._meta.get_field(name).column)
        for name in ("reader", "case", "item", "kind", "committed_at")
    }
    return (
        f"SELECT 1 FROM {table} r WHERE r.{col['reader']} = %s AND r.{col['case']} = %s AND ("  # noqa: S608
        f"r.{col['committed_at']} IS NULL OR (r.{col['kind']} = '{Read.Kind.UNAIDED.value}' AND NOT EXISTS ("
        f"SELECT 1 FROM {table} a WHERE a.{col['reader']} = %s AND a.{col['item']} = r.{col['item']} "
        f"AND a.{col['kind']} = '{Read.Kind.AIDED.value}' AND a.{col['committed_at']} IS NOT NULL))) LIMIT 1"
    )


def viewer_link(case, *, hidden: bool) -> str | None:
    """The viewer page of `case`, when the viewer app is installed and may be linked.

    While reading, the link is given only once the viewer enforces this app's policy
    (settings.VIEWER_ANSWER_POLICY): the URL carries the case id, and without the
    policy a reader could drop ?answers=hidden or open the case page.
    """
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    if hidden and getattr(settings, "VIEWER_ANSWER_POLICY", "") != POLICY_PATH:
        return None
    try:
        url = reverse("viewer:case", args=[case.public_id])
    except NoReverseMatch:
        return None
    return f"{url}?answers=hidden" if hidden else url
