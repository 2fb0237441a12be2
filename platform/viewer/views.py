"""Viewer pages, whole-file WADO-URI and analysis artefacts: thin views.

Every view answers 404 for what the user may not see (see viewer.access).
"""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.permissions import can_view_case
from viewer import access, artefacts, bundle, dicomjson, preview, selectors
from viewer.answers import answers_hidden, redacted_copy
from viewer.auth import image_auth
from viewer.files import stream_file
from viewer.models import InstanceMetadata

DICOM = "application/dicom"


@require_GET
@image_auth
def case_viewer(request, public_id):
    case = access.case_for(request.user, public_id)
    hidden = answers_hidden(request, case)
    config = selectors.viewer_config(request, case, hidden=hidden)
    title = f"Case {str(case.public_id)[:8]}" if hidden else case.label
    context = {
        "case": case,
        "config": config,
        "title": title,
        "preview": preview.preview_for(case, config),
        "preload_modules": bundle.preload_modules(),
    }
    return render(request, "viewer/viewer.html", context)


@require_GET
@image_auth
def case_viewer_config(request, public_id):
    case = access.case_for(request.user, public_id)
    config = selectors.viewer_config(request, case, hidden=answers_hidden(request, case))
    response = JsonResponse(config)
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@image_auth
def study_viewer(request, study_uid):
    study = access.visible_studies(request.user).select_related("case").filter(study_uid=study_uid).first()
    if study is None:
        raise Http404("No such study.")
    url = reverse("viewer:case", args=[study.case.public_id])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


def _reveals_answers(instance: access.StoredInstance) -> bool:
    """Whether the file holds free text that hiding would remove (entry made on demand)."""
    if instance.reveals_answers is not None:
        return instance.reveals_answers
    try:
        dicomjson.ensure_cached([instance])
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    return InstanceMetadata.objects.filter(sha256=instance.sha256).exclude(redacted_json="").exists()


def _serve_redacted(request, instance: access.StoredInstance) -> bool:
    # Both questions must be yes; the file's goes first. Once a file has its entry (made
    # here on its first request, about 3 ms, or ahead of time by dicomjson.ensure_cached)
    # it answers with no work, and files without revealing text then never ask the
    # policy. Asking the policy first was measured worse: its one or two queries (about
    # 2 ms) were then paid on every request for files without an entry.
    return _reveals_answers(instance) and answers_hidden(request, instance.case)


def serve_instance(request, instance: access.StoredInstance):
    """Stream one stored file; a redacted copy when answers are hidden and it has text.

    Files without such text are the same either way, so for them (once known) the
    per-file hot path stays a single query.
    """
    path = dicomjson.instance_path(instance)
    etag = instance.sha256
    if _serve_redacted(request, instance):
        path, etag = redacted_copy(path, instance.sha256), f"{instance.sha256}-redacted"
    return stream_file(request, path, etag_value=etag, content_type=DICOM, filename=f"{instance.sop_uid}.dcm")


def _check_transfer_syntax(request, instance) -> HttpResponse | None:
    # This server does not transcode: a client asking for another syntax is told so.
    wanted = request.GET.get("transferSyntax", "")
    if wanted and wanted != "*" and wanted != instance.transfer_syntax:
        return HttpResponse(
            f"Stored as {instance.transfer_syntax}; transcoding is not offered.",
            status=406,
            content_type="text/plain",
        )
    return None


@require_GET
@image_auth
def wado_instance(request, sop_uid):
    """wadouri:<this URL>: the whole stored DICOM file of one instance."""
    instance = access.instance_for(request.user, sop_uid)
    return _check_transfer_syntax(request, instance) or serve_instance(request, instance)


@require_GET
@image_auth
def wado_uri(request):
    """The standard query form (PS3.18 WADO-URI), DICOM content only."""
    params = request.GET
    if params.get("requestType") != "WADO" or not params.get("objectUID"):
        return HttpResponse(
            "requestType=WADO and objectUID are required.", status=400, content_type="text/plain"
        )
    content_type = params.get("contentType", DICOM)
    if DICOM not in [c.strip().split(";")[0] for c in content_type.split(",")]:
        return HttpResponse(
            "Only contentType=application/dicom is offered.", status=406, content_type="text/plain"
        )
    instance = access.instance_for(
        request.user,
        params["objectUID"],
        study_uid=params.get("studyUID", ""),
        series_uid=params.get("seriesUID", ""),
    )
    return _check_transfer_syntax(request, instance) or serve_instance(request, instance)


def _artefact(request, request_id, name) -> artefacts.Artefact:
    analysis = selectors.visible_analysis(request.user, request_id)
    if (
        analysis is None
        or not can_view_case(request.user, analysis.case)
        or answers_hidden(request, analysis.case)
    ):
        raise Http404("No such artefact.")
    artefact = artefacts.artefacts_of(analysis, analysis.opinion).get(name)
    if artefact is None:
        raise Http404("No such artefact.")
    return artefact


@require_GET
@image_auth
def artefact_file(request, request_id, name):
    """The artefact file as the worker wrote it."""
    artefact = _artefact(request, request_id, name)
    content_type = {".npy": "application/octet-stream", ".png": "image/png", ".json": "application/json"}.get(
        artefact.path.suffix, "application/octet-stream"
    )
    # Artefact files are written once per request id, so their modification time and
    # size identify a version well enough for revalidation.
    stat = _stat(artefact.path)
    return stream_file(
        request, artefact.path, etag_value=f"{stat.st_mtime_ns:x}-{stat.st_size:x}", content_type=content_type
    )


def _stat(path):
    try:
        return path.stat()
    except FileNotFoundError:
        raise Http404("The artefact file is missing.") from None


@require_GET
@image_auth
def artefact_volume(request, request_id, name):
    """The overlay volume header the viewer bundle reads (static/viewer/volumeio.js)."""
    artefact = _artefact(request, request_id, name)
    shape, dtype, _offset = artefacts.npy_layout(artefact.path)
    data_url = request.build_absolute_uri(reverse("viewer:artefact-data", args=[request_id, name]))
    response = JsonResponse({"shape": list(shape), "dtype": dtype, "data_url": data_url})
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@image_auth
def artefact_data(request, request_id, name):
    """The volume's raw little-endian array (the .npy file without its header)."""
    from django.http import FileResponse

    artefact = _artefact(request, request_id, name)
    _shape, _dtype, offset = artefacts.npy_layout(artefact.path)
    handle = artefact.path.open("rb")
    handle.seek(offset)
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Cache-Control"] = "private, no-cache"
    return response
