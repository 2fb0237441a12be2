"""Every URL x every role -> the expected status code.

Rows are read as: who asks (anonymous, a junior resident, the referring doctor who
owns the referral, another referring doctor, an admin) and what they get. A URL added
to the project without a row here (or in the per-app permission tests named in
COVERED_ELSEWHERE) fails `test_every_url_is_in_the_matrix`.
"""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse

from opinions import services
from opinions.models import AnalysisRequest
from tests.platform.factories import make_case
from tests.platform.opinions.results import sacral_result

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "rita", "dora", "dan", "alice")
LOGIN = 302
# (url name, argument builder, expected status per role in ROLES order)
MATRIX = [
    ("home", None, (LOGIN, 302, 302, 302, 302)),
    ("healthz", None, (200, 200, 200, 200, 200)),
    ("login", None, (200, 200, 200, 200, 200)),
    ("cases:library", None, (LOGIN, 200, 200, 200, 200)),
    ("cases:detail", "library_case", (LOGIN, 200, 404, 404, 200)),
    ("cases:detail", "referral_case", (LOGIN, 404, 200, 404, 200)),
    ("cases:series-thumbnail", "library_series", (LOGIN, 200, 404, 404, 200)),
    ("cases:series-thumbnail", "referral_series", (LOGIN, 404, 200, 404, 200)),
    ("ingest:upload", None, (LOGIN, 403, 200, 200, 200)),
    ("cohorts:import", None, (LOGIN, 403, 403, 403, 200)),
    ("demo:training", None, (LOGIN, 403, 403, 403, 200)),
    ("opinions:list", None, (LOGIN, 403, 200, 200, 200)),
    ("opinions:new", None, (LOGIN, 403, 200, 200, 200)),
    ("opinions:configure", "referral_case_id", (LOGIN, 403, 200, 404, 200)),
    ("opinions:detail", "request", (LOGIN, 404, 200, 404, 200)),
    ("opinions:status", "request", (LOGIN, 404, 200, 404, 200)),
    ("opinions:report-pdf", "request", (LOGIN, 404, 200, 404, 200)),
    ("opinions:report-dicom", "request", (LOGIN, 404, 200, 404, 200)),
    ("opinions:promote", "request", (LOGIN, 403, 403, 403, 200)),
    ("api-requests", None, (401, 403, 200, 200, 200)),
    ("api-request", "request", (401, 403, 200, 404, 200)),
    ("api-request-report", "request", (401, 403, 200, 404, 200)),
    ("api-request-report-dicom", "request", (401, 403, 200, 404, 200)),
    # The schema maps every endpoint: any signed-in user (token or session), nobody else.
    ("api-schema", None, (401, 200, 200, 200, 200)),
]
# POST-only endpoints: (name, args, expected per role)
POST_MATRIX = [
    ("opinions:retry", "request", (LOGIN, 404, 302, 404, 302)),
    ("logout", None, (302, 302, 302, 302, 302)),
]
# Apps whose own permission tests walk every one of their URLs by role.
COVERED_ELSEWHERE = {
    "viewer": "tests/platform/viewer/test_permissions.py",
    "dicomweb": "tests/platform/viewer/test_permissions.py",
    "teaching": "tests/platform/teaching/test_permissions.py",
}


@pytest.fixture
def world(dora, alice):
    library = make_case(label="lib", with_image=True)
    referral = make_case(label="ref", in_library=False, owner=dora, diagnosis=None, with_image=True)
    request = AnalysisRequest.objects.create(case=referral, requested_by=dora, pipeline="sacral-ct")
    services.record_result(sacral_result(str(request.public_id)))
    return {
        "library_case": [library.public_id],
        "referral_case": [referral.public_id],
        "referral_case_id": [referral.public_id],
        "library_series": [library.public_id, library.studies.get().series.get().series_uid],
        "referral_series": [referral.public_id, referral.studies.get().series.get().series_uid],
        "request": [request.public_id],
    }


def _clients(request, client_for):
    users = {name: (request.getfixturevalue(name) if name != "anonymous" else None) for name in ROLES}
    return {name: client_for(user) for name, user in users.items()}


@pytest.mark.parametrize("name, args, expected", MATRIX, ids=[f"{m[0]}:{m[1]}" for m in MATRIX])
def test_get_matrix(request, client_for, world, name, args, expected):
    url = reverse(name, args=world[args] if args else None)
    clients = _clients(request, client_for)
    got = tuple(clients[role].get(url).status_code for role in ROLES)
    assert got == expected, dict(zip(ROLES, got, strict=True))


@pytest.mark.parametrize("name, args, expected", POST_MATRIX, ids=[m[0] for m in POST_MATRIX])
def test_post_matrix(request, client_for, world, name, args, expected):
    url = reverse(name, args=world[args] if args else None)
    clients = _clients(request, client_for)
    got = []
    for role in ROLES:
        if name == "opinions:retry":
            AnalysisRequest.objects.filter(public_id=world["request"][0]).update(status="failed")
        got.append(clients[role].post(url).status_code)
    assert tuple(got) == expected, dict(zip(ROLES, got, strict=True))


def _named_urls(resolver=None, namespace=None):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            ns = pattern.namespace or namespace
            if ns == "admin":
                continue
            yield from _named_urls(pattern, ns)
        elif pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_is_in_the_matrix():
    from pathlib import Path

    listed = {m[0] for m in MATRIX} | {m[0] for m in POST_MATRIX}
    repo = Path(__file__).resolve().parents[2]
    missing = []
    for name in _named_urls():
        namespace = name.split(":")[0] if ":" in name else None
        if name in listed:
            continue
        if namespace in COVERED_ELSEWHERE and (repo / COVERED_ELSEWHERE[namespace]).exists():
            continue
        missing.append(name)
    assert missing == [], f"URLs without a permission row: {missing}"
