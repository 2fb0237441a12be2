"""The web server's settings file (platform/config/gunicorn.py) as gunicorn reads it."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / "platform" / "config" / "gunicorn.py"


def test_settings_keep_connections_and_threads():
    config = runpy.run_path(str(CONFIG))
    assert config["worker_class"] == "gthread"
    assert config["keepalive"] > 0
    assert config["reuse_port"] is True  # a listening socket per worker: connections spread evenly


def test_worker_freezes_the_loaded_application_out_of_the_collector():
    config = runpy.run_path(str(CONFIG))
    assert gc.get_freeze_count() == 0
    try:
        config["post_worker_init"](worker=None)
        # Everything alive now (this test process's modules included) is exempt.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
