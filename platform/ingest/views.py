"""The upload page: thin glue between the request and ingest.services.ingest_paths.

Uploaded files are streamed to temporary files on disk (never held in memory), which
means the upload handlers must be chosen before anything reads the body, CSRF checking
included: hence csrf_exempt on the outer view and csrf_protect on the inner one, the
pattern Django documents for per-view upload handlers.
"""

from __future__ import annotations

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.models import Role
from accounts.permissions import roles_required, visible_cases
from cases.models import Case
from ingest import limits
from ingest.errors import IngestError
from ingest.forms import UploadForm
from ingest.readers import Input
from ingest.services import ingest_paths

# Multipart boundaries and headers on top of the files themselves.
_OVERHEAD = 1024 * 1024


class _LargeChunkUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file like its parent, in 1 MiB reads instead of
    64 KiB: every read goes through the WSGI server's buffer and Django's boundary
    search, whose per-call cost dominated parsing a batch of CT slices."""

    chunk_size = 1024 * 1024


@csrf_exempt
@roles_required(Role.REFERRER)
def upload(request):
    if request.method == "POST":
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limits.upload_max_bytes() + _OVERHEAD:
            # Refuse before reading a byte of the body.
            return _failure(
                request, IngestError(_too_large(), code="too_large"), UploadForm(admin=_admin(request))
            )
        request.upload_handlers = [_LargeChunkUploadHandler(request)]
    return _upload(request)


@csrf_protect
def _upload(request):
    admin = _admin(request)
    if request.method != "POST":
        return render(request, "ingest/upload.html", {"form": UploadForm(admin=admin)})
    form = UploadForm(request.POST, admin=admin)
    files = request.FILES.getlist("files")
    if not form.is_valid():
        return _failure(request, IngestError("Please correct the options below."), form)
    if not files:
        return _failure(
            request, IngestError("Choose at least one file or a zip archive.", code="empty"), form
        )
    options = form.cleaned_data
    case = None
    if options.get("case"):
        case = visible_cases(request.user).filter(public_id=options["case"]).first()
        if case is None:
            return _failure(
                request, IngestError("No such case of yours to add images to.", code="no_case"), form
            )
    try:
        result = ingest_paths(
            [Input(f.temporary_file_path(), f.name) for f in files],
            user=request.user,
            task=options.get("task") or None,
            label=options.get("label") or None,
            owner=case.owner if case else request.user,
            in_library=bool(admin and options.get("library")),
            cohort=options.get("cohort") if admin else None,
            split=options.get("split") or None,
            centre=options.get("centre") or "",
            case=case,
            source=Case.Source.UPLOAD,
        )
    except IngestError as exc:
        return _failure(request, exc, form)
    finally:
        for f in files:
            f.close()  # removes the temporary file now, not at garbage collection
    url = reverse("cases:detail", args=[result.case.public_id])
    if _wants_json(request):
        return JsonResponse(
            {
                "case": str(result.case.public_id),
                "label": result.case.label,
                "url": url,
                "studies": result.studies,
                "series": result.series,
                "instances": result.instances,
                "duplicates": result.duplicates,
                "warnings": result.warnings,
            },
            status=201 if case is None else 200,
        )
    return redirect(url)


def _admin(request) -> bool:
    return bool(request.user.is_authenticated and request.user.is_admin_role)


def _too_large() -> str:
    return f"The upload is too large (the limit is {limits.upload_max_bytes() / 1024**2:,.0f} MB)."


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _failure(request, error: IngestError, form):
    if _wants_json(request):
        return JsonResponse({"error": error.message, "code": error.code}, status=400)
    return render(request, "ingest/upload.html", {"form": form, "error": error.message}, status=400)
