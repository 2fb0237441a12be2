"""Model artefacts (segmentation masks, heat-maps) of a finished analysis.

The worker writes them under MEDIA_ROOT/<request.out_dir>/ and lists them in its result
as ``result["artefacts"]``: a mapping name -> path relative to that folder, or name ->
{"path": ..., "kind": "labelmap" | "heatmap", "series_uid": ..., "structures": [...]}
(heat-maps may add "overlay": the name the viewer's switch shows, and "volume_kind").
When a result declares any overlay with its kind (opinions.overlays does, converting
the pipelines' NIfTI and float16 files), only the declared ones are offered.
Volumes are ``.npy`` arrays shaped [slices, rows, cols] (uint8 labels, or float32 in
[0, 1] / uint8 for heat-maps) whose slice k lies on the k-th instance of the series in
stack order (opinions.services.case_inputs: slice location, instance number, id); the
viewer gets them through a small JSON header and the raw array bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.http import Http404

from opinions.models import AnalysisRequest, ModelOpinion

LABELMAP_NAMES = ("segmentation", "mask", "labelmap", "tumour_mask", "tumor_mask")
HEATMAP_NAMES = ("gradcam", "scorecam", "heatmap", "saliency")
VOLUME_DTYPES = {"|u1": "uint8", "<f4": "float32"}
DEFAULT_STRUCTURES = [{"value": 1, "name": "Tumour", "color": [255, 64, 64]}]


@dataclass
class Artefact:
    name: str
    path: Path
    kind: str  # "labelmap" | "heatmap" | "file"
    spec: dict


def _kind(name: str, spec: dict) -> str:
    if spec.get("kind") in ("labelmap", "heatmap"):
        return spec["kind"]
    lowered = name.lower()
    if any(word in lowered for word in LABELMAP_NAMES):
        return "labelmap"
    if any(word in lowered for word in HEATMAP_NAMES):
        return "heatmap"
    return "file"


def inside(root: Path, relative: str) -> Path:
    """root/relative, refusing absolute paths, '..' and links that leave root."""
    if not relative or Path(relative).is_absolute():
        raise Http404("No such artefact.")
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise Http404("No such artefact.")
    return path


def artefacts_of(request: AnalysisRequest, opinion: ModelOpinion) -> dict[str, Artefact]:
    raw = (opinion.result or {}).get("artefacts") or {}
    if not isinstance(raw, dict):
        return {}
    root = Path(settings.MEDIA_ROOT) / request.out_dir
    found = {}
    for name, value in raw.items():
        spec = value if isinstance(value, dict) else {"path": value}
        relative = spec.get("path")
        if not isinstance(relative, str):
            continue
        try:
            path = inside(root, relative)
        except Http404:
            continue  # a bad path in a result is skipped, never followed
        found[str(name)] = Artefact(name=str(name), path=path, kind=_kind(str(name), spec), spec=spec)
    return found


def npy_layout(path: Path) -> tuple[tuple[int, ...], str, int]:
    """(shape, dtype name, byte offset of the data) of a C-ordered volume .npy file."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except (OSError, ValueError) as exc:
        raise Http404("Not a volume artefact.") from exc
    name = VOLUME_DTYPES.get(dtype.str)
    if fortran or name is None or len(shape) not in (2, 3):
        raise Http404("Unsupported volume layout.")
    if len(shape) == 2:
        shape = (1, *shape)
    return tuple(int(s) for s in shape), name, offset
