"""The viewer bundle's caching headers: what lets a returning visit start from cache.

Needs the built bundle (static/build/viewer, `npm run build`; `make test` builds it).
"""

from __future__ import annotations

from django.conf import settings

BUNDLE = settings.BASE_DIR / "static" / "build" / "viewer"


def _chunks() -> list[str]:
    assert (BUNDLE / "viewer.js").exists(), "viewer bundle missing: run `npm run build`"
    return sorted(p.name for p in BUNDLE.glob("*.js") if p.name.startswith(("chunk-", "interactive-")))


def test_content_named_chunks_are_immutable_and_entry_points_are_not(client):
    chunks = _chunks()
    assert any(name.startswith("interactive-") for name in chunks) and len(chunks) >= 2
    for name in chunks:
        response = client.get(f"/static/build/viewer/{name}")
        assert response.status_code == 200, name
        assert "immutable" in response["Cache-Control"], (name, response["Cache-Control"])
        assert response["Content-Type"].startswith("text/javascript"), response["Content-Type"]
    # Fixed names change content with each build: they must be revalidated.
    for name in ("viewer.js", "decodeImageFrameWorker.js", "openjpegwasm_decode.wasm"):
        response = client.get(f"/static/build/viewer/{name}")
        assert response.status_code == 200, name
        assert "immutable" not in response["Cache-Control"], name
        assert "max-age=60" in response["Cache-Control"], name
