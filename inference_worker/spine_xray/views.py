"""Seed 004's view variants: which views each model needs and how they are combined.

- ``ap`` / ``lateral``: EfficientNet-B0 on one view.
- ``concat``: one B0 encoder per view, pooled features concatenated before the logit.
- ``chconcat``: AP and lateral resized onto the same grid as the two channels of one B0.
- ``merge``: no network of its own, the average of the AP and lateral models' scores.
- ``ensemble``: the average of every imaging model the study's views allow.
"""

from __future__ import annotations

IMAGING = {  # name -> (view names, separate encoders per view)
    "ap": (["ap"], False),
    "lateral": (["lateral"], False),
    "concat": (["ap", "lateral"], True),
    "chconcat": (["ap", "lateral"], False),
}
VIEW_CODES = {
    "AP": "ap",
    "PA": "ap",
    "LL": "lateral",
    "RL": "lateral",
    "LAT": "lateral",
    "LATERAL": "lateral",
}


def view_of(code: str) -> str | None:
    return VIEW_CODES.get((code or "").upper())


def assign_views(radiographs: list) -> tuple[dict, list[str]]:
    """{"ap": r, "lateral": r} from the files' ViewPosition, else by order (AP first); and warnings."""
    views, warnings, unnamed = {}, [], []
    for r in radiographs:
        name = view_of(r.view)
        if name and name not in views:
            views[name] = r
        else:
            unnamed.append(r)
    for r in unnamed:
        free = [v for v in ("ap", "lateral") if v not in views]
        if not free:
            warnings.append(f"{r.path}: a third view is not used")
            continue
        views[free[0]] = r
        warnings.append(
            f"{r.path}: view position {r.view or 'missing'}; taken as the {free[0]} view by order"
        )
    return views, warnings
