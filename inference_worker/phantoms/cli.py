"""``python -m inference_worker phantoms TASK --n N --seed S --out DIR``."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from inference_worker.vocabulary import SPLITS

TASK_CHOICES = ("sacral-ct", "bone-xray", "spine-xray")


def parse_splits(text: str) -> dict[str, float]:
    """``train=0.7,validation=0.1,test=0.2`` -> dict; argparse turns errors into usage messages."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in SPLITS:
            raise argparse.ArgumentTypeError(
                f"bad split {part!r}: expected NAME=FRACTION with NAME in {', '.join(SPLITS)}"
            )
        try:
            fraction = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad fraction {value!r} for split {name}") from None
        if fraction < 0:
            raise argparse.ArgumentTypeError(f"split {name} has a negative fraction")
        out[name] = fraction
    if sum(out.values()) <= 0:
        raise argparse.ArgumentTypeError("split fractions add up to zero")
    return out


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "phantoms",
        help="generate a synthetic phantom cohort (DICOM + labels + manifest.csv)",
        description="Generate synthetic phantom cases. Every file is marked SYNTHETIC PHANTOM.",
    )
    parser.add_argument("task", choices=TASK_CHOICES)
    parser.add_argument("--n", type=_positive, required=True, help="number of cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output folder (manifest.csv goes here)")
    parser.add_argument(
        "--splits",
        type=parse_splits,
        default={"train": 0.7, "validation": 0.1, "test": 0.2},
        help="e.g. train=0.7,validation=0.1,test=0.2[,external=0.2]",
    )
    parser.add_argument(
        "--hybrid-fraction", type=_fraction, default=0.0, help="sacral-ct only: share of hybrid cases"
    )
    parser.add_argument("--workers", type=_positive, default=2)
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from inference_worker.phantoms.cohort import generate_cohort

    if args.hybrid_fraction and args.task != "sacral-ct":
        print("error: --hybrid-fraction applies to sacral-ct only", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        manifest = generate_cohort(
            args.task, args.n, args.seed, args.out, args.splits, args.hybrid_fraction, workers=args.workers
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from inference_worker.manifest import read_manifest

    rows = read_manifest(manifest)
    took = time.perf_counter() - started
    print(f"{len(rows)} {args.task} phantom cases in {took:.1f} s -> {manifest}")
    print(
        "  diagnoses: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.diagnosis for r in rows).items()))
    )
    print("  splits:    " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.split for r in rows).items())))
    return 0
