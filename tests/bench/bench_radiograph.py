"""CPU timings of every radiograph model: inference, Grad-CAM and Score-CAM on one image.

Networks are built untrained (timing does not depend on the weights) in the recipe's
configuration, at its input size. Writes var/bench/radiograph.json.

    .venv/bin/python tests/bench/bench_radiograph.py [--recipe paper|demo] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from inference_worker.radiograph.networks import build_classifier  # noqa: E402
from inference_worker.radiograph.overlay import model_cams  # noqa: E402
from inference_worker.radiograph.recipes import recipe  # noqa: E402

MODELS = {  # name -> (architecture, in_channels, views)
    "bone/efficientnet-b3": ("efficientnet-b3", 1, 1),
    "bone/efficientnet-b4": ("efficientnet-b4", 1, 1),
    "bone/vit": ("vit", 1, 1),
    "bone/swin": ("swin", 1, 1),
    "spine/ap (b0)": ("efficientnet-b0", 1, 1),
    "spine/concat (2 x b0)": ("efficientnet-b0", 1, 2),
    "spine/chconcat (b0, 2 channels)": ("efficientnet-b0", 2, 1),
}


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, lazy inits)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="paper")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-channels", type=int, default=32)
    parser.add_argument("--out", default=str(REPO / "var" / "bench" / "radiograph.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    r = recipe(args.recipe)
    rows = {}
    for name, (arch, channels, views) in MODELS.items():
        net = build_classifier(
            arch, size=r["size"], params=r["params"], in_channels=channels, views=views
        ).eval()
        x = torch.randn(channels * views, r["size"], r["size"]).numpy()
        layer = net.cam_layers[0]

        def infer(net=net, x=x):
            with torch.no_grad():
                net(torch.as_tensor(x[None]))

        rows[name] = {
            "parameters": sum(p.numel() for p in net.parameters()),
            "inference_s": round(_time(infer, args.repeats), 4),
            "gradcam_s": round(
                _time(lambda n=net, x=x, k=layer: model_cams(n, x, k, ("gradcam",)), args.repeats), 4
            ),
            "scorecam_s": round(
                _time(
                    lambda n=net, x=x, k=layer: model_cams(
                        n, x, k, ("scorecam",), max_channels=args.max_channels
                    ),
                    max(1, args.repeats // 2),
                ),
                4,
            ),
        }
        print(name, rows[name], flush=True)
    report = {
        "recipe": args.recipe,
        "input_size": r["size"],
        "threads": args.threads,
        "scorecam_max_channels": args.max_channels,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "note": "median of repeats, batch 1, untrained weights; shared CPU, so absolute times are noisy",
        "models": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
