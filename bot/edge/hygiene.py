"""Text hygiene: what a message may contain before anything reads it."""

from __future__ import annotations

import unicodedata

# Bidi embedding/override/isolate controls reorder what a reader sees ("Trojan source"); RTL text
# itself (Arabic, Hebrew) does not need them and is kept.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def clean_text(raw: str) -> str:
    """NFC, without control characters (tab and newline become a space / stay), trimmed."""
    text = unicodedata.normalize("NFC", raw)
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("\n")
        elif ch == "\t" or ch == "\r":
            out.append(" ")
        elif ch in _BIDI_CONTROLS:
            continue
        else:
            category = unicodedata.category(ch)
            if category in ("Cc", "Cs") or (0xFFFE <= ord(ch) & 0xFFFF):  # controls, surrogates,
                continue  # and the non-characters U+xFFFE/U+xFFFF
            out.append(ch)
    return "".join(out).strip()
