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
    """A SELECT of the cases whose answers are hidden from the user (one column), or None
    when there can be none; settings.PENDING_READS names this, so that the library can
    ask for them in the same round trip as its data version. The rule is the one of
    answers_hidden_for (hidden_case_ids_sql)."""
    return hidden_case_ids_sql(user, connection)


def hidden_case_ids_sql(user, connection) -> tuple[str, list] | None:
    """A SELECT of the ids of every case whose answers the user must not see now.

    - a case the user has opened for reading and not committed;
    - a case read unaided whose aided read is not committed (or that has no item);
    - every case of an assisted-reading study the user has begun and not finished
      (fewer committed reads than two per item): the answer of one case, seen between
      reads, would bias the rest of the study, and a case not opened yet must not be
      looked up in the library either.
    """
    # Fixed SQL text: building the same query through the ORM cost three times the CPU
    # of running it (0.38 against 0.11 ms in process, tests/bench/bench_library.py).
    # No ORDER BY: only the set is wanted.
    if user.pk is None:
        return None
    return _hidden_sql(connection.vendor), [user.pk, user.pk]


@lru_cache(maxsize=4)
def _hidden_sql(vendor: str) -> str:
    quote = connections[router.db_for_read(Read)].ops.quote_name
    reads, items, sets = (quote(m._meta.db_table) for m in (Read, SetItem, TeachingSet))
    r = {
        name: quote(Read._meta.get_field(name).column)
        for name in ("reader", "case", "item", "kind", "committed_at")
    }
    i = {name: quote(SetItem._meta.get_field(name).column) for name in ("case", "teaching_set", "id")}
    t = {name: quote(TeachingSet._meta.get_field(name).column) for name in ("id", "mode")}
    unaided, aided = Read.Kind.UNAIDED.value, Read.Kind.AIDED.value
    assisted = TeachingSet.Mode.ASSISTED.value
    kinds_per_item = len(kinds_for(TeachingSet(mode=assisted)))
    return (
        # noqa: S608 - names come from the models, values are parameters
        f"SELECT r.{r['case']} FROM {reads} r WHERE r.{r['reader']} = %s AND ("
        f"r.{r['committed_at']} IS NULL OR (r.{r['kind']} = '{unaided}' AND NOT EXISTS ("
        f"SELECT 1 FROM {reads} a WHERE a.{r['reader']} = r.{r['reader']} AND a.{r['item']} = r.{r['item']} "
        f"AND a.{r['kind']} = '{aided}' AND a.{r['committed_at']} IS NOT NULL))) "
        f"UNION SELECT si.{i['case']} FROM {items} si WHERE si.{i['teaching_set']} IN ("
        f"SELECT ri.{i['teaching_set']} FROM {reads} sr "
        f"JOIN {items} ri ON ri.{i['id']} = sr.{r['item']} "
        f"JOIN {sets} st ON st.{t['id']} = ri.{i['teaching_set']} "
        f"WHERE sr.{r['reader']} = %s AND st.{t['mode']} = '{assisted}' "
        f"GROUP BY ri.{i['teaching_set']} "
        f"HAVING COUNT(sr.{r['committed_at']}) < {kinds_per_item} * ("
        f"SELECT COUNT(*) FROM {items} x WHERE x.{i['teaching_set']} = ri.{i['teaching_set']}))"
    )


def hidden_case_ids(user) -> set[int]:
    """The ids of hidden_case_ids_sql, for pages that filter in Python."""
    connection = connections[router.db_for_read(Read)]
    query = hidden_case_ids_sql(user, connection) if getattr(user, "is_authenticated", False) else None
    if query is None:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(*query)
        return {row[0] for row in cursor.fetchall()}


def study_finished(user, teaching_set: TeachingSet) -> bool:
    """Every read of the set committed by this reader (what an assisted study waits for)."""
    return next_step(user, teaching_set) is None


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

    True while the case is one of hidden_case_ids_sql's: an uncommitted read, an unaided
    study read whose aided read is not committed, or any case of an assisted study the
    user has begun and not finished. Every page that can show a diagnosis, the
    histopathology, the label or a model opinion asks this (or uses that SELECT).
    """
    if not getattr(user, "is_authenticated", False):
        return False
    connection = connections[router.db_for_read(Read)]
    sql, params = hidden_case_ids_sql(user, connection)
    with connection.cursor() as cursor:
        # The viewer asks this for every image file that carries answer text.
        cursor.execute(
            f"SELECT 1 FROM ({sql}) hidden_cases WHERE hidden_cases.{_first_column(connection)} = %s LIMIT 1",  # noqa: S608
            [*params, case.pk],
        )
        return cursor.fetchone() is not None


def _first_column(connection) -> str:
    return connection.ops.quote_name(Read._meta.get_field("case").column)


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
