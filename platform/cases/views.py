"""Case library pages: thin views over cases.selectors."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET

from accounts.permissions import visible_cases
from cases import selectors, thumbnails
from cases.forms import LibraryFilterForm
from cases.models import Instance

PAGE_SIZE = 25


def _cases_in_open_reads(user) -> set[int]:
    """Cases the user is reading in a quiz right now: the library must not list them,
    or their diagnosis column would give the answer away (settings.PENDING_READS)."""
    path = getattr(settings, "PENDING_READS", "")
    return set(import_string(path)(user)) if path else set()


@require_GET
@login_required
def library(request):
    form = LibraryFilterForm(request.GET or None)
    cases = selectors.library_cases(request.user, form.filters() if form.is_bound else None)
    pending = _cases_in_open_reads(request.user)
    if pending:
        cases = cases.exclude(pk__in=pending)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/library.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


def _visible_case(request, public_id):
    return get_object_or_404(
        visible_cases(request.user).select_related("clinical", "histopathology"), public_id=public_id
    )


@require_GET
@login_required
def case_detail(request, public_id):
    case = _visible_case(request, public_id)
    series = selectors.case_series(case)
    memberships = case.memberships.select_related("cohort")
    from viewer.answers import answers_hidden

    hidden = answers_hidden(request, case)
    return render(
        request,
        "cases/detail.html",
        {
            "case": case,
            "clinical": getattr(case, "clinical", None),
            "histopathology": None if hidden else getattr(case, "histopathology", None),
            "answers_hidden": hidden,
            "series": series,
            "memberships": memberships,
        },
    )


@require_GET
@login_required
def series_thumbnail(request, public_id, series_uid):
    case = _visible_case(request, public_id)
    instances = list(
        Instance.objects.filter(series__study__case=case, series__series_uid=series_uid).only(
            "id", "sha256", "path"
        )
    )
    if not instances:
        raise Http404("No such series.")
    middle = instances[len(instances) // 2]
    response = FileResponse(thumbnails.thumbnail_for(middle).open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response
