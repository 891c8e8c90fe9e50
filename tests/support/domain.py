"""The Rasa domain as one dict: domain/ is a folder of YAML files that Rasa merges."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT

MAPPINGS = ("slots", "forms", "responses")
LISTS = ("intents", "entities", "actions")


def domain_files(domain_dir: Path = PROJECT_ROOT / "domain") -> list[Path]:
    files = sorted(domain_dir.glob("*.yml"))
    assert files, f"no domain files in {domain_dir}"
    return files


@lru_cache(maxsize=4)
def load_domain(domain_dir: Path = PROJECT_ROOT / "domain") -> dict:
    """slots, forms and responses merged by name; intents, entities and actions concatenated."""
    merged: dict = {key: {} for key in MAPPINGS} | {key: [] for key in LISTS}
    for path in domain_files(domain_dir):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in MAPPINGS:
            merged[key].update(data.get(key) or {})
        for key in LISTS:
            merged[key].extend(data.get(key) or [])
    return merged
