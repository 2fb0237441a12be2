"""Reads behind the viewer page: the JSON config the bundle (static/viewer) expects."""

from __future__ import annotations

from django.db.models import F
from django.templatetags.static import static
from django.urls import reverse

from cases.models import Case, Instance, Series
from opinions.models import AnalysisRequest
from viewer import artefacts as artefacts_mod
from viewer.answers import HIDE_PARAM, HIDE_VALUE

# The stack order the worker also uses (opinions.services.case_inputs), so overlay
# slice k lies on image k.
STACK_ORDER = (F("slice_location").asc(nulls_last=True), F("instance_number").asc(nulls_last=True), "id")


def case_series(case: Case) -> list[Series]:
    return list(
        Series.objects.filter(study__case=case).select_related("study").order_by("study_id", "number", "id")
    )


def latest_opinion_request(user, case: Case) -> AnalysisRequest | None:
    """The newest finished analysis of `case` whose output `user` may see."""
    from opinions.selectors import visible_requests

    return (
        visible_requests(user)
        .filter(case=case, status=AnalysisRequest.Status.DONE, opinion__isnull=False)
        .select_related("opinion")
        .order_by("-finished_at", "-created_at", "-id")
        .first()
    )


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url)


def _series_entry(request, case: Case, series: Series, instances: list[dict], hidden: bool) -> dict:
    suffix = f"?{HIDE_PARAM}={HIDE_VALUE}" if hidden else ""
    wado = _absolute(request, reverse("viewer:wado", args=["0"]))[: -len("0")]
    middle = instances[len(instances) // 2] if instances else {}
    description = "" if hidden else series.description
    return {
        "series_uid": series.series_uid,
        "description": description or f"{series.modality} series {series.number or ''}".strip(),
        "modality": series.modality,
        "thumbnail_url": reverse("cases:series-thumbnail", args=[case.public_id, series.series_uid]),
        "image_ids": [f"wadouri:{wado}{i['sop_uid']}{suffix}" for i in instances],
        "is_volume": series.modality == "CT" and len(instances) > 1,
        # The viewer opens on the middle slice (usually the most telling of a CT) and
        # loads the rest outwards from it.
        "initial_index": len(instances) // 2,
        "window_center": middle.get("window_center"),
        "window_width": middle.get("window_width"),
        "photometric": series.photometric or "MONOCHROME2",
    }


def _overlays(request, analysis: AnalysisRequest, series: list[Series]) -> dict:
    found = artefacts_mod.artefacts_of(analysis, analysis.opinion)
    default_series = series[0].series_uid if series else None
    overlays: dict = {}

    def header_url(name: str) -> str:
        return _absolute(request, reverse("viewer:artefact-volume", args=[analysis.public_id, name]))

    # Overlays declared with their kind (opinions.overlays) are the viewer-ready ones;
    # guessing from names is only for results that declare none.
    declared = {n: a for n, a in found.items() if a.spec.get("kind") in ("labelmap", "heatmap")}
    for name, artefact in (declared or found).items():
        if artefact.path.suffix != ".npy":
            continue
        series_uid = artefact.spec.get("series_uid") or default_series
        if artefact.kind == "labelmap" and "labelmap" not in overlays:
            overlays["labelmap"] = {
                "url": header_url(name),
                "series_uid": series_uid,
                "structures": artefact.spec.get("structures") or artefacts_mod.DEFAULT_STRUCTURES,
            }
        elif artefact.kind == "heatmap":
            overlays.setdefault("heatmaps", {})[artefact.spec.get("overlay") or name] = {
                "url": header_url(name),
                "kind": artefact.spec.get("volume_kind", "volume"),
                "series_uid": series_uid,
            }
    marker = (analysis.opinion.result or {}).get("marker")
    if isinstance(marker, dict) and isinstance(marker.get("world"), list) and len(marker["world"]) == 3:
        overlays["marker"] = {
            "world": [float(v) for v in marker["world"]],
            "label": str(marker.get("label", "Lesion")),
        }
    return overlays


def viewer_config(request, case: Case, *, hidden: bool, analysis: AnalysisRequest | None = None) -> dict:
    """The bundle's config for `case`; with hidden=True nothing in it reveals an answer.

    Model output is shown only when answers are not hidden and the user may see the
    analysis (opinions.selectors.visible_requests: admins, the requesting referrer).
    `analysis`: show that finished request's output (the caller has checked that the
    user may see it) instead of the case's latest.
    """
    series = case_series(case)
    rows: dict[int, list[dict]] = {s.pk: [] for s in series}
    for row in (
        Instance.objects.filter(series__in=series)
        .order_by("series_id", *STACK_ORDER)
        .values("series_id", "sop_uid", "window_center", "window_width")
    ):
        rows[row["series_id"]].append(row)
    entries = [_series_entry(request, case, s, rows[s.pk], hidden) for s in series if rows[s.pk]]
    if hidden:
        analysis = None
    elif analysis is None or not hasattr(analysis, "opinion"):
        analysis = latest_opinion_request(request.user, case)
    config = {
        "wasm_base_path": _absolute(request, static("build/viewer/")),
        "series": entries,
        "show_model_output": analysis is not None,
        "answers_hidden": hidden,
        "overlays": _overlays(request, analysis, series) if analysis else {},
    }
    if analysis is not None:
        config["analysis"] = {
            "request_id": str(analysis.public_id),
            "synthetic_training": analysis.opinion.synthetic_training,
        }
    return config


def visible_analysis(user, request_id) -> AnalysisRequest | None:
    """A finished analysis with an opinion that `user` may see, else None."""
    from opinions.selectors import visible_requests

    return (
        visible_requests(user)
        .filter(public_id=request_id, status=AnalysisRequest.Status.DONE, opinion__isnull=False)
        .select_related("opinion", "case")
        .first()
    )
