"""A real scanner series (JPEG 2000, 20 slices): metadata, frames, sort order."""

from __future__ import annotations

import json

import numpy as np
import pydicom
from django.conf import settings
from django.urls import reverse

from cases.models import Series
from tests.platform.viewer.conftest import ingest_folder


def _parts(response) -> list[tuple[str, bytes]]:
    body = b"".join(response.streaming_content)
    boundary = response["Content-Type"].split("boundary=")[1].encode()
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        parts.append((head.decode(), data.removesuffix(b"\r\n")))
    return parts


def test_real_j2k_series_metadata_and_frames(real_data, alice, client_for):
    case = ingest_folder(real_data / "ct_dicom_series_j2k", in_library=True)
    series = Series.objects.get(study__case=case)
    study = series.study.study_uid
    client = client_for(alice)
    url = f"/dicomweb/studies/{study}/series/{series.series_uid}/metadata"
    metadata = json.loads(b"".join(client.get(url).streaming_content))
    assert len(metadata) == 20
    first = metadata[0]
    assert first["00083002"]["Value"] == ["1.2.840.10008.1.2.4.90"]
    assert first["7FE00010"]["vr"] == "OB" and "BulkDataURI" in first["7FE00010"]
    # Stack order: slice locations ascending.
    z = [m["00200032"]["Value"][2] for m in metadata]
    assert z == sorted(z)

    instance = series.instances.order_by("slice_location").first()
    frames = f"/dicomweb/studies/{study}/series/{series.series_uid}/instances/{instance.sop_uid}/frames/1"
    [(head, data)] = _parts(client.get(frames))
    assert "image/jp2" in head and "transfer-syntax=1.2.840.10008.1.2.4.90" in head
    ds = pydicom.dcmread(settings.MEDIA_ROOT / instance.path)
    assert data.startswith(b"\xff\x4f") or data[4:8] == b"jP  "  # a J2K codestream / JP2 box
    [(head, raw)] = _parts(
        client.get(frames, HTTP_ACCEPT='multipart/related; type="application/octet-stream"')
    )
    assert "application/octet-stream" in head
    assert np.array_equal(
        np.frombuffer(raw, ds.pixel_array.dtype).reshape(ds.Rows, ds.Columns), ds.pixel_array
    )

    config = client.get(reverse("viewer:case-config", args=[case.public_id])).json()
    [entry] = config["series"]
    assert len(entry["image_ids"]) == 20 and entry["window_width"]
