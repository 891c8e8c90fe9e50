"""The before/after table bench.dialogues writes into docs/BENCHMARKS.md (no Rasa needed)."""

from __future__ import annotations

from bench.dialogues import compare_section


def _result(started: str, model: str, rows: dict[str, tuple[int, int]], failed: list[tuple[str, str]]) -> dict:
    summary = {cls: {"conversations": n, "passed": p, "rate": round(p / n, 4)} for cls, (p, n) in rows.items()}
    total_p, total_n = sum(p for p, _ in rows.values()), sum(n for _, n in rows.values())
    summary["overall"] = {"conversations": total_n, "passed": total_p, "rate": round(total_p / total_n, 4)}
    conversations = [{"id": cid, "class": cls, "passed": False} for cid, cls in failed]
    return {"run": {"started": started, "model": model}, "summary": summary, "conversations": conversations}


def test_compare_section_lists_every_class_before_and_after_and_what_still_fails():
    before = _result("2026-01-01T10:00:00", "old.tar.gz", {"english": (1, 4), "cancel": (2, 2)}, [])
    after = _result("2026-01-02T10:00:00", "new.tar.gz", {"english": (3, 4), "cancel": (2, 2)},
                    [("en-9", "english")])
    text = compare_section(before, after)
    lines = text.splitlines()
    assert "Before: 2026-01-01T10:00:00, model `old.tar.gz`.  " in lines
    assert "After: 2026-01-02T10:00:00, model `new.tar.gz`." in lines
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| class")]
    assert rows == ["| english | 4 | 1/4 (25.0 %) | 3/4 (75.0 %) |",
                    "| cancel | 2 | 2/2 (100.0 %) | 2/2 (100.0 %) |",
                    "| **overall** | 6 | 3/6 (50.0 %) | 5/6 (83.3 %) |"]
    assert lines[-1] == "Still failing after: en-9 (english)."
