"""Worker artefacts become viewer overlays that sit on the stored pixels they came from.

The worker's own CT loader reads the stored real CT (flipping it to RAS), masks and maps
are made on its grid exactly as the sacral pipeline writes them, and the overlays made
for the viewer must then agree pixel for pixel with each stored image in stack order.
"""

from __future__ import annotations

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
from tests.platform.opinions.results import record_sacral_with_artefacts, sacral_result
from tests.platform.viewer.conftest import ingest_folder
from viewer.selectors import STACK_ORDER

pytestmark = pytest.mark.django_db
BONE_HU = 300.0


def _stored_stack(case) -> list[np.ndarray]:
    """HU of each stored image, in the viewer's stack order."""
    images = []
    for instance in Instance.objects.filter(series__study__case=case).order_by(*STACK_ORDER):
        ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / instance.path)
        images.append(ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    return images


@pytest.fixture
def ct_request(real_data, dora):
    case = ingest_folder(real_data / "ct_dicom_series_j2k", owner=dora, in_library=False)
    analysis = AnalysisRequest.objects.create(case=case, requested_by=dora, pipeline="sacral-ct")
    paths = [Path(settings.MEDIA_ROOT) / p for p in services.case_inputs(case)]
    ct = load_ct(paths)  # the worker's loader: RAS grid, as the pipeline's NIfTI files
    out = Path(settings.MEDIA_ROOT) / analysis.out_dir
    out.mkdir(parents=True)
    labels = np.zeros(ct.hu.shape, np.uint8)
    labels[ct.hu > BONE_HU] = 4  # "sacrum": every bone voxel
    # A "tumour" block off-centre in x, y and z, so any flip would move it.
    labels[40:90, 300:340, 12:16] = 1
    write_nifti(labels, ct.affine, out / "labels.nii.gz")
    heat = np.clip((ct.hu + 1000.0) / 3000.0, 0, 1).astype(np.float32)
    write_nifti(heat, ct.affine, out / "gradcam.nii.gz")
    write_nifti(heat[::-1].copy(), ct.affine, out / "scorecam.nii.gz")
    record_sacral_with_artefacts(analysis)
    return analysis, ct


def test_labelmap_and_heatmaps_lie_on_the_stored_pixels(ct_request):
    analysis, _ct = ct_request
    artefacts = analysis.opinion.result["artefacts"]
    root = Path(settings.MEDIA_ROOT) / analysis.out_dir
    labels = np.load(root / artefacts["overlay_labels"]["path"])
    gradcam = np.load(root / artefacts["overlay_gradcam"]["path"])
    stack = _stored_stack(analysis.case)
    assert labels.shape == gradcam.shape == (len(stack), *stack[0].shape)
    assert labels.dtype == np.uint8 and gradcam.dtype == np.float32
    for k, hu in enumerate(stack):
        bone = hu > BONE_HU
        assert np.array_equal(labels[k] > 0, bone | (labels[k] == 1)), f"labelmap off the bone on image {k}"
        expected = np.clip((hu + 1000.0) / 3000.0, 0, 1)
        assert np.abs(gradcam[k] - expected).max() < 1e-4, f"heat-map misplaced on image {k}"
    assert (labels == 1).sum() == 50 * 40 * 4


def test_marker_is_the_tumour_centroid_in_patient_coordinates(ct_request):
    analysis, ct = ct_request
    marker = analysis.opinion.result["marker"]
    ras = ct.affine[:3, :3] @ np.array([64.5, 319.5, 13.5]) + ct.affine[:3, 3]
    assert np.allclose(marker["world"], ras * [-1, -1, 1], atol=0.01)
    # The stored image nearest the marker has its tumour pixels around the marker.
    instances = list(Instance.objects.filter(series__study__case=analysis.case).order_by(*STACK_ORDER))
    k = int(np.argmin([abs(i.image_position[2] - marker["world"][2]) for i in instances]))
    labels = np.load(
        Path(settings.MEDIA_ROOT)
        / analysis.out_dir
        / analysis.opinion.result["artefacts"]["overlay_labels"]["path"]
    )
    rows, cols = np.nonzero(labels[k] == 1)
    series = instances[k].series
    spacing = series.pixel_spacing
    origin = np.array(instances[k].image_position)
    centre_world = (
        origin
        + cols.mean() * spacing[1] * np.array(series.orientation[:3])
        + rows.mean() * spacing[0] * np.array(series.orientation[3:])
    )
    assert np.allclose(centre_world[:2], marker["world"][:2], atol=1.0)


def test_result_page_mounts_the_viewer_with_this_requests_overlays(ct_request, client_for, dora):
    analysis, _ct = ct_request
    response = client_for(dora).get(reverse("opinions:detail", args=[analysis.public_id]))
    config = response.context["viewer_config"]
    overlays = config["overlays"]
    series_uid = Instance.objects.filter(series__study__case=analysis.case).first().series.series_uid
    assert config["initial_series_uid"] == series_uid
    assert overlays["labelmap"]["series_uid"] == series_uid
    assert [s["name"] for s in overlays["labelmap"]["structures"]][0] == "Tumour"
    assert set(overlays["heatmaps"]) == {"gradcam", "scorecam"}
    assert overlays["marker"]["world"] == analysis.opinion.result["marker"]["world"]
    assert config["analysis"]["synthetic_training"] is True
    # It opens on the tumour: the stored image nearest the marker, holding tumour pixels.
    shown = next(s for s in config["series"] if s["series_uid"] == series_uid)
    instances = list(Instance.objects.filter(series__study__case=analysis.case).order_by(*STACK_ORDER))
    depth = [abs(i.image_position[2] - overlays["marker"]["world"][2]) for i in instances]
    assert shown["initial_index"] == int(np.argmin(depth))
    labels = np.load(
        Path(settings.MEDIA_ROOT)
        / analysis.out_dir
        / analysis.opinion.result["artefacts"]["overlay_labels"]["path"]
    )
    assert (labels[shown["initial_index"]] == 1).sum() > 0
    html = response.content.decode()
    assert 'id="osteolens-viewer"' in html and "build/viewer/viewer.js" in html
    # The header each overlay URL names is served, and its layout matches the stack.
    header = client_for(dora).get(overlays["labelmap"]["url"]).json()
    assert header["shape"] == [20, 512, 512] and header["dtype"] == "uint8"
    heat = client_for(dora).get(overlays["heatmaps"]["scorecam"]["url"]).json()
    assert heat["dtype"] == "float32"


def test_radiograph_maps_become_float32_image_overlays_on_their_series(real_data, dora, client_for):
    from ingest.services import ingest_paths

    case = ingest_paths(
        [real_data / "radiograph_nof_tibia" / "RG3_J2KR.dcm"], user=dora, owner=dora, in_library=False
    ).case
    analysis = AnalysisRequest.objects.create(case=case, requested_by=dora, pipeline="bone-xray")
    out = Path(settings.MEDIA_ROOT) / analysis.out_dir
    out.mkdir(parents=True)
    heat = np.zeros((1760, 1760), np.float16)
    heat[100:200, 1500:1600] = 0.75
    np.save(out / "e3_gradcam.npy", heat)
    result = sacral_result(str(analysis.public_id))
    result["artefacts"] = {"e3_gradcam_array": "e3_gradcam.npy", "e3_gradcam": "e3_gradcam.png"}
    services.record_result(result)
    analysis.refresh_from_db()
    overlays = (
        client_for(dora)
        .get(reverse("opinions:detail", args=[analysis.public_id]))
        .context["viewer_config"]["overlays"]
    )
    # Only the converted map is offered (float16 is not in the viewer's contract).
    assert list(overlays["heatmaps"]) == ["gradcam"]
    assert overlays["heatmaps"]["gradcam"]["kind"] == "image"
    spec = analysis.opinion.result["artefacts"]["overlay_e3_gradcam"]
    converted = np.load(out / spec["path"])
    assert converted.dtype == np.float32 and converted.shape == (1, 1760, 1760)
    assert converted[0, 150, 1550] == pytest.approx(0.75, abs=1e-3) and converted[0, 150, 150] == 0


def test_a_broken_artefact_loses_no_opinion(real_data, dora, tmp_path):
    """Overlays are an extra: an unreadable mask is reported, the opinion is still recorded."""
    from ingest.services import ingest_paths

    sources = sorted((real_data / "ct_dicom_series_j2k").iterdir())[:3]
    case = ingest_paths(sources, user=dora, owner=dora, in_library=False).case
    analysis = AnalysisRequest.objects.create(case=case, requested_by=dora, pipeline="sacral-ct")
    out = Path(settings.MEDIA_ROOT) / analysis.out_dir
    out.mkdir(parents=True)
    (out / "labels.nii.gz").write_bytes(b"not a NIfTI file")
    result = sacral_result(str(analysis.public_id))
    result["artefacts"] = {"labels": "labels.nii.gz"}
    opinion = services.record_result(result)
    analysis.refresh_from_db()
    assert analysis.status == "done" and opinion is not None
    assert any(w.startswith("viewer overlays not made") for w in opinion.result["warnings"])
    assert "overlay_labels" not in opinion.result["artefacts"]
