"""`manage.py check --deploy` is clean with the environment docker/compose.yaml sets,
and the local defaults (plain http) are what it warns about: the compose file is what
turns transport security on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def compose_env(tmp_path: Path) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    env = {k: str(v) for k, v in compose["x-env"].items()}
    # The container's paths and secret file, replaced by local stand-ins.
    secret = tmp_path / "django_secret"
    secret.write_text(secrets.token_urlsafe(50))
    env.update(
        SECRET_KEY_FILE=str(secret),
        OSTEOLENS_VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "var" / "media"),
        MODELS_DIR=str(tmp_path / "var" / "models"),
    )
    return env


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_compose_environment_passes_the_deploy_check(tmp_path):
    env = compose_env(tmp_path)
    assert env["SECURE_SSL_REDIRECT"] == "1" and env["SECURE_COOKIES"] == "1"
    result = run_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_the_compose_settings_the_check_names_what_is_missing(tmp_path):
    env = compose_env(tmp_path)
    for name in [k for k in env if k.startswith("SECURE_")]:
        del env[name]
    result = run_check(env)
    assert result.returncode != 0
    for code in ("W004", "W008", "W012", "W016"):
        assert f"security.{code}" in result.stderr + result.stdout, code
    # X_FRAME_OPTIONS is DENY everywhere, not only in compose.
    assert "security.W019" not in result.stderr + result.stdout
