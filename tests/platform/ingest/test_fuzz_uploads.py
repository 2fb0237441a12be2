"""Seeded fuzzing of the three upload endpoints through Django's test client (issue 15).

Every mutated upload (see mutate.py) must get an answer below 500: either accepted, or
refused with a JSON message and no traceback; afterwards nothing may be left in the
upload temp dir, every stored object must belong to a row, and a refused upload must
not have added a row. The long run over HTTP against gunicorn is tests/bench/
fuzz_uploads.py; this one is sized for `make test` (OSTEOLENS_FUZZ_UPLOADS raises it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from cases.models import Case, Instance, Series, Study
from opinions.models import AnalysisRequest
from tests.platform.ingest import mutate
from tests.platform.ingest.hostile import ENDPOINTS
from tests.platform.ingest.upload_client import accepted, client_of, post_files

pytestmark = pytest.mark.django_db
PER_ENDPOINT = int(os.environ.get("OSTEOLENS_FUZZ_UPLOADS", 150))
SEEDS = {"ingest": 1501, "opinions": 1502, "api": 1503}


def rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Case, Study, Series, Instance, AnalysisRequest))


def stored_objects() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in (root / "objects").rglob("*") if p.is_file()}


def leftovers() -> list[str]:
    return sorted(p.name for p in Path(settings.UPLOAD_TEMP_DIR).iterdir())


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_mutated_uploads_never_hurt_the_server(endpoint, dora, real_data, tmp_path):
    corpus = mutate.seeds(real_data)
    client = client_of(endpoint, dora)
    # Answer 500s as responses instead of raising, so that they are counted like any answer.
    client.raise_request_exception = False
    assert isinstance(client, Client | APIClient)
    problems, statuses = [], {}
    for index, mutant in mutate.mutants(SEEDS[endpoint], PER_ENDPOINT, corpus):
        before = rows()
        response = post_files(endpoint, dora, {mutant.name: mutant.data}, client=client)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        where = f"seed {SEEDS[endpoint]} #{index} ({'; '.join(mutant.steps)})"
        body = response.content.decode("utf-8", "replace")
        if response.status_code >= 500 or "Traceback" in body:
            (tmp_path / f"mutant-{index}").write_bytes(mutant.data)
            problems.append(f"{where}: {response.status_code} {body[:200]}")
        elif not accepted(endpoint, response):
            message = response.json().get("error") if "json" in response.get("Content-Type", "") else None
            if not (isinstance(message, str) and len(message) > 10):
                problems.append(f"{where}: {response.status_code} without a clear message: {body[:200]}")
            if rows() != before:
                problems.append(f"{where}: refused, yet rows changed {before} -> {rows()}")
        if leftovers():
            problems.append(f"{where}: left in the upload temp dir: {leftovers()[:3]}")
        orphans = stored_objects() - set(Instance.objects.values_list("path", flat=True))
        if orphans:
            problems.append(f"{where}: stored objects with no row: {sorted(orphans)[:2]}")
        if len(problems) >= 5:
            break
    assert not problems, "\n".join(problems)
    # The fuzzing reached both outcomes, so it exercises more than the front door.
    assert sum(n for s, n in statuses.items() if s >= 400) >= PER_ENDPOINT // 3, statuses
    assert sum(n for s, n in statuses.items() if s < 400) >= 1, statuses
