"""Admin page to import a cohort from an uploaded zip; logic in cohorts.services."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.permissions import admin_required
from cohorts.forms import ImportForm
from cohorts.services import import_uploaded_zip
from inference_worker.manifest import ManifestError
from ingest.errors import IngestError


@csrf_exempt
@admin_required
def import_view(request):
    if request.method == "POST":
        # Stream the archive to disk; must be chosen before the CSRF check reads the body.
        request.upload_handlers = [TemporaryFileUploadHandler(request)]
    return _import(request)


@csrf_protect
def _import(request):
    if request.method != "POST":
        return render(request, "cohorts/import.html", {"form": ImportForm()})
    form = ImportForm(request.POST, request.FILES)
    context = {"form": form}
    if not form.is_valid():
        return render(request, "cohorts/import.html", context, status=400)
    upload = form.cleaned_data["archive"]
    name = form.cleaned_data["name"] or Path(upload.name).stem
    try:
        summary = import_uploaded_zip(
            upload.temporary_file_path(), user=request.user, name=name, dry_run=form.cleaned_data["dry_run"]
        )
    except ManifestError as exc:
        context["errors"] = exc.errors
    except IngestError as exc:
        context["errors"] = [(0, exc.message)]
    else:
        context["summary"] = summary
        context["errors"] = summary.errors
    finally:
        upload.close()
    return render(request, "cohorts/import.html", context, status=400 if context["errors"] else 200)
