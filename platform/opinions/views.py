"""Second-opinion pages: upload, configure, live progress, result, report, my requests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.permissions import admin_required, roles_required, visible_cases
from inference_worker import vocabulary as vocab
from opinions import presentation, selectors, services
from opinions.forms import AnalysisRequestForm
from opinions.models import AnalysisRequest
from opinions.similar import similar_cases
from opinions.suggest import suggest_pipeline

referrers = roles_required(Role.REFERRER)


def _save_uploads(files, folder: Path) -> list[Path]:
    """Django has streamed each upload to disk already; move them into one folder."""
    paths = []
    for index, uploaded in enumerate(files):
        target = folder / f"{index:05d}"
        with target.open("wb") as handle:
            for chunk in uploaded.chunks():
                handle.write(chunk)
        paths.append(target)
    return paths


@require_http_methods(["GET", "POST"])
@referrers
def new_request(request):
    """Step 1: drop files, a folder or a zip. The images are de-identified and stored."""
    if request.method == "GET":
        from demo.training import models_notice

        return render(request, "opinions/new.html", {"models_notice": models_notice()})
    from ingest.errors import IngestError
    from ingest.services import ingest_paths

    files = request.FILES.getlist("files")
    if not files:
        return JsonResponse({"error": "Choose at least one file, folder or zip archive."}, status=400)
    folder = Path(tempfile.mkdtemp(prefix="request-"))
    try:
        paths = _save_uploads(files, folder)
        result = ingest_paths(paths, user=request.user, owner=request.user, in_library=False)
    except IngestError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    case = result.case
    return JsonResponse(
        {"case": str(case.public_id), "next": reverse("opinions:configure", args=[case.public_id])}
    )


@require_http_methods(["GET", "POST"])
@referrers
def configure(request, case_id):
    """Step 2: the question (suggested from the images), clinical data, optional reading."""
    case = get_object_or_404(visible_cases(request.user), public_id=case_id)
    suggestion = suggest_pipeline(case)
    if request.method == "POST":
        form = AnalysisRequestForm(request.POST)
        if form.is_valid():
            analysis = services.submit_analysis(
                case=case,
                pipeline=form.cleaned_data["pipeline"],
                user=request.user,
                clinical=form.clinical(),
                reader=form.reader(),
            )
            return redirect("opinions:detail", request_id=analysis.public_id)
    else:
        initial = {"pipeline": suggestion}
        if hasattr(case, "clinical"):
            initial.update({k: v for k, v in case.clinical.as_dict().items() if v is not None})
        form = AnalysisRequestForm(initial=initial)
    context = {
        "case": case,
        "form": form,
        "suggestion": suggestion,
        "suggestion_label": vocab.TASKS[suggestion]["label"],
    }
    return render(request, "opinions/configure.html", context)


def _visible_request(request, request_id) -> AnalysisRequest:
    return get_object_or_404(selectors.visible_requests(request.user), public_id=request_id)


@require_GET
@login_required
def detail(request, request_id):
    analysis = _visible_request(request, request_id)
    context = {"analysis": analysis, "progress": selectors.progress(analysis), "stages": selectors.STAGES}
    opinion = getattr(analysis, "opinion", None)
    if opinion is not None:
        result = opinion.result
        context.update(
            opinion=opinion,
            result=result,
            rows=presentation.opinion_rows(result),
            diagram=presentation.location_diagram(result.get("location")),
            similar=similar_cases(result, pipeline=analysis.pipeline, exclude_case_id=analysis.case_id),
            viewer_config=presentation.result_viewer_config(request, analysis),
        )
    return render(request, "opinions/detail.html", context)


@require_GET
@login_required
def status(request, request_id):
    analysis = _visible_request(request, request_id)
    return JsonResponse(selectors.progress(analysis))


@require_POST
@login_required
def retry(request, request_id):
    analysis = _visible_request(request, request_id)
    if analysis.status != AnalysisRequest.Status.FAILED:
        messages.info(request, "Only a failed analysis can be retried.")
        return redirect("opinions:detail", request_id=analysis.public_id)
    again = services.submit_analysis(
        case=analysis.case,
        pipeline=analysis.pipeline,
        user=request.user,
        clinical=analysis.clinical,
        reader=analysis.reader,
    )
    return redirect("opinions:detail", request_id=again.public_id)


@require_GET
@login_required
def my_requests(request):
    if not (request.user.is_admin_role or request.user.is_referrer):
        return render(request, "opinions/list.html", {"requests": [], "forbidden": True}, status=403)
    requests = selectors.visible_requests(request.user).order_by("-created_at")[:200]
    return render(request, "opinions/list.html", {"requests": requests})


def _finished_request(request, request_id) -> AnalysisRequest:
    """A request the user may see whose opinion is recorded; reports exist only then."""
    analysis = _visible_request(request, request_id)
    if not hasattr(analysis, "opinion"):
        raise Http404("The analysis has not finished.")
    return analysis


@require_GET
@login_required
def report_pdf(request, request_id):
    from opinions.report import render_report_pdf

    analysis = _finished_request(request, request_id)
    path = render_report_pdf(analysis)
    return FileResponse(
        path.open("rb"), content_type="application/pdf", filename=f"osteolens-{analysis.public_id}.pdf"
    )


@require_GET
@login_required
def report_dicom(request, request_id):
    """The same PDF as a DICOM Encapsulated PDF in the de-identified study, for a PACS."""
    from opinions.report_dicom import render_report_dicom

    analysis = _finished_request(request, request_id)
    path = render_report_dicom(analysis)
    return FileResponse(
        path.open("rb"), content_type="application/dicom", filename=f"osteolens-{analysis.public_id}.dcm"
    )


@require_http_methods(["GET", "POST"])
@admin_required
def promote(request, request_id):
    """Admins move a finished request into the teaching library once histology is known."""
    from opinions.forms_promote import PromoteForm

    analysis = _visible_request(request, request_id)
    if request.method == "POST":
        form = PromoteForm(request.POST)
        if form.is_valid():
            with transaction.atomic():
                services.promote_to_library(analysis, confirmed_by=request.user, **form.cleaned_data)
            messages.success(request, "The case is now in the teaching library.")
            return redirect("cases:detail", public_id=analysis.case.public_id)
    else:
        form = PromoteForm()
    return render(request, "opinions/promote.html", {"analysis": analysis, "form": form})
