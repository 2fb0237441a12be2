"""What the viewer page makes the main thread compile before the first image (build.mjs).

Needs the built bundle (static/build/viewer, `npm run build`; `make test` builds it).
The page preloads the modules listed in modules.json; everything in them is fetched,
compiled and run before the first live frame, on every first visit.
"""

from __future__ import annotations

import json
import re

from django.conf import settings

BUNDLE = settings.BASE_DIR / "static" / "build" / "viewer"
STATIC_IMPORT = re.compile(r'from"\./([\w-]+\.js)"')


def _text(names) -> str:
    return "".join((BUNDLE / name).read_text(encoding="utf-8") for name in names)


def _preloaded() -> list[str]:
    assert (BUNDLE / "modules.json").exists(), "viewer bundle missing: run `npm run build`"
    return json.loads((BUNDLE / "modules.json").read_text())


def _with_static_imports(entry: str) -> list[str]:
    seen, todo = [], [entry]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.append(name)
            todo += STATIC_IMPORT.findall((BUNDLE / name).read_text(encoding="utf-8"))
    return seen


def test_preloaded_modules_render_with_webgl_only():
    text = _text(_preloaded())
    assert 'getContext("webgl2")' in text
    # vtk.js's WebGPU back-end (~210 KB) is left out: Cornerstone renders through WebGL.
    assert "WebGPU" not in text


def test_codecs_reach_the_decode_worker_not_the_main_thread():
    main = _text(_preloaded())
    worker = _text(_with_static_imports("decodeImageFrameWorker.js"))
    for codec in ("openjpegwasm_decode", "charlswasm_decode", "libjpegturbowasm_decode"):
        assert codec in worker, codec
        assert codec not in main, codec


def test_no_node_crypto_probe_left_to_throw():
    # seedrandom's require("crypto") resolves to an empty module instead of esbuild's
    # throwing require shim.
    assert '("crypto")' not in _text(_preloaded())
