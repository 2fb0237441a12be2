"""The viewer page's own preview of its opening slice, and the module list it preloads."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pydicom
from django.conf import settings
from django.urls import reverse
from PIL import Image

from tests.platform.factories import make_case
from tests.platform.viewer.conftest import add_series

PREVIEW = re.compile(r'<img class="olv-preview" src="data:image/png;base64,([^"]+)" data-image-id="([^"]+)"')


def _page(client, case) -> str:
    response = client.get(reverse("viewer:case", args=[case.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_page_carries_the_opening_slice_windowed(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    series = add_series(case, 5, size=48)
    html = _page(client_for(dora), case)
    [(data, image_id)] = PREVIEW.findall(html)
    middle = series.instances.order_by("slice_location")[2]
    assert image_id == f"wadouri:http://testserver/viewer/wado/{middle.sop_uid}"
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
    # Full resolution and the file's window (W400/L40): the 1000 HU disc is white, the
    # -50 HU around it (110 above the window's floor of -160) grey.
    assert pixels.shape == (48, 48)
    assert pixels[24, 24] == 255
    assert abs(int(pixels[2, 2]) - round(110 / 400 * 255)) <= 1
    assert 'width="48" height="48"' in html


def test_page_preloads_the_bundle_and_starts_with_boot(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    add_series(case, 2)
    html = _page(client_for(dora), case)
    preloads = re.findall(r'<link rel="modulepreload" href="/static/build/viewer/([^"]+)">', html)
    assert "viewer.js" in preloads and any(name.startswith("chunk-") for name in preloads)
    bundle = settings.BASE_DIR / "static" / "build" / "viewer"
    for name in preloads:
        assert (bundle / name).exists(), name
    assert '<script type="module" src="/static/build/viewer/boot.js">' in html


def test_a_slice_the_server_cannot_decode_costs_only_the_preview(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    series = add_series(case, 3)
    middle = series.instances.order_by("slice_location")[1]
    path = settings.MEDIA_ROOT / middle.path
    ds = pydicom.dcmread(path)
    ds.PixelData = b"\0" * 10  # far too short for 32 x 32 x 16 bits
    ds.save_as(path, enforce_file_format=True)
    html = _page(client_for(dora), case)
    assert 'class="olv-preview"' not in html
    assert 'id="viewer-config"' in html


def test_no_preview_without_images(dora, client_for):
    case = make_case(in_library=False, owner=dora)
    html = _page(client_for(dora), case)
    assert "olv-preview" not in html and "modulepreload" not in html
