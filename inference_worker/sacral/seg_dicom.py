"""DICOM SEG of the sacral structures, referencing the CT series it was made from."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes

from inference_worker.io.ct import CTVolume
from inference_worker.sacral.preprocess import STRUCTURES

_SEGMENTS = {
    "tumour": ("Sacral tumour", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
    "left_hip": ("Left hip bone", codes.SCT.Tissue, codes.SCT.Bone),
    "right_hip": ("Right hip bone", codes.SCT.Tissue, codes.SCT.Bone),
    "sacrum": ("Sacrum", codes.SCT.Tissue, codes.SCT.Bone),
}


def write_seg(ct: CTVolume, labels: np.ndarray, path: str | Path, model: dict) -> Path | None:
    """Write a labelmap-style BINARY SEG (one segment per structure present); None if empty."""
    if ct.source != "dicom" or not ct.datasets:
        raise ValueError("a DICOM SEG needs the source DICOM series")
    # Back to the source grid: (columns, rows, slices) in sorted order -> frames (slices, rows, cols).
    frames = ct.to_source(labels).transpose(2, 1, 0)
    present = [name for name, value in STRUCTURES.items() if (frames == value).any()]
    if not present:
        return None
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"OsteoLens {model.get('name', 'segmenter')}",
        version=str(model.get("version", "0")),
        family=codes.cid7162.ArtificialIntelligence,
    )
    descriptions, stack = [], []
    for number, name in enumerate(present, start=1):
        label, category, kind = _SEGMENTS[name]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=label,
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
            )
        )
        stack.append(frames == STRUCTURES[name])
    pixel_array = np.stack(stack, axis=-1).astype(np.uint8)  # (frames, rows, cols, segments)
    seg = hd.seg.Segmentation(
        source_images=ct.datasets,
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=9001,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="OsteoLens",
        manufacturer_model_name="sacral-ct",
        software_versions=str(model.get("version", "0")),
        device_serial_number="research-0001",
        series_description="OsteoLens sacral segmentation (research use only)",
    )
    path = Path(path)
    seg.save_as(path)
    return path
