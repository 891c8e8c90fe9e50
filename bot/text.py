"""The one text-folding function: how names, answers and questions are compared everywhere."""

from __future__ import annotations

import re
import unicodedata


def normalize(text: str, keep: str = "") -> str:
    """Lower case, no accents, every character that is not a letter or digit (or in `keep`) a space,
    spaces collapsed: "'s-Gravenhage" -> "s gravenhage", "Wat is SROI?!" -> "wat is sroi"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(rf"[^\w{re.escape(keep)}]", " ", text)
    if "_" not in keep:  # \w counts it as a letter
        text = text.replace("_", " ")
    return " ".join(text.split())
