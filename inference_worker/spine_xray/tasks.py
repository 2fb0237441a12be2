"""The spine-xray pipeline's entry points for the generic train/evaluate/analyze commands."""

from inference_worker.radiograph.entry_points import entry_points

# Seed 004's best models used class down-sampling (random majority-class undersampling).
_entry = entry_points("spine-xray", "inference_worker.spine_xray", balance="downsample")
train, evaluate, analyze = _entry.train, _entry.evaluate, _entry.analyze
