"""The one exception ingest raises for bad input, with a message fit to show a user."""

from __future__ import annotations


class IngestError(Exception):
    """Bad input. ``message`` is shown to the uploader as is; ``code`` lets tests and
    callers tell the reasons apart without matching on wording."""

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message
