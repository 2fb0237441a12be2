"""The bone-xray pipeline's entry points for the generic train/evaluate/analyze commands."""

from inference_worker.radiograph.entry_points import entry_points

_entry = entry_points("bone-xray", "inference_worker.bone_xray")
train, evaluate, analyze = _entry.train, _entry.evaluate, _entry.analyze
