"""Second-opinion pages: upload, configure, live progress, result, report, my requests."""

from __future__ import annotations

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
from ingest import uploads
from opinions import presentation, selectors, services
from opinions.forms import AnalysisRequestForm
from opinions.models import AnalysisRequest
from opinions.similar import similar_cases
from opinions.suggest import suggest_pipeline

referrers = roles_required(Role.REFERRER)


def _upload_refused(request, error, status: int):
    return JsonResponse({"error": error.message, "code": error.code}, status=status)


@require_http_methods(["GET", "POST"])
@referrers
@uploads.accepts_uploads(on_refused=_upload_refused)
def new_request(request):
    """Step 1: drop files, a folder or a zip. The images are de-identified and stored."""
    if request.method == "GET":
        from demo.training import models_notice

        return render(request, "opinions/new.html", {"models_notice": models_notice()})
    from ingest.errors import IngestError

    try:
        result = uploads.ingest_upload(
            request.FILES.getlist("files"), user=request.user, owner=request.user, in_library=False
        )
    except IngestError as exc:
        return _upload_refused(request, exc, 400)
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
    # A lost analysis (its worker gone) is failed here, with the reason, not "running".
    services.fail_if_lost(analysis)
    return JsonResponse(selectors.progress(analysis))


@require_POST
@login_required
def retry(request, request_id):
    analysis = _visible_request(request, request_id)
    services.fail_if_lost(analysis)
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
    if analysis.status != AnalysisRequest.Status.DONE:
        return _promote_refused(request, analysis)
    if request.method == "POST":
        form = PromoteForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    services.promote_to_library(analysis, confirmed_by=request.user, **form.cleaned_data)
            except services.NotPromotable:
                # The status changed between the check above and the row lock (a retry).
                return _promote_refused(request, analysis)
            messages.success(request, "The case is now in the teaching library.")
            return redirect("cases:detail", public_id=analysis.case.public_id)
    else:
        form = PromoteForm()
    return render(request, "opinions/promote.html", {"analysis": analysis, "form": form})


def _promote_refused(request, analysis: AnalysisRequest):
    messages.error(
        request,
        f"Only a finished analysis can be promoted to the library; this one is {analysis.get_status_display().lower()}.",
    )
    return redirect("opinions:detail", request_id=analysis.public_id)
