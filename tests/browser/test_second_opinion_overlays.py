"""Sacral CT heat-maps on the result page land on the anatomy they were computed on.

The full-flow test (test_second_opinion_flow.py) cannot show sacral heat-maps: tiny
models call the phantoms out of domain, and out-of-domain results carry none. Here the
worker's own CT loader reads a stored real CT (flipping it to RAS, as the pipeline
does), an off-centre blob is written on that grid as NIfTI Grad-CAM and Score-CAM files
exactly like the pipeline's, the result is recorded, and in Chromium the colour must
appear at the pixel the DICOM geometry puts the blob on, and not at its mirror images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.urls import reverse

from cases.models import Instance
from inference_worker.io.ct import load_ct
from inference_worker.sacral.artefacts import write_nifti
from opinions import services
from opinions.models import AnalysisRequest
from tests.browser.harness_server import state
from tests.browser.login import log_in_by_cookie
from tests.browser.result_page import (  # noqa: F401 - the two fixtures
    after,
    browser_page_fixture,
    bundle_built_fixture,
    change,
    screenshot,
    to_canvas,
    wait_for_viewer,
)
from tests.conftest import make_user
from tests.platform.opinions.results import record_sacral_with_artefacts
from tests.platform.viewer.conftest import ingest_folder
from viewer.selectors import STACK_ORDER

pytestmark = pytest.mark.browser
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BLOB_VOXEL = np.array([140.0, 330.0, 10.0])  # (x, y, z) on the RAS grid: off-centre in x and y
BLOB_SIGMA_MM = 25.0


def _recorded_sacral_result(case, owner) -> tuple[AnalysisRequest, np.ndarray]:
    """A result with the blob as both maps and a tumour ball at it; returns the blob in RAS mm."""
    analysis = AnalysisRequest.objects.create(case=case, requested_by=owner, pipeline="sacral-ct")
    ct = load_ct([Path(settings.MEDIA_ROOT) / p for p in services.case_inputs(case)])
    out = Path(settings.MEDIA_ROOT) / analysis.out_dir
    out.mkdir(parents=True)
    spacing = np.array(ct.spacing)
    x, y, z = np.ogrid[tuple(slice(0, n) for n in ct.hu.shape)]
    squared_mm = sum(((axis - c) * s) ** 2 for axis, c, s in zip((x, y, z), BLOB_VOXEL, spacing, strict=True))
    heat = np.exp(-squared_mm / (2 * BLOB_SIGMA_MM**2)).astype(np.float32)
    write_nifti(heat, ct.affine, out / "gradcam.nii.gz")
    write_nifti((0.5 * heat).astype(np.float32), ct.affine, out / "scorecam.nii.gz")
    write_nifti((squared_mm < 10.0**2).astype(np.uint8), ct.affine, out / "labels.nii.gz")
    record_sacral_with_artefacts(analysis)
    return analysis, ct.affine[:3, :3] @ BLOB_VOXEL + ct.affine[:3, 3]


def _pixel_of(instance: Instance, lps: np.ndarray) -> tuple[float, float]:
    """(col, row) of a patient-space point on a stored image, from its own DICOM header."""
    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / instance.path, stop_before_pixels=True)
    origin = np.array(ds.ImagePositionPatient, dtype=float)
    row_dir, col_dir = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    offset = lps - origin
    return float(offset @ row_dir / col_spacing), float(offset @ col_dir / row_spacing)


def test_sacral_heatmaps_sit_on_the_anatomy_they_were_computed_on(
    browser_page, live_server, real_data, transactional_db
):
    owner = make_user("dora", "referrer")
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=owner, in_library=False)
    analysis, blob_ras = _recorded_sacral_result(case, owner)
    blob_lps = blob_ras * np.array([-1.0, -1.0, 1.0])
    instances = list(Instance.objects.filter(series__study__case=case).order_by(*STACK_ORDER))
    nearest = int(np.argmin([abs(i.image_position[2] - blob_lps[2]) for i in instances]))
    col, row = _pixel_of(instances[nearest], blob_lps)
    size = instances[nearest].columns, instances[nearest].rows

    page = browser_page
    log_in_by_cookie(page, live_server, owner)
    page.goto(live_server.url + reverse("opinions:detail", args=[analysis.public_id]))
    s = wait_for_viewer(page, "s.overlays.labelmap")
    assert s["sliceIndex"] == nearest  # the page opens on the tumour
    plain_heat = state(page)["overlays"]["heatmap"]
    assert plain_heat is None
    after(page, lambda: page.uncheck(".olv-seg-toggle"))
    after(page, lambda: page.uncheck(".olv-marker-toggle"))
    plain = screenshot(page)

    at_blob = to_canvas(page, (col, row))
    mirrored_x = to_canvas(page, (size[0] - 1 - col, row))
    mirrored_y = to_canvas(page, (col, size[1] - 1 - row))
    for name in ("gradcam", "scorecam"):
        after(page, lambda name=name: page.check(f'.olv-heat-choice input[value="{name}"]'))
        assert state(page)["overlays"]["heatmap"] == name
        shown = screenshot(page)
        assert change(shown, plain, at_blob) > 40, f"{name}: no colour on the blob"
        assert change(shown, plain, mirrored_x) < 10, f"{name}: colour at the blob's left-right mirror"
        assert change(shown, plain, mirrored_y) < 10, f"{name}: colour at the blob's front-back mirror"
    assert state(page)["errors"] == []
