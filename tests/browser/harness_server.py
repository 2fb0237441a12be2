"""A throw-away static site for driving the viewer without Django.

It serves, from a fresh temporary folder:
  /static/build/  -> the built bundle (static/build, git-ignored)
  /harness/       -> tests/browser/harness (the stand-in viewer page)
  /data/<name>/   -> real or synthetic DICOM folders linked in by the tests
  /<anything>     -> JSON configs and overlay volumes the tests write
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pydicom

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "static" / "build" / "viewer"
SOURCES = REPO / "static" / "viewer"
HARNESS = Path(__file__).resolve().parent / "harness"
REAL_DATA = REPO / "tests" / "data" / "real"

CHROMIUM = "/usr/bin/chromium"
# From docs VIEWER.md: SwiftShader gives headless Chromium a software WebGL2.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def ensure_bundle() -> None:
    """Build the bundle when it is missing or older than its sources (about 3 s)."""
    bundle = BUNDLE / "viewer.js"
    newest_source = max(p.stat().st_mtime for p in SOURCES.iterdir() if p.is_file())
    if bundle.exists() and bundle.stat().st_mtime >= newest_source:
        return
    if not (REPO / "node_modules").is_dir():
        raise RuntimeError("node_modules missing: run `npm ci` at the repository root")
    subprocess.run(["npm", "run", "build"], cwd=REPO, check=True, capture_output=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def end_headers(self):
        # Each test must see its own config, never a cached one.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class HarnessServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="olv-harness-"))
        (self.root / "static").mkdir()
        (self.root / "static" / "build").symlink_to(REPO / "static" / "build")
        (self.root / "harness").symlink_to(HARNESS)
        (self.root / "data").mkdir()
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.root, ignore_errors=True)

    def link_data(self, name: str, folder: Path) -> str:
        target = self.root / "data" / name
        if not target.exists():
            target.symlink_to(folder)
        return f"{self.base}/data/{name}"

    def write_json(self, rel: str, obj) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj))
        return f"{self.base}/{rel}"

    def write_overlay_volume(self, rel: str, array: np.ndarray) -> str:
        """The viewer's overlay volume format: JSON header + raw little-endian array."""
        array = np.ascontiguousarray(array)
        dtype = {np.dtype("uint8"): "uint8", np.dtype("float32"): "float32"}[array.dtype]
        path = self.root / f"{rel}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(array.astype(array.dtype.newbyteorder("<")).tobytes())
        return self.write_json(
            f"{rel}.json", {"shape": list(array.shape), "dtype": dtype, "data_url": f"{Path(rel).name}.bin"}
        )

    def viewer_url(self, config_url: str) -> str:
        return f"{self.base}/harness/index.html?config={config_url}"

    @property
    def wasm_base_path(self) -> str:
        return f"{self.base}/static/build/viewer/"


def read_series(folder: Path) -> list[tuple[Path, pydicom.Dataset]]:
    """Every DICOM file of a folder (headers only), sorted by instance number."""
    items = [
        (p, pydicom.dcmread(p, stop_before_pixels=True)) for p in sorted(folder.iterdir()) if p.is_file()
    ]
    return sorted(items, key=lambda item: int(item[1].InstanceNumber or 0))


def _first(value):
    if value is None:
        return None
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def series_entry(server: HarnessServer, name: str, folder: Path, files=None) -> dict:
    """The config entry the Django page would produce for one series."""
    items = files if files is not None else read_series(folder)
    base = server.link_data(name, folder)
    first = items[0][1]
    return {
        "series_uid": str(first.get("SeriesInstanceUID") or name),
        "description": str(first.get("SeriesDescription") or name),
        "modality": str(first.get("Modality") or ""),
        "thumbnail_url": None,
        "image_ids": [f"wadouri:{base}/{path.name}" for path, _ in items],
        "is_volume": first.get("Modality") == "CT" and len(items) > 1,
        "window_center": _first(first.get("WindowCenter")),
        "window_width": _first(first.get("WindowWidth")),
        "photometric": str(first.get("PhotometricInterpretation") or ""),
    }


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


WAIT_READY = "() => { const s = window.osteolensViewer; return !!(s && (s.errors.length || (s.ready && s.renders > 0))); }"


def open_viewer(
    page, server: HarnessServer, config: dict, name: str = "config", timeout_ms: int = 15000
) -> dict:
    config_url = server.write_json(f"{name}.json", config)
    page.goto(server.viewer_url(config_url))
    page.wait_for_function(WAIT_READY, timeout=timeout_ms)
    return state(page)


# The page state as plain JSON (a function's source, for page.evaluate and the like).
VIEWER_STATE = "() => JSON.parse(JSON.stringify(window.osteolensViewer))"


def state(page) -> dict:
    return page.evaluate(VIEWER_STATE)
