"""Shared by the tests and bench/: fixture paths, the server stack, fakes and helpers."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


FIXTURE_KNOWLEDGE = FIXTURES / "knowledge"
