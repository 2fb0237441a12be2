"""Benchmark: HTTP upload of a 500-slice 512x512 uncompressed CT into the real server.

Generates the series (with identity in every header, so de-identification does its
full work), starts the server on a loopback port with its own database and MEDIA_ROOT,
logs in as a referring doctor and POSTs the files in batches with one keep-alive
client, the way the upload view expects (first batch creates the case, later batches
name it). Measures files/s end to end (multipart parsing, validation, de-id, hashing,
storage, rows) and the server's peak RSS; writes var/bench/ingest.json.

    .venv/bin/python tests/bench/bench_ingest.py [--slices 500] [--batch 50] [--server gunicorn|runserver]
"""

from __future__ import annotations

import argparse
import json
import os
import platform as std_platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.bench._login import logged_in  # noqa: E402

PASSWORD = "bench-password-not-secret-123"


def make_series(folder: Path, slices: int, size: int = 512) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(-1000, 2000, size=(size, size), dtype=np.int16)
    paths = []
    for i in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.9.4242.3.{i + 1}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.9.4242.1"
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.9.4242.2"
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.9.4242.4"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Bench^Patient", "BENCH-001", "19700101"
        ds.InstitutionName, ds.ReferringPhysicianName = "Bench Hospital", "Doctor^Bench"
        ds.AccessionNumber, ds.StudyDate, ds.StudyTime = "ACC-BENCH", "20240101", "120000"
        ds.Modality, ds.BodyPartExamined, ds.SeriesNumber, ds.InstanceNumber = "CT", "PELVIS", 2, i + 1
        ds.ImagePositionPatient = [-250.0, -250.0, -400.0 + i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.9765625, 0.9765625], 1.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth = 0, 1, 400, 1800
        block = ds.private_block(0x0029, "BENCH PRIVATE", create=True)
        block.add_new(0x10, "LO", "private value")
        ds.PixelData = np.roll(base, i, axis=0).tobytes()
        path = folder / f"IM{i:05d}"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


