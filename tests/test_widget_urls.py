"""Issue 18 #12: the widget links a button's `url` only for https:, http:, mailto: and tel:.

Unit level: safeUrl() from static/widget.js, run in node. The browser test
tests/browser/test_widget_security.py checks the rendered links in Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from bot.web.widget import STATIC

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

ALLOWED = ["https://www.rvo.nl/subsidies", "http://example.org/pad?x=1", "mailto:team@example.nl",
           "tel:+31612345678", "  https://www.kvk.nl/  "]
REFUSED = ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
           "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
           "blob:https://example.org/x", "//evil.example/", "/relatief", "https://a\\@evil.example",
           "", "geen url"]


def _safe_url_source() -> str:
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    schemes = re.search(r"  var SAFE_SCHEMES = .*?;\n", source).group(0)
    function = re.search(r"  function safeUrl\(value\) \{.*?\n  \}\n", source, re.S).group(0)
    return schemes + function


def _run(values: list) -> list[str]:
    script = _safe_url_source() + f"console.log(JSON.stringify({json.dumps(values)}.map(safeUrl)));"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_web_mail_and_phone_urls_are_kept():
    assert [r.strip() for r in _run(ALLOWED)] == [a.strip() for a in ALLOWED]


def test_script_data_and_other_schemes_are_refused():
    assert _run(REFUSED) == [""] * len(REFUSED)


def test_non_strings_are_refused():
    assert _run([None, 42, {"href": "https://example.org"}]) == ["", "", ""]


def test_every_link_and_button_url_goes_through_safe_url():
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    assert "url: safeUrl(b.url)" in source
    link_node = re.search(r"function linkNode\(href, label\) \{\n(.*?)\n", source).group(1)
    assert "safeUrl(href)" in link_node
