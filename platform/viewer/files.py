"""Streaming stored files with the caching headers content addressing allows."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404, HttpResponseNotModified
from django.utils.cache import patch_vary_headers

# Content-addressed files never change: a browser may keep them for good. "private"
# because they are only for the logged-in user who fetched them.
IMMUTABLE = "private, max-age=31536000, immutable"
# Bigger than FileResponse's 4 KiB default: fewer write calls when the server cannot
# use sendfile (gunicorn and most WSGI servers do, through wsgi.file_wrapper).
BLOCK_SIZE = 256 * 1024


def _etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def stream_file(
    request,
    path: Path,
    *,
    etag_value: str,
    content_type: str,
    filename: str | None = None,
    vary_cookie: bool = True,
):
    """A FileResponse for `path` (never read whole), or 304 when the client has it."""
    etag = f'"{etag_value}"'
    if _etag_matches(request, etag):
        response = HttpResponseNotModified()
    else:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise Http404("The stored file is missing.") from None
        response = FileResponse(handle, content_type=content_type)
        response.block_size = BLOCK_SIZE
        if filename:
            response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    if vary_cookie:
        patch_vary_headers(response, ("Cookie", "Authorization"))
    return response
