"""Reads of the case library, shared by the pages, the API and the teaching sets."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.permissions import visible_cases
from cases.models import Case, Series


@dataclass
class LibraryFilters:
    q: str = ""
    task: str = ""
    diagnosis: str = ""
    behaviour: str = ""
    site: str = ""
    modality: str = ""
    sex: str = ""
    age_min: float | None = None
    age_max: float | None = None
    cohort: str = ""
    split: str = ""


def library_cases(user, filters: LibraryFilters | None = None) -> QuerySet:
    """Cases `user` may see, filtered, with the rows the list page shows joined in."""
    f = filters or LibraryFilters()
    qs = visible_cases(user).select_related("clinical", "histopathology")
    if f.q:
        qs = qs.filter(Q(label__icontains=f.q) | Q(clinical__site__icontains=f.q) | Q(history__icontains=f.q))
    if f.task:
        qs = qs.filter(task=f.task)
    if f.diagnosis:
        qs = qs.filter(histopathology__diagnosis=f.diagnosis)
    if f.behaviour:
        qs = qs.filter(histopathology__behaviour=f.behaviour)
    if f.site:
        qs = qs.filter(clinical__site__icontains=f.site)
    if f.sex:
        qs = qs.filter(clinical__sex=f.sex)
    if f.age_min is not None:
        qs = qs.filter(clinical__age__gte=f.age_min)
    if f.age_max is not None:
        qs = qs.filter(clinical__age__lte=f.age_max)
    if f.modality:
        # Exists, not a join: a case with many series must appear once.
        qs = qs.filter(Exists(Series.objects.filter(study__case=OuterRef("pk"), modality=f.modality)))
    if f.cohort or f.split:
        from cohorts.models import CohortMembership

        members = CohortMembership.objects.filter(case=OuterRef("pk"))
        if f.cohort:
            members = members.filter(cohort__name=f.cohort)
        if f.split:
            members = members.filter(split=f.split)
        qs = qs.filter(Exists(members))
    return qs


def case_series(case: Case) -> list[Series]:
    """The case's series with instance counts, in display order."""
    from django.db.models import Count

    return list(
        Series.objects.filter(study__case=case)
        .annotate(instance_count=Count("instances"))
        .order_by("study_id", "number", "id")
    )
