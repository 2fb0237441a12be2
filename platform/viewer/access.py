"""Permission-checked lookups of stored images: every image endpoint asks these.

A row the user may not see is reported exactly like a row that does not exist (404),
so UIDs of other people's cases cannot be probed.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.permissions import case_visibility
from cases.models import Case, Instance, Series, Study


def _case_filter(user, prefix: str):
    # case_visibility() is a Q on Case; re-root it on the related model's path.
    q = case_visibility(user)
    if not q.children:
        return q
    from django.db.models import Q

    def reroot(node):
        if isinstance(node, Q):
            clone = Q()
            clone.connector, clone.negated = node.connector, node.negated
            clone.children = [reroot(child) for child in node.children]
            return clone
        key, value = node
        return (f"{prefix}__{key}", value)

    return reroot(q)


def visible_studies(user) -> QuerySet:
    return Study.objects.filter(_case_filter(user, "case"))


def visible_series(user) -> QuerySet:
    return Series.objects.filter(_case_filter(user, "study__case"))


def visible_instances(user) -> QuerySet:
    return Instance.objects.filter(_case_filter(user, "series__study__case"))


# What serving a file needs; the hot path of the viewer, so no other columns are read.
SERVE_FIELDS = ("id", "sop_uid", "sha256", "path", "size", "transfer_syntax", "series_id")


def instance_for(user, sop_uid: str, *, study_uid: str = "", series_uid: str = "") -> Instance:
    """The instance (only SERVE_FIELDS loaded, see case_of; with `redacted_json`), or 404."""
    from django.db.models import OuterRef, Subquery

    from viewer.models import InstanceMetadata

    # The cached entry's redacted text rides along (None: no entry yet), so deciding
    # whether hiding matters for this file costs no extra query.
    entry = InstanceMetadata.objects.filter(sha256=OuterRef("sha256")).values("redacted_json")[:1]
    qs = (
        visible_instances(user)
        .filter(sop_uid=sop_uid)
        .only(*SERVE_FIELDS)
        .annotate(redacted_json=Subquery(entry))
    )
    if series_uid:
        qs = qs.filter(series__series_uid=series_uid)
    if study_uid:
        qs = qs.filter(series__study__study_uid=study_uid)
    instance = qs.first()
    if instance is None:
        raise Http404("No such instance.")
    return instance


def case_for(user, public_id) -> Case:
    from accounts.permissions import visible_cases

    case = visible_cases(user).filter(public_id=public_id).first()
    if case is None:
        raise Http404("No such case.")
    return case


def case_of(instance: Instance) -> Case:
    return Case.objects.get(studies__series__instances=instance)
