"""The upload page: thin glue between the request and the upload service
(ingest.uploads), which stages the files on disk within the limits and hands them to
ingest.services.ingest_paths.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.models import Role
from accounts.permissions import roles_required, visible_cases
from cases.models import Case
from ingest import uploads
from ingest.errors import IngestError
from ingest.forms import UploadForm


def _refused(request, error: IngestError, status: int):
    return _failure(request, error, UploadForm(admin=_admin(request)), status=status)


@roles_required(Role.REFERRER)
@uploads.accepts_uploads(on_refused=_refused)
def upload(request):
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
        result = uploads.ingest_upload(
            files,
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


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _failure(request, error: IngestError, form, *, status: int = 400):
    if _wants_json(request):
        return JsonResponse({"error": error.message, "code": error.code}, status=status)
    return render(request, "ingest/upload.html", {"form": form, "error": error.message}, status=status)
