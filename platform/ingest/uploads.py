"""The one way an HTTP upload reaches ingest, shared by the upload page, the second-
opinion page and the REST API.

Every upload is hostile until ingest has judged it, so before a byte of the body is read
the declared Content-Length is checked against the limit; while the body streams in,
each file goes straight to its own temporary file in the upload temp dir (never into
memory, never copied a second time) and a running count of bytes and files stops the
upload the moment it passes a limit, whatever the headers said. Refusals carry a
message for the uploader that names the file concerned, and an HTTP status.

Upload handlers must be in place before anything reads the body, CSRF checking
included; ``accepts_uploads`` therefore exempts the outer view from the middleware's
check and runs Django's own CSRF check itself after installing the handlers (the
pattern Django documents for per-view upload handlers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from ingest import limits
from ingest.errors import IngestError
from ingest.readers import Input

# Multipart boundaries and part headers on top of the files themselves.
OVERHEAD = 1024 * 1024
CHUNK = 1024 * 1024


class UploadRefused(Exception):
    """The body of an upload was refused before ingest saw it."""

    def __init__(self, error: IngestError, status: int = 400):
        super().__init__(error.message)
        self.error = error
        self.status = status


def _limit_text() -> str:
    cap = limits.upload_max_bytes()
    return f"{cap / 1024**2:,.0f} MB" if cap >= 10 * 1024**2 else f"{cap:,} bytes"


def temp_dir() -> Path:
    """Where uploads and ingest work folders are staged (cleaned by ingest.cleanup)."""
    path = Path(getattr(settings, "UPLOAD_TEMP_DIR", None) or Path(settings.FILE_UPLOAD_TEMP_DIR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_declared(request) -> None:
    """Refuse a POST by its declared size, before reading any of its body."""
    raw = request.META.get("CONTENT_LENGTH")
    if not raw:
        # Django reads no body without a length (chunked transfer under WSGI): the files
        # would silently vanish, so say what to do instead.
        raise UploadRefused(
            IngestError(
                "The upload has no Content-Length; send it as an ordinary multipart form "
                "(not chunked transfer encoding).",
                code="length_required",
            ),
            status=411,
        )
    try:
        declared = int(raw)
    except ValueError:
        raise UploadRefused(
            IngestError("The upload's Content-Length is invalid.", code="bad_request")
        ) from None
    if declared < 0:
        raise UploadRefused(IngestError("The upload's Content-Length is invalid.", code="bad_request"))
    if declared > limits.upload_max_bytes() + OVERHEAD:
        raise UploadRefused(
            IngestError(
                f"The upload is too large: {declared:,} bytes (the limit is {_limit_text()}).",
                code="too_large",
            ),
            status=413,
        )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, refusing the upload as soon as the bytes
    or files received pass the limits (a lying or missing Content-Length included).

    1 MiB reads instead of Django's 64 KiB: every read goes through the WSGI server's
    buffer and Django's boundary search, whose per-call cost dominated parsing a batch
    of CT slices."""

    chunk_size = CHUNK

    def __init__(self, request=None):
        super().__init__(request)
        self.max_bytes = limits.upload_max_bytes()
        self.max_files = limits.upload_max_files()
        self.received = 0
        self.files = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.max_bytes + OVERHEAD:
            raise UploadRefused(
                IngestError(
                    f"The upload is too large: {content_length:,} bytes (the limit is {_limit_text()}).",
                    code="too_large",
                ),
                status=413,
            )
        temp_dir()  # TemporaryUploadedFile needs the folder to exist

    def new_file(self, field_name, file_name, *args, **kwargs):
        self.files += 1
        if self.files > self.max_files:
            raise UploadRefused(
                IngestError(
                    f"Too many files in one upload (more than {self.max_files:,}); {file_name} and the "
                    "files after it were not accepted. Upload a zip archive or several batches.",
                    code="too_many_files",
                )
            )
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            name = self.file_name
            self.upload_interrupted()  # the partial file goes now, not at garbage collection
            raise UploadRefused(
                IngestError(
                    f"The upload is too large: it passed the limit of {_limit_text()} while receiving {name}.",
                    code="too_large",
                ),
                status=413,
            )
        return super().receive_data_chunk(raw_data, start)


def install(request) -> None:
    """Use the limited handler for this request's body; call before anything reads it."""
    request.upload_handlers = [LimitedUploadHandler(request)]


def refusal_of(exc: Exception) -> UploadRefused | None:
    """The refusal for an exception raised while Django parsed the body; None if it is
    not one of those."""
    if isinstance(exc, UploadRefused):
        return exc
    if isinstance(exc, TooManyFilesSent):
        return UploadRefused(
            IngestError(
                f"Too many files in one upload (the limit is {limits.upload_max_files():,}). "
                "Upload a zip archive or several batches.",
                code="too_many_files",
            )
        )
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return UploadRefused(IngestError("The form fields of the upload are too large.", code="bad_request"))
    if isinstance(exc, MultiPartParserError):
        return UploadRefused(
            IngestError(f"The upload is not a readable multipart form ({exc}).", code="bad_request")
        )
    return None


def accepts_uploads(on_refused: Callable):
    """Decorator for a function view taking uploads: on POST, refuse by declared size,
    install the limited handler, check CSRF, and answer any refusal of the body with
    ``on_refused(request, error, status)``. Put it inside the permission decorators,
    so nobody learns anything about limits before being allowed in."""

    def decorator(view):
        protected = csrf_protect(view)

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "POST":
                return protected(request, *args, **kwargs)
            try:
                check_declared(request)
                install(request)
                return protected(request, *args, **kwargs)
            except Exception as exc:
                refused = refusal_of(exc)
                if refused is None:
                    raise
                return on_refused(request, refused.error, refused.status)

        return csrf_exempt(wrapper)

    return decorator


def inputs_of(files) -> list[Input]:
    """The uploaded files as ingest inputs: their temporary files, under the names the
    uploader gave them (what every message calls them). Nothing is copied."""
    inputs = []
    for uploaded in files:
        path = getattr(uploaded, "temporary_file_path", None)
        if path is None:  # pragma: no cover - only if a view forgot `install`
            raise IngestError(f"{uploaded.name}: the upload was not staged on disk.", code="unexpected")
        inputs.append(Input(Path(path()), uploaded.name or "unnamed file"))
    return inputs


def ingest_upload(files, **options):
    """Ingest uploaded files (Django UploadedFile objects) as one case with
    ``ingest.services.ingest_paths``; their temporary files are removed afterwards,
    whatever happens."""
    from ingest.services import ingest_paths

    try:
        if not files:
            raise IngestError("Choose at least one file, folder or zip archive.", code="empty")
        return ingest_paths(inputs_of(files), **options)
    finally:
        for uploaded in files:
            uploaded.close()  # removes the temporary file now
