"""Benchmark: fast Score-CAM against the textbook one on MONAI networks (CPU).

    .venv/bin/python tests/bench/bench_scorecam.py --out var/bench/scorecam.json

The textbook method needs one forward pass per channel (1,024 for DenseNet121-3D), so
its time is measured on a fixed subset of channels and extrapolated linearly (the cost
per channel is one batch-of-one forward, the same for every channel). Its full map,
needed for the correlation, is computed with every channel scored in batches
(``score_cam(max_channels=None)``), which the tests check equals the textbook map.
Weights are random (seeded): there is no trained model in the repository.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from monai.networks.nets import DenseNet121, EfficientNetBN

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from inference_worker.saliency import score_cam  # noqa: E402
from inference_worker.saliency.scorecam import _forward_with_activations  # noqa: E402


def phantom(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A bright ellipsoid off-centre on noise: something for the network to respond to."""
    gen = torch.Generator().manual_seed(seed)
    grids = torch.meshgrid(*[torch.linspace(-1, 1, s) for s in shape], indexing="ij")
    centre = [0.3, -0.25, 0.15][: len(shape)]
    r2 = sum(((g - c) / 0.25) ** 2 for g, c in zip(grids, centre, strict=True))
    img = torch.exp(-r2) + 0.1 * torch.randn(shape, generator=gen)
    return img[None, None]


def time_reference_subset(model, x, layer: str, n_channels: int) -> float:
    """Seconds per channel of the textbook loop: a batch-of-one masked forward each."""
    module = dict(model.named_modules())[layer]
    _, acts, _ = _forward_with_activations(model, x, module)
    masks_src = acts[0, :n_channels]
    up = torch.nn.functional.interpolate
    mode = "trilinear" if x.ndim == 5 else "bilinear"
    start = time.perf_counter()
    with torch.no_grad():
        for k in range(n_channels):
            m = up(masks_src[k][None, None], size=x.shape[2:], mode=mode, align_corners=False)
            m = (m - m.min()) / (m.max() - m.min() + 1e-12)
            torch.softmax(model(x * m), 1)
    return (time.perf_counter() - start) / n_channels


def bench(name: str, model, x, layer: str, subset: int, settings: list[dict]) -> dict:
    model.eval()
    module = dict(model.named_modules())[layer]
    _, acts, _ = _forward_with_activations(model, x, module)
    n_channels = int(acts.shape[1])
    per_channel = time_reference_subset(model, x, layer, subset)
    print(f"{name}: textbook {per_channel:.3f} s per channel ({subset} timed)", flush=True)
    # the textbook also runs one unmasked and one baseline forward
    ref_time = per_channel * (n_channels + 2)
    start = time.perf_counter()
    ref_map = score_cam(model, x, layer, max_channels=None, batch_size=16)
    full_batched_time = time.perf_counter() - start
    print(f"{name}: full map, every channel batched, {full_batched_time:.1f} s", flush=True)
    rows = []
    for s in settings:
        score_cam(model, x, layer, **s)  # warm-up
        start = time.perf_counter()
        fast = score_cam(model, x, layer, **s)
        t = time.perf_counter() - start
        r = float(np.corrcoef(fast.ravel(), ref_map.ravel())[0, 1])
        # The batched full map is a floor for the textbook cost (batch-of-one is never
        # cheaper per image); on a shared, loaded CPU it is the fairer comparison.
        floor = full_batched_time * (n_channels + 2) / n_channels
        rows.append(
            {
                **s,
                "seconds": t,
                "speedup": ref_time / t,
                "speedup_vs_batched_floor": floor / t,
                "pearson_r": r,
            }
        )
        print(f"{name} {s}: {t:.2f} s, x{ref_time / t:.1f}, r={r:.4f}", flush=True)
    return {
        "network": name,
        "input_shape": list(x.shape),
        "target_layer": layer,
        "channels": n_channels,
        "reference_seconds": ref_time,
        "reference_timing": f"extrapolated: {subset} channels timed one by one, x ({n_channels} + 2) forwards",
        "reference_seconds_per_channel": per_channel,
        "reference_map_batched_seconds": full_batched_time,
        "fast": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/scorecam.json"))
    parser.add_argument("--subset", type=int, default=48, help="channels timed for the textbook method")
    parser.add_argument("--skip-2d", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = []
    dn = DenseNet121(spatial_dims=3, in_channels=1, out_channels=6)
    settings = [{"max_channels": 32, "batch_size": 16}, {"max_channels": 48, "batch_size": 16}]
    results.append(
        bench("DenseNet121-3D", dn, phantom((64, 64, 64), 0), "class_layers.relu", args.subset, settings)
    )
    if not args.skip_2d:
        torch.manual_seed(0)
        eff = EfficientNetBN(
            "efficientnet-b0", pretrained=False, spatial_dims=2, in_channels=1, num_classes=1
        )
        settings = [{"max_channels": 32, "batch_size": 16}, {"max_channels": 64, "batch_size": 16}]
        results.append(
            bench(
                "EfficientNet-B0-2D (1 sigmoid logit)",
                eff,
                phantom((224, 224), 1),
                "_swish",
                args.subset,
                settings,
            )
        )
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
