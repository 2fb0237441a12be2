"""The still image the viewer page carries in its HTML, shown before the bundle has run.

Compiling the Cornerstone bundle takes about half a second before any viewer code runs;
the page therefore ships the slice the viewer opens on as a windowed PNG (the library's
own renderer, cases.thumbnails, at full resolution) and the bundle replaces it with its
live render in the same place.
"""

from __future__ import annotations

import base64

from cases import thumbnails
from cases.models import Instance
from viewer.selectors import STACK_ORDER

# thumbnails never enlarge, so any size at least the image's own gives full resolution;
# the rows/columns of the stored instance are used when known (one cached file per size).
FALLBACK_SIZE = 4096


def initial_slice(config: dict) -> tuple[dict, int] | None:
    """(series entry, slice index) the viewer bundle opens on, as viewer.js chooses them."""
    series = config.get("series") or []
    if not series:
        return None
    wanted = config.get("initial_series_uid")
    entry = next((s for s in series if s["series_uid"] == wanted), series[0])
    return entry, int(entry.get("initial_index") or 0)


def preview_for(case, config: dict) -> dict | None:
    """{"src": data URI, "image_id": the image id the live render will show, "width", "height"}."""
    found = initial_slice(config)
    if found is None:
        return None
    entry, index = found
    instances = Instance.objects.filter(
        series__study__case=case, series__series_uid=entry["series_uid"]
    ).order_by(*STACK_ORDER)
    instance = instances[index : index + 1].first()
    if instance is None:
        return None
    size = max(instance.rows or 0, instance.columns or 0) or FALLBACK_SIZE
    try:
        png = thumbnails.thumbnail_for(instance, size).read_bytes()
    except (OSError, ValueError, RuntimeError, NotImplementedError, AttributeError):
        # A file the server cannot decode (missing codec, damaged pixels) only costs the
        # preview: the bundle still shows the image.
        return None
    # The PNG's own size (IHDR, right after the 8-byte signature and the chunk header).
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return {
        "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "image_id": entry["image_ids"][index],
        "width": width,
        "height": height,
    }
