"""Calling parsers and decoders on hostile bytes without letting them end the process.

Native decoders do not only raise ``Exception``: a Rust decoder that panics (pylibjpeg-rle
on a corrupt RLE segment) surfaces in Python as ``pyo3_runtime.PanicException``, a
direct subclass of ``BaseException``. Left alone it unwinds through ``except Exception``
and takes the web worker down with it. A panic in these decoders is local to one call
(they hold no state between frames), so it is safe to turn it into a refusal of the
file.

What is *not* turned into a refusal: ``KeyboardInterrupt`` and ``SystemExit`` (a real
signal or a deliberate exit, e.g. gunicorn stopping a worker), ``GeneratorExit`` (a
closing generator) and asyncio's cancellation. No decoder raises those for bad input,
so passing them on never lets a file crash the process, and swallowing them would make
a worker that is being stopped keep running.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from ingest.errors import IngestError

log = logging.getLogger(__name__)

# Control flow of the process itself, never the verdict on a file.
PASS_THROUGH: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    SystemExit,
    GeneratorExit,
    asyncio.CancelledError,
)
CHUNK = 1024 * 1024


def is_control_flow(exc: BaseException) -> bool:
    return isinstance(exc, PASS_THROUGH)


def describe(exc: BaseException) -> str:
    """A one-line reason for a message: the error text, else its type; never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def unexpected(name: str, exc: BaseException) -> IngestError:
    """The refusal of a file for a failure no check foresaw; its traceback is logged."""
    log.error("ingest: unexpected failure reading %s", name, exc_info=(type(exc), exc, exc.__traceback__))
    return IngestError(
        f"{name}: the file cannot be read ({describe(exc)}); it is corrupt or uses an encoding "
        "OsteoLens does not support.",
        code="unreadable",
    )


@contextmanager
def guarded(refusal: Callable[[BaseException], IngestError]) -> Iterator[None]:
    """Run the block; any failure but IngestError and process control flow becomes
    ``refusal(exc)``, raised from the original so the log keeps its traceback."""
    try:
        yield
    except IngestError:
        raise
    except PASS_THROUGH:
        raise
    except BaseException as exc:  # noqa: BLE001 - PanicException is a BaseException
        raise refusal(exc) from exc


def inflate_count(handle: BinaryIO, *, wbits: int, cap: int, name: str, what: str) -> int:
    """Inflate the rest of ``handle`` without keeping the output; the number of bytes it
    expands to. IngestError as soon as that passes ``cap``: the check costs CPU time
    proportional to the input's expansion up to the cap, and memory of one chunk."""
    inflater = zlib.decompressobj(wbits)
    total = 0
    try:
        while chunk := handle.read(CHUNK):
            data = inflater.decompress(chunk, CHUNK)
            while True:
                total += len(data)
                if total > cap:
                    raise IngestError(
                        f"{name}: {what} expands to more than {cap:,} bytes; refused.", code="too_large"
                    )
                # At the end of the stream what follows stays in unconsumed_tail, and
                # feeding it back returns nothing, for ever: stop at eof or no progress.
                if inflater.eof or not inflater.unconsumed_tail or not data:
                    break
                data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
            if inflater.eof:
                break
        total += len(inflater.flush())
    except zlib.error as exc:
        raise IngestError(f"{name}: {what} is corrupt ({describe(exc)}).", code="corrupt") from exc
    if total > cap:
        raise IngestError(f"{name}: {what} expands to more than {cap:,} bytes; refused.", code="too_large")
    return total
