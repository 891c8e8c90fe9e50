"""The place-name lookup table in data/nlu/plaatsnamen.yml, generated from knowledge/gemeenten.yml.

Rasa's RegexFeaturizer turns it into one feature, "this word is a Dutch place name", so a bare "Kerkrade"
reads as `inform` even when the training examples never name Kerkrade. The table is called plaatsnaam, not
gemeente: the RegexEntityExtractor only uses tables named after an entity, and this one must stay a
feature (which gemeente a place is, is decided by bot/routing.py with the full knowledge).
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.knowledge.loader import Knowledge

TABLE_NAME = "plaatsnaam"
LOOKUP_FILE = Path("data") / "nlu" / "plaatsnamen.yml"
# Gemeenten whose name is also an everyday Dutch word: as a feature they would fire on "mijn best doen".
EVERYDAY_WORDS = frozenset({"best", "buren", "sluis", "beek", "putten", "son", "mill"})
_PROVINCE_SUFFIX = re.compile(r"\s*\([^)]*\)$")  # "Bergen (NH.)" -> "Bergen"


def place_names(kn: Knowledge) -> list[str]:
    names: dict[str, str] = {}
    for gemeente in kn.gemeenten:
        for raw in (gemeente.name, *gemeente.aliases, *gemeente.woonplaatsen):
            # no \b can stand before an apostrophe: "'s-Gravenhage" is matched as "s-Gravenhage"
            name = _PROVINCE_SUFFIX.sub("", raw).strip().lstrip("'")
            key = name.casefold()
            if len(name) > 2 and key not in EVERYDAY_WORDS:
                names.setdefault(key, name)
    return sorted(names.values(), key=str.casefold)


def render(kn: Knowledge) -> str:
    lines = ["# Generated from knowledge/gemeenten.yml by `loket knowledge lookup`; do not edit by hand.",
             'version: "3.1"', "nlu:", f"- lookup: {TABLE_NAME}", "  examples: |"]
    lines += [f"    - {name}" for name in place_names(kn)]
    return "\n".join(lines) + "\n"


def write(kn: Knowledge, project_root: Path) -> Path:
    path = project_root / LOOKUP_FILE
    path.write_text(render(kn), encoding="utf-8")
    return path
