"""The viewer in real Chromium against real DICOM files, proven by the pixels on screen.

No Django: a static harness (tests/browser/harness_server.py) serves the built bundle, the
harness page and the files. Run:
    .venv/bin/python -m pytest -p no:django tests/browser/test_viewer_harness.py
"""

from __future__ import annotations

import io
import time

import numpy as np
import pydicom
import pytest
from PIL import Image
from scipy import ndimage

from tests.browser.harness_server import REAL_DATA, open_viewer, read_series, series_entry, state

pytestmark = pytest.mark.browser

CT_DIR = REAL_DATA / "ct_dicom_series_j2k"
RG_DIR = REAL_DATA / "radiograph_nof_tibia"
STACK = '.olv-vp[data-viewport="stack"]'
# Known points of the MONOCHROME1 tibia radiograph (row, col), checked against the stored
# values below: tibial shaft (low stored value = bright bone) and calf soft tissue.
RG_BONE = (400, 860)
RG_SOFT = (400, 700)


# ---------- helpers ----------


def screenshot(page, selector=STACK) -> np.ndarray:
    png = page.locator(selector).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def image_to_canvas(page, col, row, viewport="stack"):
    return page.evaluate(f"() => window.osteolensViewerApi.imageToCanvas({col}, {row}, '{viewport}')")


def patch(pixels, xy, radius=3) -> np.ndarray:
    x, y = (int(round(v)) for v in xy)
    return pixels[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3)


def luminance(pixels, xy) -> float:
    return float(patch(pixels, xy).mean())


def assert_real_render(pixels):
    grey = pixels.mean(axis=2)
    assert grey.std() > 20, f"flat image (std {grey.std():.1f})"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10


def wait_state(page, js_condition, timeout=10000):
    page.wait_for_function(
        f"() => {{ const s = window.osteolensViewer; return {js_condition}; }}", timeout=timeout
    )
    return state(page)


