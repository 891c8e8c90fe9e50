"""Tests that need a trained model: skipped without one, failed when LOKET_REQUIRE_MODEL is set (CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def models_dir() -> Path:
    """LOKET_MODELS_DIR, or models/ in the project."""
    from bot.settings import load_settings

    return load_settings().models_dir


def has_model() -> bool:
    return any(models_dir().glob("*.tar.gz"))


def require_model() -> Path:
    """The models folder; skips the test without a model, or fails it when a model is required."""
    folder = models_dir()
    if not any(folder.glob("*.tar.gz")):
        if os.environ.get("LOKET_REQUIRE_MODEL"):
            pytest.fail(f"no trained model in {folder}: run `make train`")
        pytest.skip(f"no trained model in {folder} (run `make train`)")
    return folder
