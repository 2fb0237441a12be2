"""QIDO-RS searches (PS3.18 10.6) answered from the database rows, not the files.

Supported matching: single values, comma-separated UID lists, "*" / "?" wildcards on
text attributes, date ranges (StudyDate=20200101-20201231); keywords or tags (0020000D)
as keys; limit / offset. Unknown keys are ignored, as the standard allows. PatientID is
the case's opaque pseudonym (cases.pseudonyms), which ingest writes into every file as
PatientID and, as ANON^<pseudonym>, PatientName; never the case label, which readers
must not see while reading.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Count, Q, QuerySet
from django.http import QueryDict

from cases.pseudonyms import case_pseudonym, patient_name, pseudonym_for_label
from viewer import access

MAX_LIMIT = 1000

# DICOMweb key (keyword or tag) -> (tag, VR).
ATTRIBUTES = {
    "StudyDate": ("00080020", "DA"),
    "AccessionNumber": ("00080050", "SH"),
    "ModalitiesInStudy": ("00080061", "CS"),
    "Modality": ("00080060", "CS"),
    "StudyDescription": ("00081030", "LO"),
    "SeriesDescription": ("0008103E", "LO"),
    "PatientName": ("00100010", "PN"),
    "PatientID": ("00100020", "LO"),
    "StudyInstanceUID": ("0020000D", "UI"),
    "SeriesInstanceUID": ("0020000E", "UI"),
    "StudyID": ("00200010", "SH"),
    "SeriesNumber": ("00200011", "IS"),
    "InstanceNumber": ("00200013", "IS"),
    "SOPClassUID": ("00080016", "UI"),
    "SOPInstanceUID": ("00080018", "UI"),
    "BodyPartExamined": ("00180015", "CS"),
    "Rows": ("00280010", "US"),
    "Columns": ("00280011", "US"),
    "NumberOfStudyRelatedSeries": ("00201206", "IS"),
    "NumberOfStudyRelatedInstances": ("00201208", "IS"),
    "NumberOfSeriesRelatedInstances": ("00201209", "IS"),
    "RetrieveURL": ("00080190", "UR"),
    "AvailableTransferSyntaxUID": ("00083002", "UI"),
}
BY_TAG = {tag: keyword for keyword, (tag, _vr) in ATTRIBUTES.items()}


class BadQuery(ValueError):
    pass


def _keyword(key: str) -> str | None:
    if key in ATTRIBUTES:
        return key
    return BY_TAG.get(key.upper().replace(",", ""))


def _element(keyword: str, value) -> tuple[str, dict]:
    tag, vr = ATTRIBUTES[keyword]
    if value in (None, ""):
        return tag, {"vr": vr}
    if vr == "PN":
        return tag, {"vr": vr, "Value": [{"Alphabetic": str(value)}]}
    values = value if isinstance(value, list) else [value]
    return tag, {"vr": vr, "Value": values}


def dataset(**attributes) -> dict:
    return dict(sorted(_element(k, v) for k, v in attributes.items()))


def _text_q(field: str, value: str) -> Q:
    if "*" in value or "?" in value:
        pattern = "^" + re.escape(value).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        return Q(**{f"{field}__iregex": pattern})
    return Q(**{field: value})


def _pseudonym_q(field: str, value: str) -> Q:
    """PatientID matching on the pseudonym: it is a keyed hash of the label, not a column,
    so the matching case ids are found by hashing every label (about a microsecond each)."""
    from cases.models import Case

    if "*" in value or "?" in value:
        pattern = re.compile(
            "^" + re.escape(value).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.IGNORECASE
        )
        matches = pattern.match
    else:
        matches = value.__eq__
    ids = [pk for pk, label in Case.objects.values_list("pk", "label") if matches(pseudonym_for_label(label))]
    return Q(**{f"{field}__in": ids})


def _uid_q(field: str, value: str) -> Q:
    return Q(**{f"{field}__in": [v.strip() for v in value.split(",") if v.strip()]})


def _date(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text.strip(), "%Y%m%d").date()
    except ValueError as exc:
        raise BadQuery(f"bad date {text!r}") from exc


def _date_q(field: str, value: str) -> Q:
    if "-" not in value:
        return Q(**{field: _date(value)})
    start, _, end = value.partition("-")
    q = Q()
    if start:
        q &= Q(**{f"{field}__gte": _date(start)})
    if end:
        q &= Q(**{f"{field}__lte": _date(end)})
    return q


def _int_q(field: str, value: str) -> Q:
    try:
        return Q(**{field: int(value)})
    except ValueError as exc:
        raise BadQuery(f"bad number {value!r}") from exc


# keyword -> how to match it, per level (paths from that level's model).
STUDY_FILTERS = {
    "StudyInstanceUID": (_uid_q, "study_uid"),
    "PatientID": (_pseudonym_q, "case_id"),
    "StudyDate": (_date_q, "study_date"),
    "ModalitiesInStudy": (_text_q, "series__modality"),
    "Modality": (_text_q, "series__modality"),
}
SERIES_FILTERS = {
    "StudyInstanceUID": (_uid_q, "study__study_uid"),
    "SeriesInstanceUID": (_uid_q, "series_uid"),
    "Modality": (_text_q, "modality"),
    "SeriesNumber": (_int_q, "number"),
    "PatientID": (_pseudonym_q, "study__case_id"),
}
INSTANCE_FILTERS = {
    "StudyInstanceUID": (_uid_q, "series__study__study_uid"),
    "SeriesInstanceUID": (_uid_q, "series__series_uid"),
    "SOPInstanceUID": (_uid_q, "sop_uid"),
    "SOPClassUID": (_uid_q, "sop_class_uid"),
    "InstanceNumber": (_int_q, "instance_number"),
    "Modality": (_text_q, "series__modality"),
}


def _apply(qs: QuerySet, params: QueryDict, filters: dict) -> QuerySet:
    q = Q()
    for key, values in params.lists():
        keyword = _keyword(key)
        if keyword not in filters:
            continue
        match, field = filters[keyword]
        for value in values:
            if value:
                q &= match(field, value)
    return qs.filter(q).distinct() if q else qs


def _page(params: QueryDict) -> tuple[int, int]:
    try:
        offset = max(int(params.get("offset", 0)), 0)
        limit = min(max(int(params.get("limit", MAX_LIMIT)), 0), MAX_LIMIT)
    except ValueError as exc:
        raise BadQuery("limit and offset must be integers") from exc
    return offset, limit


def search_studies(user, params: QueryDict, *, base: str, hidden) -> list[dict]:
    offset, limit = _page(params)
    qs = _apply(access.visible_studies(user), params, STUDY_FILTERS)
    qs = (
        qs.select_related("case")
        .annotate(
            n_series=Count("series", distinct=True), n_instances=Count("series__instances", distinct=True)
        )
        .order_by("id")[offset : offset + limit]
    )
    studies = list(qs)
    modalities: dict[int, set[str]] = {}
    from cases.models import Series

    for study_id, modality in Series.objects.filter(study__in=studies).values_list("study_id", "modality"):
        modalities.setdefault(study_id, set()).add(modality)
    return [
        dataset(
            StudyInstanceUID=s.study_uid,
            StudyDate=s.study_date.strftime("%Y%m%d") if s.study_date else "",
            AccessionNumber="",
            StudyID="",
            PatientName=patient_name(case_pseudonym(s.case)),
            PatientID=case_pseudonym(s.case),
            StudyDescription="" if hidden(s.case) else s.description,
            ModalitiesInStudy=sorted(modalities.get(s.pk, ())),
            NumberOfStudyRelatedSeries=s.n_series,
            NumberOfStudyRelatedInstances=s.n_instances,
            RetrieveURL=f"{base}/studies/{s.study_uid}",
        )
        for s in studies
    ]


def search_series(user, params: QueryDict, *, base: str, hidden, study_uid: str | None = None) -> list[dict]:
    offset, limit = _page(params)
    qs = access.visible_series(user)
    if study_uid:
        qs = qs.filter(study__study_uid=study_uid)
    qs = _apply(qs, params, SERIES_FILTERS)
    qs = (
        qs.select_related("study__case")
        .annotate(n_instances=Count("instances"))
        .order_by("study_id", "number", "id")[offset : offset + limit]
    )
    return [
        dataset(
            StudyInstanceUID=s.study.study_uid,
            SeriesInstanceUID=s.series_uid,
            Modality=s.modality,
            SeriesNumber=s.number,
            SeriesDescription="" if hidden(s.study.case) else s.description,
            BodyPartExamined=s.body_part,
            NumberOfSeriesRelatedInstances=s.n_instances,
            RetrieveURL=f"{base}/studies/{s.study.study_uid}/series/{s.series_uid}",
        )
        for s in qs
    ]


def search_instances(
    user, params: QueryDict, *, base: str, study_uid: str | None = None, series_uid: str | None = None
) -> list[dict]:
    offset, limit = _page(params)
    qs = access.visible_instances(user)
    if study_uid:
        qs = qs.filter(series__study__study_uid=study_uid)
    if series_uid:
        qs = qs.filter(series__series_uid=series_uid)
    qs = _apply(qs, params, INSTANCE_FILTERS)
    rows = qs.order_by(
        "series__study_id", "series__number", "series_id", "slice_location", "instance_number", "id"
    )
    rows = rows.values(
        "sop_uid",
        "sop_class_uid",
        "instance_number",
        "rows",
        "columns",
        "transfer_syntax",
        "series__series_uid",
        "series__study__study_uid",
        "series__modality",
    )[offset : offset + limit]
    result = []
    for r in rows:
        study, series = r["series__study__study_uid"], r["series__series_uid"]
        result.append(
            dataset(
                StudyInstanceUID=study,
                SeriesInstanceUID=series,
                SOPInstanceUID=r["sop_uid"],
                SOPClassUID=r["sop_class_uid"],
                Modality=r["series__modality"],
                InstanceNumber=r["instance_number"],
                Rows=r["rows"],
                Columns=r["columns"],
                AvailableTransferSyntaxUID=r["transfer_syntax"],
                RetrieveURL=f"{base}/studies/{study}/series/{series}/instances/{r['sop_uid']}",
            )
        )
    return result
