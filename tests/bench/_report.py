"""Writing a benchmark's JSON result (make bench collects them under var/bench/)."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, out: str | Path, *, echo: bool = True) -> Path:
    """Write `report` to `out` (folders made as needed), and print it unless echo is off."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    if echo:
        print(json.dumps(report, indent=2))
    return path
