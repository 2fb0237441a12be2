"""Worker settings from the environment, with the same defaults as the web side.

Both sides must agree on the broker, the result backend and the storage root, so the
defaults are computed here once and platform/config/settings.py imports them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    return Path(os.environ.get("OSTEOLENS_VAR_DIR") or REPO / "var")


def media_root() -> Path:
    return Path(os.environ.get("MEDIA_ROOT") or var_dir() / "media")


def models_dir() -> Path:
    return Path(os.environ.get("MODELS_DIR") or var_dir() / "models")


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or "filesystem://"


def result_backend() -> str:
    explicit = os.environ.get("CELERY_RESULT_BACKEND")
    if explicit:
        return explicit
    broker = broker_url()
    if broker.startswith("redis"):
        return broker
    return f"db+sqlite:///{var_dir() / 'celery-results.sqlite3'}"


def broker_transport_options() -> dict:
    """The filesystem broker needs one shared folder for producers and consumers."""
    if broker_url().startswith("redis"):
        # An unacknowledged task (its worker died) is handed out again after this many
        # seconds; it must exceed the longest task's time limit or a slow analysis
        # would run twice (harmless, since analyses are idempotent, but wasteful).
        return {
            "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "1200")),
            # The inference worker serves its queues in the order it lists them (requests
            # before training before library backfill), not round-robin: inference_worker/queues.py.
            "queue_order_strategy": "priority",
        }
    if not broker_url().startswith("filesystem"):
        return {}
    folder = var_dir() / "broker"
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    (folder / "control").mkdir(parents=True, exist_ok=True)
    return {
        # Without it kombu writes broadcast exchanges into the current directory.
        "control_folder": str(folder / "control"),
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        # How long an idle consumer waits before looking again (kombu's default: 1 s).
        # A listing of one folder, so cheap; it also bounds the gap between two tasks.
        "polling_interval": 0.2,
    }


def broker_transport() -> str | None:
    """The filesystem broker with a strict queue order (see inference_worker/queues.py);
    None keeps the transport the broker URL names."""
    if broker_url().startswith("filesystem"):
        return "inference_worker.queues:PriorityFilesystemTransport"
    return None


# The inference worker's queues, served in this order: ``-Q gpu,gpu-train,gpu-backfill``.
REQUESTS_QUEUE, TRAINING_QUEUE, BACKFILL_QUEUE = "gpu", "gpu-train", "gpu-backfill"
INFERENCE_QUEUES = (REQUESTS_QUEUE, TRAINING_QUEUE, BACKFILL_QUEUE)


def celery_config() -> dict:
    """Settings both Celery apps (web and worker) share."""
    return {
        "broker_url": broker_url(),
        "broker_transport": broker_transport(),
        "result_backend": result_backend(),
        "broker_transport_options": broker_transport_options(),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_extended": True,
        "task_track_started": True,
        # A killed worker must not lose work: acknowledge after the task finished and
        # hand the message back when the worker process dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": "default",
        "task_routes": {
            # Requests go to "gpu"; submit_analysis names "gpu-backfill" for library
            # re-analysis. Demo training has its own queue, served between the two.
            "inference_worker.train_demo_models": {"queue": TRAINING_QUEUE},
            "inference_worker.*": {"queue": "gpu"},
            "opinions.*": {"queue": "default"},
        },
        "broker_connection_retry_on_startup": True,
        "result_expires": 7 * 24 * 3600,
    }
