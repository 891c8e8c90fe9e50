"""Issue 18 #7 and #13: no weak or placeholder secret in production; var/ and the secret private."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, UnsafeSettingsError, load_settings

STRONG = "Zq8vN1pX4sL7mR2tY6wB9cD3fG5hJ0kQ"  # 32 characters


def _deploy_placeholders() -> set[str]:
    """Every LOKET_SECRET_KEY value written in deploy/ (example files, compose, manifests)."""
    found = set()
    for path in (PROJECT_ROOT / "deploy").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update(re.findall(r"LOKET_SECRET_KEY\s*[=:]\s*[\"']?([^\s\"'$]+)", text))
    return found


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LOKET_ENV", "production")


def test_deploy_files_hold_a_placeholder_to_check(production):
    assert "change-me-to-64-random-characters" in _deploy_placeholders()


@pytest.mark.parametrize("secret", sorted(_deploy_placeholders() | {"change-me", "geheim", "x" * 31}))
def test_production_refuses_a_placeholder_or_short_secret(production, monkeypatch, secret):
    monkeypatch.setenv("LOKET_SECRET_KEY", secret)
    with pytest.raises(UnsafeSettingsError, match="LOKET_SECRET_KEY"):
        load_settings()


def test_secure_cookies_count_as_production(monkeypatch, tmp_path):
    """compose and Kubernetes turn on secure cookies: a forgotten LOKET_ENV must not skip the check."""
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_ENV", raising=False)
    monkeypatch.setenv("LOKET_SECURE_COOKIES", "true")
    monkeypatch.setenv("LOKET_SECRET_KEY", "change-me-to-64-random-characters")
    with pytest.raises(UnsafeSettingsError):
        load_settings()


def test_production_accepts_a_long_random_secret(production, monkeypatch):
    monkeypatch.setenv("LOKET_SECRET_KEY", STRONG)
    s = load_settings()
    assert s.production and s.secret_key == STRONG


def test_production_accepts_the_generated_secret(production, monkeypatch):
    monkeypatch.delenv("LOKET_SECRET_KEY", raising=False)
    assert len(load_settings().secret_key) >= 32


def test_development_keeps_working_with_a_short_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_ENV", raising=False)
    monkeypatch.delenv("LOKET_SECURE_COOKIES", raising=False)
    monkeypatch.setenv("LOKET_SECRET_KEY", "kort")
    s = load_settings()
    assert not s.production and s.secret_key == "kort"


def test_unknown_environment_name_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_ENV", "prod")
    with pytest.raises(ValueError, match="LOKET_ENV"):
        load_settings()


def test_web_app_refuses_to_start_with_a_placeholder_secret(monkeypatch, tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "LOKET_DATA_DIR": str(tmp_path), "LOKET_ENV": "production",
           "LOKET_SECRET_KEY": "change-me-to-64-random-characters", "LOKET_WEB_PORT": "1"}
    result = subprocess.run([sys.executable, "-m", "bot.web"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "LOKET_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


# --- #13 var/ and the generated secret are private from the start -----------------------------


def test_generated_secret_is_created_0600_in_a_0700_folder(monkeypatch, tmp_path):
    data_dir = tmp_path / "var"
    monkeypatch.setenv("LOKET_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LOKET_SECRET_KEY", raising=False)
    monkeypatch.delenv("LOKET_ENV", raising=False)

    def no_chmod(*args, **kwargs):
        raise AssertionError("the secret must be created 0600, not chmod'ed after writing")

    monkeypatch.setattr(Path, "chmod", no_chmod)
    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0o022)  # the usual umask: without care the file would be world-readable
    try:
        key = load_settings().secret_key
    finally:
        os.umask(old)
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert (data_dir / "secret_key").read_text() == key


def test_sqlite_folder_is_created_private(tmp_path):
    from bot.db import make_engine

    folder = tmp_path / "elders"
    engine = make_engine(f"sqlite:///{folder / 'loket.db'}")
    engine.dispose()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
