"""Shared helper: each benchmark owns one marked section of docs/BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nEach section is written by its own `make` target; numbers come from real runs.\n"


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end -->, adding it if missing."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else HEADER
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before = text.split(start, 1)[0]
        after = text.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
