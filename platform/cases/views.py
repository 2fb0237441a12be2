"""Case library pages: thin views over cases.selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from accounts.permissions import visible_cases
from cases import library_cache, selectors, thumbnails
from cases.forms import LibraryFilterForm
from cases.models import Instance

PAGE_SIZE = 25


@require_GET
@login_required
def library(request):
    """The list is rendered as two fragments cached apart (cases.library_cache): the
    filter form, a function of the query string alone, and the results, keyed on who
    may see what, the query, the page and the data version. Neither holds anything
    about the user beyond what the key names. The form (a costly object to build) is
    only built when a fragment has to be rendered. The whole page around them is cached
    too, per user (library_cache.cached_page), with the CSRF token put in per request."""
    version, pending = library_cache.version_and_hidden(request.user)
    page_number = request.GET.get("page") or ""
    query = request.GET.copy()
    query.pop("page", None)
    query_items = sorted(query.lists())
    form = None

    def filter_form() -> LibraryFilterForm:
        nonlocal form
        if form is None:
            form = LibraryFilterForm(request.GET or None)
        return form

    def results() -> str:
        bound = filter_form()
        cases = selectors.library_cases(request.user, bound.filters() if bound.is_bound else None)
        if pending:
            cases = cases.exclude(pk__in=pending)
        page = Paginator(cases, PAGE_SIZE).get_page(page_number)
        return render_to_string("cases/_library_results.html", {"page": page, "query": query.urlencode()})

    results_key = library_cache.fragment_key(
        "results",
        user=request.user,
        query=query_items,
        pending=pending,
        page=page_number,
        version=version,
    )
    filters_key = library_cache.query_key("filters", query_items)

    def page(csrf_token: str) -> str:
        filters_html = library_cache.cached_fragment(
            filters_key, lambda: render_to_string("cases/_library_filters.html", {"form": filter_form()})
        )
        context = {
            # Our own templates' output, escaped when it was rendered.
            "filters_html": mark_safe(filters_html),  # noqa: S308
            "results_html": mark_safe(library_cache.cached_fragment(results_key, results)),  # noqa: S308
        }
        if csrf_token:
            context["csrf_token"] = csrf_token
        return render_to_string("cases/library.html", context, request)

    return library_cache.cached_page(request, (results_key, filters_key), page)


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
