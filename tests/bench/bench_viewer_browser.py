"""Viewer timings in headless Chromium (SwiftShader WebGL), written to var/bench/viewer_browser.json.

    .venv/bin/python tests/bench/bench_viewer_browser.py [--repeats 3]

- first image: navigation start -> first IMAGE_RENDERED of the stack (page state
  `firstImageMs`), for the real 20-slice JPEG 2000 CT and a synthetic uncompressed CT;
- 500-slice cache: a synthetic 500-slice uncompressed CT (128 x 128 int16), time from the
  start of caching (right after the first image) until all 500 are decoded and cached
  (`cacheMs`), plus navigation -> all cached.
Targets: first image < 0.5 s, 500 slices cached < 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.browser.harness_server import (  # noqa: E402
    REAL_DATA,
    HarnessServer,
    ensure_bundle,
    launch,
    open_viewer,
    series_entry,
    state,
)

TARGET_FIRST_IMAGE_MS = 500
TARGET_CACHE_500_MS = 3000


def synthesise_ct(folder: Path, slices: int = 500, size: int = 128) -> None:
    """A cylinder of 'soft tissue' with a 'bone' core, one uncompressed file per slice."""
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    base = np.where(r < size * 0.4, 40, -1000).astype(np.int16)
    for k in range(slices):
        pixels = base.copy()
        pixels[r < size * (0.08 + 0.04 * np.sin(k / 30))] = 900
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{k:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality = "CT"
        ds.SeriesDescription = "synthetic 500"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-64.0, -64.0, float(k)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 1.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


def run(repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    ensure_bundle()
    server = HarnessServer()
    results: dict = {"first_image_ms": {}, "cache_500": {}}
    with tempfile.TemporaryDirectory(prefix="olv-bench-") as tmp, sync_playwright() as playwright:
        synthetic = Path(tmp) / "ct500"
        synthetic.mkdir()
        started = time.perf_counter()
        synthesise_ct(synthetic)
        results["synthesis_s"] = round(time.perf_counter() - started, 2)
        configs = {
            "real_j2k_ct_20": [series_entry(server, "ct", REAL_DATA / "ct_dicom_series_j2k")],
            "synthetic_ct_500": [series_entry(server, "ct500", synthetic)],
        }
        browser = launch(playwright)
        samples: dict[str, list] = {name: [] for name in configs}
        cache_samples = []
        # A warm-up navigation: Chromium's own first start (disk cache, GPU process) is not the viewer's.
        for attempt in range(repeats + 1):
            for name, series in configs.items():
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                s = open_viewer(
                    page, server, {"wasm_base_path": server.wasm_base_path, "series": series}, name, 30000
                )
                if name == "synthetic_ct_500":
                    page.wait_for_function("() => window.osteolensViewer.cacheMs !== null", timeout=60000)
                    s = state(page)
                    if attempt:
                        cache_samples.append(
                            {
                                "cache_ms": s["cacheMs"],
                                "navigation_to_all_cached_ms": round(s["firstImageMs"] + s["cacheMs"]),
                                "cached": s["cached"],
                            }
                        )
                if s["errors"]:
                    raise RuntimeError(f"{name}: {s['errors']}")
                if attempt:
                    samples[name].append({"first_image_ms": s["firstImageMs"], **s["timings"]})
                context.close()
        browser.close()
    server.close()
    for name, rows in samples.items():
        values = [r["first_image_ms"] for r in rows]
        results["first_image_ms"][name] = {
            "median": statistics.median(values),
            "min": min(values),
            "samples": rows,
        }
    cache_values = [c["cache_ms"] for c in cache_samples]
    results["cache_500"] = {
        "median_ms": statistics.median(cache_values),
        "min_ms": min(cache_values),
        "samples": cache_samples,
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = run(args.repeats)
    load_after = os.getloadavg()
    first = results["first_image_ms"]["real_j2k_ct_20"]["median"]
    cache = results["cache_500"]["median_ms"]
    report = {
        "what": "OsteoLens viewer in headless Chromium (SwiftShader WebGL2), static harness server",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # The machine is shared: timings scale with the load average (1-minute, before/after).
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": [round(load_before[0], 1), round(load_after[0], 1)],
        },
        "repeats": args.repeats,
        "targets": {"first_image_ms": TARGET_FIRST_IMAGE_MS, "cache_500_ms": TARGET_CACHE_500_MS},
        "met": {"first_image": first < TARGET_FIRST_IMAGE_MS, "cache_500": cache < TARGET_CACHE_500_MS},
        **results,
    }
    out = REPO / "var" / "bench" / "viewer_browser.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("targets", "met")}, indent=2))
    print(f"first image (J2K CT) median {first} ms; 500 slices cached median {cache} ms -> {out}")


if __name__ == "__main__":
    main()
