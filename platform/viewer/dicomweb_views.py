"""DICOMweb subset (PS3.18): QIDO-RS search, WADO-RS retrieve and metadata. Thin views.

Same object permissions as the pages (viewer.access); session or HTTP Basic
authentication (viewer.auth). Everything a user may not see answers 404.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from viewer import access, dicomjson, qido, wado_rs
from viewer.answers import answers_hidden, redacted_copy
from viewer.auth import image_auth
from viewer.models import InstanceMetadata
from viewer.selectors import STACK_ORDER

DICOM_JSON = "application/dicom+json"

dicomweb_auth = image_auth(browser=False)


def _base(request) -> str:
    return request.build_absolute_uri(reverse("dicomweb:studies")).removesuffix("/studies")


def _json(payload) -> HttpResponse:
    response = HttpResponse(json.dumps(payload, separators=(",", ":")), content_type=DICOM_JSON)
    response["Cache-Control"] = "private, no-cache"
    return response


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")


def _hidden(request):
    cache: dict[int, bool] = {}

    def hidden(case) -> bool:
        if case.pk not in cache:
            cache[case.pk] = answers_hidden(request, case)
        return cache[case.pk]

    return hidden


def _search(request, run):
    try:
        return _json(run())
    except qido.BadQuery as exc:
        return _plain(str(exc), 400)


@require_GET
@dicomweb_auth
def search_studies(request):
    return _search(
        request,
        lambda: qido.search_studies(request.user, request.GET, base=_base(request), hidden=_hidden(request)),
    )


@require_GET
@dicomweb_auth
def search_series(request, study=None):
    if study and not access.visible_studies(request.user).filter(study_uid=study).exists():
        raise Http404("No such study.")
    return _search(
        request,
        lambda: qido.search_series(
            request.user, request.GET, base=_base(request), hidden=_hidden(request), study_uid=study
        ),
    )


@require_GET
@dicomweb_auth
def search_instances(request, study=None, series=None):
    scope = access.visible_series(request.user) if series else access.visible_studies(request.user)
    if series and not scope.filter(series_uid=series, study__study_uid=study).exists():
        raise Http404("No such series.")
    if study and not series and not scope.filter(study_uid=study).exists():
        raise Http404("No such study.")
    return _search(
        request,
        lambda: qido.search_instances(
            request.user, request.GET, base=_base(request), study_uid=study, series_uid=series
        ),
    )


def _instances(request, study, series=None, sop=None) -> list:
    """The visible instances under the given UIDs in stack order (serving fields), or 404."""
    qs = access.visible_instances(request.user).filter(series__study__study_uid=study)
    if series:
        qs = qs.filter(series__series_uid=series)
    if sop:
        qs = qs.filter(sop_uid=sop)
    rows = list(
        qs.order_by("series__study_id", "series__number", "series_id", *STACK_ORDER).only(
            *access.SERVE_FIELDS
        )
    )
    if not rows:
        raise Http404("No such object.")
    return rows


def _case_hidden(request, rows) -> bool:
    # All rows share one study, hence one case.
    return answers_hidden(request, lambda: access.case_of(rows[0]))


@require_GET
@dicomweb_auth
def metadata(request, study, series=None, sop=None):
    """Study, series or instance metadata: cached DICOM JSON, streamed as one array."""
    rows = _instances(request, study, series, sop)
    try:
        body = dicomjson.metadata_body(rows, base=_base(request), hidden=_case_hidden(request, rows))
    except FileNotFoundError:
        raise Http404("A stored file is missing.") from None
    response = StreamingHttpResponse(dicomjson.chunks(body), content_type=DICOM_JSON)
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@dicomweb_auth
def retrieve(request, study, series=None, sop=None):
    """Whole instances as multipart/related; type="application/dicom", streamed."""
    rows = _instances(request, study, series, sop)
    accept = request.headers.get("Accept", "")
    if not wado_rs.acceptable_syntax(accept, wado_rs.DICOM, {r.transfer_syntax for r in rows}):
        return _plain("Instances are sent as stored (no transcoding); accept transfer-syntax=*.", 406)
    paths = [dicomjson.instance_path(r) for r in rows]
    if _case_hidden(request, rows):
        try:
            dicomjson.ensure_cached(rows)
        except FileNotFoundError:
            raise Http404("A stored file is missing.") from None
        revealing = set(
            InstanceMetadata.objects.filter(sha256__in=[r.sha256 for r in rows])
            .exclude(redacted_json="")
            .values_list("sha256", flat=True)
        )
        paths = [
            redacted_copy(path, r.sha256) if r.sha256 in revealing else path
            for path, r in zip(paths, rows, strict=True)
        ]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise Http404("A stored file is missing.")
    boundary = wado_rs.new_boundary()
    response = StreamingHttpResponse(
        wado_rs.file_parts(paths, boundary),
        content_type=wado_rs.multipart_content_type(wado_rs.DICOM, boundary),
    )
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@dicomweb_auth
def frames(request, study, series, sop, frame_list):
    instance = _instances(request, study, series, sop)[0]
    try:
        numbers = [int(n) for n in frame_list.split(",") if n.strip()]
    except ValueError:
        return _plain("Frame numbers must be integers.", 400)
    if not numbers:
        return _plain("No frame numbers.", 400)
    accept = wado_rs.accepted(request.headers.get("Accept", ""))
    # Raw octets only when every acceptable entry insists on them.
    want_raw = all(ptype == wado_rs.OCTETS or media == wado_rs.OCTETS for media, ptype, _ in accept) and bool(
        accept
    )
    path = dicomjson.instance_path(instance)
    try:
        parts = wado_rs.frames(path, numbers, want_raw=want_raw)
    except IndexError as exc:
        return _plain(str(exc), 404)
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    boundary = wado_rs.new_boundary()
    part_type = parts[0][0].split(";")[0]
    response = StreamingHttpResponse(
        wado_rs.byte_parts(parts, boundary), content_type=wado_rs.multipart_content_type(part_type, boundary)
    )
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