def eventually(check, timeout=5.0):
    """Segmentation and overlays paint on a later animation frame: poll the screen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def centre_of(page, selector=STACK):
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


@pytest.fixture(scope="module")
def ct_files():
    return read_series(CT_DIR)


@pytest.fixture(scope="module")
def ct_hu(ct_files):
    ds = pydicom.dcmread(ct_files[0][0])
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def ct_config(harness, ct_files, **extra):
    return {
        "wasm_base_path": harness.wasm_base_path,
        "series": [series_entry(harness, "ct", CT_DIR, ct_files)],
        **extra,
    }


def bone_and_soft_points(hu):
    """(col, row) inside cortical/trabecular bone and inside homogeneous soft tissue."""
    bone = ndimage.minimum_filter(hu, size=7) > 400
    soft = ndimage.minimum_filter(hu, size=15) > 20
    soft &= ndimage.maximum_filter(hu, size=15) < 90
    by, bx = np.argwhere(bone)[len(np.argwhere(bone)) // 2]
    sy, sx = np.argwhere(soft)[len(np.argwhere(soft)) // 2]
    return (int(bx), int(by)), (int(sx), int(sy))


# ---------- rendering ----------


def test_jpeg2000_ct_renders_bone_brighter_than_soft_tissue(viewer_page, harness, ct_files, ct_hu):
    s = open_viewer(viewer_page, harness, ct_config(harness, ct_files), "ct")
    assert s["errors"] == [] and s["renderer"] == "gpu"
    assert s["sliceCount"] == 20 and s["sliceIndex"] == 0
    assert s["imageId"].endswith(ct_files[0][0].name)
    # The first of the file's windows (C40/W300) is applied.
    assert (round(s["windowCenter"]), round(s["windowWidth"])) == (40, 300)
    pixels = screenshot(viewer_page)
    assert_real_render(pixels)
    (bone, soft) = bone_and_soft_points(ct_hu)
    bone_lum = luminance(pixels, image_to_canvas(viewer_page, *bone))
    soft_lum = luminance(pixels, image_to_canvas(viewer_page, *soft))
    # Soft tissue sits mid-grey in C40/W300, bone at the top: a black (undecoded) image fails.
    assert bone_lum > 230 and 60 < soft_lum < 200 and bone_lum > soft_lum + 50, (bone_lum, soft_lum)


def test_monochrome1_radiograph_shows_bone_bright(viewer_page, harness):
    stored = pydicom.dcmread(RG_DIR / "RG3_J2KR.dcm").pixel_array
    assert stored[RG_BONE].item() < stored[RG_SOFT].item() - 200  # MONOCHROME1: bone is LOW
    config = {"wasm_base_path": harness.wasm_base_path, "series": [series_entry(harness, "rg", RG_DIR)]}
    s = open_viewer(viewer_page, harness, config, "rg")
    assert s["errors"] == [] and s["sliceCount"] == 1
    pixels = screenshot(viewer_page)
    assert_real_render(pixels)
    bone = luminance(pixels, image_to_canvas(viewer_page, RG_BONE[1], RG_BONE[0]))
    soft = luminance(pixels, image_to_canvas(viewer_page, RG_SOFT[1], RG_SOFT[0]))
    assert bone > soft + 40, (bone, soft)
    # No patient geometry in the file: no orientation letters, the scale bar says px.
    assert viewer_page.locator(f"{STACK}.no-orientation").count() == 1
    assert s["scaleUnit"] == "px"


# ---------- navigation and windowing ----------


def test_wheel_keys_and_slider_scroll_the_stack(viewer_page, harness, ct_files):
    open_viewer(viewer_page, harness, ct_config(harness, ct_files), "ct")
    first = state(viewer_page)["imageId"]
    viewer_page.mouse.move(*centre_of(viewer_page))
    viewer_page.mouse.wheel(0, 120)
    s = wait_state(viewer_page, "s.sliceIndex === 1")
    assert s["imageId"] != first and s["imageId"].endswith(ct_files[1][0].name)
    viewer_page.keyboard.press("ArrowDown")
    s = wait_state(viewer_page, "s.sliceIndex === 2")
    assert s["imageId"].endswith(ct_files[2][0].name)
    assert viewer_page.locator(".olv-slice-label").inner_text() == "slice 3 of 20"
    viewer_page.locator(".olv-slider").fill("20")
    s = wait_state(viewer_page, "s.sliceIndex === 19")
    assert s["imageId"].endswith(ct_files[19][0].name)


def test_drag_presets_and_invert_change_window_level(viewer_page, harness, ct_files):
    s0 = open_viewer(viewer_page, harness, ct_config(harness, ct_files), "ct")
    before = screenshot(viewer_page)
    x, y = centre_of(viewer_page)
    viewer_page.mouse.move(x, y)
    viewer_page.mouse.down()
    viewer_page.mouse.move(x + 80, y + 60, steps=5)
    viewer_page.mouse.up()
    s = wait_state(
        viewer_page, f"s.windowWidth !== {s0['windowWidth']} && s.windowCenter !== {s0['windowCenter']}"
    )
    assert s["windowWidth"] > s0["windowWidth"]  # dragging right widens the window
    assert np.abs(screenshot(viewer_page) - before).mean() > 2
    viewer_page.keyboard.press("2")
    s = wait_state(viewer_page, "Math.round(s.windowWidth) === 2000")
    assert round(s["windowCenter"]) == 500
    viewer_page.locator(".olv-presets").select_option("soft")
    s = wait_state(viewer_page, "Math.round(s.windowWidth) === 400")
    assert round(s["windowCenter"]) == 40
    viewer_page.keyboard.press("1")
    s = wait_state(viewer_page, "Math.round(s.windowWidth) === 300")
    plain = screenshot(viewer_page)
    viewer_page.keyboard.press("i")
    s = wait_state(viewer_page, "s.invert === true")
    inverted = screenshot(viewer_page)
    # Inside the image the grey levels flip: the mean of (plain + inverted) is near 255.
    centre = (plain + inverted)[300:400, 400:500].mean()
    assert 230 < centre < 280, centre


def test_length_and_angle_measurements(viewer_page, harness, ct_files):
    open_viewer(viewer_page, harness, ct_config(harness, ct_files), "ct")
    x, y = centre_of(viewer_page)
    viewer_page.keyboard.press("l")
    viewer_page.mouse.move(x - 100, y)
    viewer_page.mouse.down()
    viewer_page.mouse.move(x + 100, y, steps=5)
    viewer_page.mouse.up()
    s = wait_state(viewer_page, "s.measurements.length === 1")
    length = s["measurements"][0]
    assert length["tool"] == "Length" and length["unit"] == "mm"
    # 200 screen px at the fitted zoom of a 500 mm field of view is well over 50 mm.
    assert 50 < length["value"] < 300
    viewer_page.keyboard.press("a")
    viewer_page.mouse.click(x - 80, y + 80)
    viewer_page.mouse.click(x, y + 150)
    viewer_page.mouse.click(x + 80, y + 80)
    s = wait_state(viewer_page, "s.measurements.length === 2")
    assert s["measurements"][1]["tool"] == "Angle"
    assert 60 < s["measurements"][1]["value"] < 120


def test_thumbnail_switches_series_and_help_lists_shortcuts(viewer_page, harness, ct_files):
    config = ct_config(harness, ct_files)
    radiograph = series_entry(harness, "rg", RG_DIR)
    config["series"].append(radiograph)
    open_viewer(viewer_page, harness, config, "both")
    assert viewer_page.locator(".olv-thumb").count() == 2
    uid = radiograph["series_uid"]
    viewer_page.locator(f'.olv-thumb[data-series-uid="{uid}"]').click()
    s = wait_state(viewer_page, f"s.seriesUid === '{uid}' && s.sliceCount === 1 && s.imageId.includes('RG3')")
    assert s["errors"] == []
    viewer_page.keyboard.press("?")
    assert viewer_page.locator(".olv-help").is_visible()
    assert "window/level" in viewer_page.locator(".olv-help").inner_text()


# ---------- overlays ----------


def plane_world(ds, col, row):
    """DICOM patient coordinates of pixel (col, row)."""
    ipp = np.array(ds.ImagePositionPatient, float)
    iop = np.array(ds.ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    return (ipp + col * col_spacing * iop[:3] + row * row_spacing * iop[3:]).tolist()


def test_labelmap_structures_colour_and_toggle(viewer_page, harness, ct_files):
    labels = np.zeros((20, 512, 512), np.uint8)
    labels[:, 80:140, 80:140] = 1  # in the air, top-left: any colour there is the overlay
    labels[:, 80:140, 380:440] = 2
    config = ct_config(harness, ct_files)
    config["overlays"] = {
        "labelmap": {
            "url": harness.write_overlay_volume("overlays/labels", labels),
            "series_uid": config["series"][0]["series_uid"],
            "structures": [
                {"value": 1, "name": "Tumour", "color": [255, 0, 0]},
                {"value": 2, "name": "Femur", "color": [0, 255, 0]},
            ],
        }
    }
    open_viewer(viewer_page, harness, config, "labelmap")
    wait_state(viewer_page, "s.overlays.labelmap === true && s.cached === 20", timeout=15000)

    def colour(col, row):
        return patch(screenshot(viewer_page), image_to_canvas(viewer_page, col, row)).mean(axis=0)

    assert eventually(lambda: colour(110, 110)[0] > 80)
    red, green, empty = colour(110, 110), colour(410, 110), colour(256, 110)
    assert red[0] > red[1] + 50 and red[0] > red[2] + 50, red
    assert green[1] > 80 and green[1] > green[0] + 50, green
    assert empty.max() < 30, empty
    # Hide "Tumour" only.
    viewer_page.locator('.olv-structures input[data-value="1"]').uncheck()
    assert eventually(lambda: colour(110, 110)[0] < 30)
    assert colour(410, 110)[1] > 80
    # The whole segmentation off.
    viewer_page.keyboard.press("s")
    s = wait_state(viewer_page, "s.overlays.labelmap === false")
    assert eventually(lambda: colour(410, 110)[1] < 30)
    assert s["errors"] == []


def test_heatmaps_follow_pan_and_switch_and_marker(viewer_page, harness, ct_files):
    grad = np.zeros((20, 512, 512), np.float32)
    grad[:, 60:120, 60:120] = 0.75  # jet(0.75) = orange (255, 128, 0)
    score = np.zeros((20, 512, 512), np.uint8)
    score[:, 60:120, 390:450] = 255  # dark red
    ds0 = pydicom.dcmread(ct_files[0][0], stop_before_pixels=True)
    config = ct_config(harness, ct_files)
    uid = config["series"][0]["series_uid"]
    config["overlays"] = {
        "heatmaps": {
            "gradcam": {
                "url": harness.write_overlay_volume("overlays/grad", grad),
                "kind": "volume",
                "series_uid": uid,
            },
            "scorecam": {
                "url": harness.write_overlay_volume("overlays/score", score),
                "kind": "volume",
                "series_uid": uid,
            },
        },
        "marker": {"world": plane_world(ds0, 256, 450), "label": "Lesion"},
    }
    open_viewer(viewer_page, harness, config, "heat")
    viewer_page.locator(".olv-opacity").fill("100")
    viewer_page.locator('.olv-heat-choice input[value="gradcam"]').check()
    s = wait_state(viewer_page, "s.overlays.heatmap === 'gradcam'")
    assert s["overlays"]["marker"] is True
    viewer_page.wait_for_timeout(200)

    def colour(col, row):
        return patch(screenshot(viewer_page), image_to_canvas(viewer_page, col, row)).mean(axis=0)

    orange = colour(90, 90)
    assert orange[0] > 200 and 80 < orange[1] < 180 and orange[2] < 60, orange
    assert colour(420, 90).max() < 30
    # Pan with the middle button: the map moves with the image.
    x, y = centre_of(viewer_page)
    before = image_to_canvas(viewer_page, 90, 90)
    viewer_page.mouse.move(x, y)
    viewer_page.mouse.down(button="middle")
    viewer_page.mouse.move(x + 120, y + 70, steps=5)
    viewer_page.mouse.up(button="middle")
    viewer_page.wait_for_timeout(200)
    after = image_to_canvas(viewer_page, 90, 90)
    assert abs(after[0] - before[0]) > 60
    assert colour(90, 90)[0] > 200
    # Switch to Score-CAM.
    viewer_page.keyboard.press("h")
    wait_state(viewer_page, "s.overlays.heatmap === 'scorecam'")
    viewer_page.wait_for_timeout(200)
    assert colour(90, 90).max() < 30
    dark_red = colour(420, 90)
    assert dark_red[0] > 90 and dark_red[1] < 30, dark_red
    assert viewer_page.locator(".olv-colourbar").is_visible()
    # The marker ring (radius 10 px) around the lesion point, in yellow.
    mx, my = viewer_page.evaluate(
        f"() => window.osteolensViewerApi.worldToCanvas({config['overlays']['marker']['world']}, 'stack')"
    )
    ring = screenshot(viewer_page)[int(my) - 12 : int(my) + 13, int(mx) - 12 : int(mx) + 13].reshape(-1, 3)
    yellow = (ring[:, 0] > 200) & (ring[:, 1] > 180) & (ring[:, 2] < 80)
    assert yellow.sum() > 20
    assert state(viewer_page)["errors"] == []


# ---------- MPR and fallback ----------


def test_mpr_shows_three_planes(viewer_page, harness, ct_files):
    open_viewer(viewer_page, harness, ct_config(harness, ct_files), "mpr")
    wait_state(viewer_page, "s.cached === 20")
    viewer_page.keyboard.press("m")
    s = wait_state(viewer_page, "s.mode === 'mpr' && s.renders > 1", timeout=15000)
    assert s["errors"] == []
    viewer_page.wait_for_timeout(500)  # streamed volume: let the slices arrive
    for plane in ("axial", "sagittal", "coronal"):
        pixels = screenshot(viewer_page, f'.olv-vp[data-viewport="{plane}"]')
        assert_real_render(pixels)
    # Scrolling the axial plane moves through the acquired slices.
    first = state(viewer_page)["imageId"]
    viewer_page.mouse.move(*centre_of(viewer_page, '.olv-vp[data-viewport="axial"]'))
    viewer_page.mouse.wheel(0, 120)
    s = wait_state(viewer_page, f"s.imageId !== {first!r}")
    assert s["imageId"] in {f"wadouri:{harness.base}/data/ct/{p.name}" for p, _ in ct_files}
    # The slider and the presets act on the active (axial) plane.
    viewer_page.locator(".olv-slider").fill("1")
    s = wait_state(viewer_page, "s.sliceIndex === 0")
    viewer_page.keyboard.press("2")
    wait_state(viewer_page, "Math.round(s.windowWidth) === 2000")
    viewer_page.keyboard.press("m")
    s = wait_state(viewer_page, "s.mode === 'stack'")
    assert s["sliceCount"] == 20 and s["errors"] == []


def test_cpu_fallback_renders_stack_with_notice(viewer_page, harness, ct_files, ct_hu):
    grad = np.zeros((20, 512, 512), np.float32)
    grad[:, 60:120, 60:120] = 0.75
    config = ct_config(harness, ct_files, force_cpu=True)
    uid = config["series"][0]["series_uid"]
    config["overlays"] = {
        "heatmaps": {
            "gradcam": {"url": harness.write_overlay_volume("overlays/cpu-grad", grad), "series_uid": uid}
        }
    }
    s = open_viewer(viewer_page, harness, config, "cpu")
    assert s["renderer"] == "cpu" and s["errors"] == []
    notice = viewer_page.locator(".olv-notice")
    assert notice.is_visible() and "WebGL" in notice.inner_text()
    pixels = screenshot(viewer_page)
    assert_real_render(pixels)
    bone, soft = bone_and_soft_points(ct_hu)
    assert (
        luminance(pixels, image_to_canvas(viewer_page, *bone))
        > luminance(pixels, image_to_canvas(viewer_page, *soft)) + 50
    )
    viewer_page.mouse.move(*centre_of(viewer_page))
    viewer_page.mouse.wheel(0, 120)
    wait_state(viewer_page, "s.sliceIndex === 1")
    assert viewer_page.locator('[data-action="mpr"]').is_disabled()
    # The heat-map is a plain 2D canvas: it works on the CPU renderer too.
    viewer_page.locator(".olv-opacity").fill("100")
    viewer_page.keyboard.press("h")
    wait_state(viewer_page, "s.overlays.heatmap === 'gradcam'")

    def colour():
        return patch(screenshot(viewer_page), image_to_canvas(viewer_page, 90, 90)).mean(axis=0)

    assert eventually(lambda: colour()[0] > 200)
    orange = colour()
    assert 80 < orange[1] < 180 and orange[2] < 60, orange