class MultipartBody:
    """A multipart/form-data body read from the files while it is sent.

    Building each batch's body in memory first (requests' ``files=``) left the server
    idle while the client copied 26 MB, then the client idle while the server parsed it.
    Streamed, the client reads the next file while the server parses the last one, as a
    browser's upload does. ``len()`` gives requests the Content-Length up front (Django
    needs it to parse), so the body goes out plain, not chunked.
    """

    CHUNK = 1024 * 1024

    def __init__(self, fields: dict[str, str], files: list[Path]):
        self.boundary = f"bench-{os.urandom(12).hex()}"
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self.parts: list[tuple[bytes, Path | None]] = []
        for name, value in fields.items():
            head = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            self.parts.append((head.encode(), None))
        for path in files:
            head = (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
                "Content-Type: application/dicom\r\n\r\n"
            )
            self.parts.append((head.encode(), path))
        self.tail = f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        size = len(self.tail)
        for head, path in self.parts:
            size += len(head) + (path.stat().st_size + 2 if path is not None else 0)
        return size

    def __iter__(self):
        for head, path in self.parts:
            if path is None:
                yield head
                continue
            with path.open("rb") as handle:
                chunk = head + handle.read(self.CHUNK - len(head))
                while chunk:
                    yield chunk
                    chunk = handle.read(self.CHUNK)
            yield b"\r\n"
        yield self.tail


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a process and its children, in KiB."""
    total = 0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        total = max(total, int(match.group(1))) if match else total
    return total


def _postgres_database(url: str, name: str, *, create: bool) -> str:
    """Create (or drop) database `name` on `url`'s server; the URL naming it."""
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'{"CREATE" if create else "DROP"} DATABASE "{name}"{"" if create else " WITH (FORCE)"}')
    return url.rsplit("/", 1)[0] + "/" + name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--out", default=str(REPO / "var" / "bench" / "ingest.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    env = dict(os.environ, OSTEOLENS_VAR_DIR=str(work / "var"), DEBUG="0", LOG_LEVEL="WARNING")
    # A database of its own on PostgreSQL too (SQLite's lives in `work`): the series has
    # fixed UIDs, and a second run into the same database would be refused as a duplicate.
    scratch_db = None
    if env.get("DATABASE_URL", "").startswith("postgres"):
        scratch_db = f"{env['DATABASE_URL'].rsplit('/', 1)[1]}_ingest_{os.getpid()}"
        env["DATABASE_URL"] = _postgres_database(env["DATABASE_URL"], scratch_db, create=True)
    python = sys.executable
    server = None
    try:
        t0 = time.perf_counter()
        files = make_series(work / "series", args.slices)
        total_bytes = sum(p.stat().st_size for p in files)
        print(f"generated {len(files)} files, {total_bytes / 1e6:.0f} MB in {time.perf_counter() - t0:.1f}s")
        manage = [python, str(REPO / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO)
        subprocess.run(
            [*manage, "shell", "-c",
             "from accounts.models import User, Role; "
             f"User.objects.create_user('benchdoc', password='{PASSWORD}', role=Role.REFERRER)"],
            env=env, check=True, cwd=REPO,
        )  # fmt: skip
        port = free_port()
        if args.server == "gunicorn":
            # The site's own gunicorn settings (platform/config/gunicorn.py), so the
            # benchmark measures what is deployed; one process with two threads.
            command = [str(Path(python).parent / "gunicorn"), "config.wsgi:application", "--chdir", str(REPO / "platform"),
                       "--config", str(REPO / "platform" / "config" / "gunicorn.py"),
                       "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
                       "--threads", "2", "--timeout", "300", "--keep-alive", "30"]  # fmt: skip
        else:
            command = [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"]
        server = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        base = f"http://127.0.0.1:{port}"
        session = logged_in(base, "benchdoc", PASSWORD, attempts=200)
        session.get(f"{base}/ingest/")
        headers = {
            "X-CSRFToken": session.cookies["csrftoken"],
            "Accept": "application/json",
            "Referer": f"{base}/ingest/",
        }
        case = None
        batch_times = []
        server_cpu = cpu_seconds(server.pid)
        client_cpu = time.process_time()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        for start in range(0, len(files), args.batch):
            body = MultipartBody({"case": case} if case else {}, files[start : start + args.batch])
            t = time.perf_counter()
            response = session.post(
                f"{base}/ingest/",
                data=body,
                headers={**headers, "Content-Type": body.content_type},
                timeout=600,
            )
            batch_times.append(time.perf_counter() - t)
            assert response.status_code in (200, 201), response.text[:500]
            case = response.json()["case"]
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        rss = peak_rss_kib(server.pid)
        stored = list((work / "var" / "media" / "objects").rglob("*.dcm"))
        result = {
            "benchmark": "http upload + ingest (de-id, hash, store, rows)",
            "server": args.server,
            "slices": len(files),
            "size": "512x512 int16, explicit VR little endian",
            "batch_files": args.batch,
            "client": "one keep-alive connection, multipart body streamed from the files",
            "upload_mb": round(total_bytes / 1e6, 1),
            "seconds": round(elapsed, 2),
            "files_per_s": round(len(files) / elapsed, 1),
            "mb_per_s": round(total_bytes / 1e6 / elapsed, 1),
            "batch_seconds_median": round(float(np.median(batch_times)), 3),
            # The first batch also pays the server's first-use costs (imports, a new case).
            "batch_seconds": [round(t, 3) for t in batch_times],
            # The machine is shared: CPU time is the contention-free measure of the work,
            # files per server CPU-second is what one uncontended core would sustain.
            "server_cpu_s": round(server_cpu, 2),
            "files_per_server_cpu_s": round(len(files) / max(server_cpu, 1e-9), 1),
            "client_cpu_s": round(client_cpu, 2),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "server_peak_rss_mb": round(rss / 1024, 1),
            "stored_files": len(stored),
            "database": "postgresql" if "postgres" in env.get("DATABASE_URL", "") else "sqlite",
            "cpus": os.cpu_count(),
            "python": std_platform.python_version(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        assert len(stored) == len(files), "every slice must be stored"
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            if server.returncode not in (0, -signal.SIGTERM) and server.stderr is not None:
                sys.stderr.write(server.stderr.read().decode(errors="replace")[-3000:])
        shutil.rmtree(work, ignore_errors=True)
        if scratch_db:
            _postgres_database(os.environ["DATABASE_URL"], scratch_db, create=False)


if __name__ == "__main__":
    sys.exit(main())
