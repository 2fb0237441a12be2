"""``python -m inference_worker analyze TASK PATH... [--clinical JSON] [--reader JSON] --out DIR``."""

from __future__ import annotations

import json
import sys

from inference_worker.pipelines import pipeline, tasks


def _json_arg(text: str | None, name: str):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"--{name} must be a JSON object")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="analyse one study and print the result JSON")
    parser.add_argument("task", choices=tasks())
    parser.add_argument("paths", nargs="+", help="DICOM folder/files or one NIfTI/image file")
    parser.add_argument("--clinical", default=None, help='e.g. \'{"age": 54, "sex": "M"}\'')
    parser.add_argument("--reader", default=None, help='e.g. \'{"suspicion": 4, "signs": {...}}\'')
    parser.add_argument("--models", default=None, help="models folder (default: $MODELS_DIR)")
    parser.add_argument("--out", required=True, help="folder for the artefacts")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)


def run(args) -> int:
    def progress(stage: str, fraction: float) -> None:
        if not args.quiet:
            print(f"[{fraction:4.0%}] {stage}", file=sys.stderr)

    result = pipeline(args.task).analyze(
        args.paths,
        clinical=_json_arg(args.clinical, "clinical"),
        reader=_json_arg(args.reader, "reader"),
        out_dir=args.out,
        progress=progress,
        models_dir=args.models,
    )
    print(json.dumps(result, indent=2))
    return 0
