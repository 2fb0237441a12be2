"""The viewer bundle's module list (static/build/viewer/modules.json, written by build.mjs).

The viewer page names these as <link rel="modulepreload"> so Chromium fetches and compiles
the Cornerstone chunks at once, while boot.js shows the server-rendered preview; boot.js
imports viewer.js only after the preview has been painted, so evaluating them cannot hold
the preview back.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.staticfiles import finders

MODULES = "build/viewer/modules.json"
_cache: dict = {}


def preload_modules() -> list[str]:
    """Static paths of viewer.js and its chunks; empty when the bundle has no list."""
    found = finders.find(MODULES)
    if not found:
        return []
    path = Path(found)
    mtime = path.stat().st_mtime_ns
    # Read again after a rebuild (npm run build while the server runs).
    if _cache.get("mtime") != mtime:
        names = json.loads(path.read_text())
        _cache.update(mtime=mtime, modules=[f"build/viewer/{name}" for name in names])
    return _cache["modules"]
