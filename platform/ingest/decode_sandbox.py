"""Decoding compressed pixel data in a bounded child process.

The in-process guards (safe_decode) turn an exception or a Rust panic into a refusal,
but nothing in-process survives a segfault in a C decoder, stops a decode that never
ends, or caps what a decoder allocates from a lying codestream. So the decode check of
an uploaded file runs in a child process that:

- reads the staged file from its path (no pixel data crosses the pipe), decodes it and
  answers a small verdict: the decoded shape, or the reason it failed;
- has an address-space limit (RLIMIT_AS: its size after imports plus a budget) and,
  for each file, a CPU-time limit (RLIMIT_CPU, raised per file because the limit counts
  the whole life of the process);
- is given a wall-clock limit by the parent, which kills it when the limit passes.

A child that dies or runs out of time is killed and forgotten; the file is refused by
name and the next file gets a fresh child. Each file checks out a child of its own
(no shared pool whose breakage would fail other uploads' files), and idle children are
kept for reuse, so the per-file cost is one round trip on a pipe. Children come from a
forkserver that has imported pydicom and the decoders once, so starting one is a fork.

This module runs in the child too: its child half imports no Django. As with any
multiprocessing start method but fork, a child re-imports the parent's main module:
entry points (manage.py, gunicorn, celery, pytest) guard theirs with
``if __name__ == "__main__"``, and a script that calls ingest must do the same.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import threading
from dataclasses import dataclass

# Verdicts a child sends back: (kind, detail). "ok": detail is the decoded shape.
OK, FAILED, MEMORY = "ok", "failed", "memory"
# Faults the test seam can inject in the child (see Job.fault); never set from input.
FAULTS = ("", "crash", "spin")


@dataclass(frozen=True)
class Job:
    path: str
    cpu_seconds: int
    # Test seam, from the setting INGEST_DECODE_SANDBOX_FAULT only (tests use it to prove
    # that a native crash or a runaway decode cannot hurt the web process): "crash" reads
    # address 0 like a broken C decoder, "spin" loops for ever. Nothing in an upload
    # reaches it.
    fault: str = ""
    kind: str = "dicom"  # dicom: pydicom's pixel decoders; raster: Pillow (PNG, JPEG)
    max_pixels: int = 0  # raster: Pillow's decompression-bomb limit in the web process


@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | failed | memory | crashed | timeout
    detail: object  # the shape when ok, else a one-line reason


# --- the child --------------------------------------------------------------------------


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _preload() -> None:
    """What every decode needs, imported once in the forkserver rather than per child."""
    import numpy  # noqa: F401
    import pydicom  # noqa: F401
    from PIL import Image, JpegImagePlugin, PngImagePlugin  # noqa: F401
    from pydicom.pixels import pixel_array  # noqa: F401

    for plugin in ("rle", "libjpeg", "openjpeg", "jpeg_ls"):
        try:
            __import__(plugin)
        except ImportError:  # pragma: no cover - an optional decoder not installed
            pass


def _decode(job: Job) -> tuple[int, ...]:
    if job.kind == "raster":
        import warnings

        from PIL import Image

        # The same bomb limit as the web process, so a bomb fails here as an error
        # (and the web process words it) rather than as an allocation.
        Image.MAX_IMAGE_PIXELS = job.max_pixels or None
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(job.path) as image:
                image.load()
                return tuple(int(n) for n in image.size)
    import pydicom
    from pydicom.pixels import pixel_array

    ds = pydicom.dcmread(job.path, force=True)
    return tuple(int(n) for n in pixel_array(ds).shape)


def _serve(conn, memory_bytes: int) -> None:
    """The child's loop: one job in, one verdict out, until the pipe closes."""
    _preload()
    limit = _address_space() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)[1]
    while True:
        try:
            job: Job = conn.recv()
        except EOFError:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = int(usage.ru_utime + usage.ru_stime) + 1
        # The CPU limit counts the process's life: allow this file its own seconds.
        soft = used + job.cpu_seconds
        if hard_cpu != resource.RLIM_INFINITY:
            soft = min(soft, hard_cpu)  # a site's own hard limit stays the ceiling
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard_cpu))
        try:
            if job.fault == "crash":
                ctypes.string_at(0)
            elif job.fault == "spin":
                while True:
                    pass
            verdict = (OK, _decode(job))
        except MemoryError as exc:
            verdict = (MEMORY, str(exc) or "out of memory")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            verdict = (FAILED, text[:200])
        conn.send(verdict)


# --- the parent -------------------------------------------------------------------------


class _Child:
    def __init__(self, context, memory_bytes: int):
        self.memory_bytes = memory_bytes
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, memory_bytes), daemon=True)
        self.process.start()
        theirs.close()

    def run(self, job: Job, timeout: float) -> Outcome:
        try:
            self.conn.send(job)
            # A dead child makes the pipe readable (end of file): poll returns at once.
            if not self.conn.poll(timeout):
                return Outcome("timeout", f"no answer within {timeout:g} s")
            kind, detail = self.conn.recv()
            return Outcome(kind, detail)
        except (EOFError, OSError):
            self.process.join(5)
            return Outcome("crashed", _how_it_died(self.process.exitcode))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        self.process.close()


def _how_it_died(exitcode: int | None) -> str:
    if exitcode is None:
        return "the decoder process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGXCPU:
            return f"the decoder ran past its CPU time limit ({name})"
        return f"the decoder process crashed ({name})"
    return f"the decoder process exited with status {exitcode}"


class Sandbox:
    """Children to decode in: at most ``size`` decode at once, idle ones are reused."""

    def __init__(self, size: int):
        self.size = size
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Child] = []
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        self._context = context

    def run(self, job: Job, *, timeout: float, memory_bytes: int) -> Outcome:
        with self._slots:
            child = self._checkout(memory_bytes)
            outcome = child.run(job, timeout)
            if outcome.kind in (OK, FAILED):
                with self._lock:
                    self._idle.append(child)
            else:
                # Out of time, out of memory or dead: its state is unknown; never reuse it.
                child.kill()
            return outcome

    def _checkout(self, memory_bytes: int) -> _Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.memory_bytes == memory_bytes and child.process.is_alive():
                    return child
                child.kill()  # started under another memory budget (settings changed)
        return _Child(self._context, memory_bytes)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()


_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def sandbox(size: int) -> Sandbox:
    """The process's sandbox; a fresh one after a fork (children belong to their parent)."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None or _sandbox.pid != os.getpid() or _sandbox.size != size:
            if _sandbox is not None and _sandbox.pid == os.getpid():
                _sandbox.close()
            _sandbox = Sandbox(size)
        return _sandbox
