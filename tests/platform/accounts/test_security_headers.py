"""Every page carries a Content-Security-Policy without inline or eval'd scripts, and is
never framed. (The viewer working under it: tests/browser/test_viewer_page.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.platform.factories import make_case

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_pages_send_a_strict_script_policy(client, client_for, alice):
    case = make_case(label="csp", with_image=True)
    responses = [
        client.get("/accounts/login/"),
        client_for(alice).get("/cases/"),
        client_for(alice).get(f"/viewer/case/{case.public_id}/"),
    ]
    for response in responses:
        assert response.status_code == 200
        policy = directives(response)
        assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "blob:" in policy["worker-src"]
        assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_an_inline_script():
    """The policy allows no inline script, so none may be written: only src= scripts and
    JSON data blocks (json_script), which browsers never run."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(ROOT)}: inline event handler")
    assert not offenders, offenders
