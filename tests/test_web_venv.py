"""Issue 18 #8: the web app runs from its own venv (.venv-web) with current, advisory-free versions
(aiohttp >= 3.13.3, SQLAlchemy 2) and without Rasa, whose 3.6 release pins aiohttp < 3.10 and
SQLAlchemy < 1.5. `make venv` builds it from requirements-web.lock; `loket run` uses it.

The web tests run here too, under .venv-web, so the shared code (models, db, knowledge, handoffs) is
tested on SQLAlchemy 2 as well as on the 1.4 of the Rasa venv."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from bot import db
from bot.settings import PROJECT_ROOT
from tests.support.stack import free_port, wait_http

# a second pytest run and a server from the other venv: the slow tier, not `make check`
pytestmark = pytest.mark.stack

VENV_WEB = PROJECT_ROOT / ".venv-web" / "bin" / "python"
# What the web app imports: none of it may import Rasa (DESIGN.md: core without Rasa).
WEB_SIDE = ["bot/web", "bot/edge", "bot/handoffs", "bot/knowledge", "bot/conversation", "bot/knelpunten",
            "bot/db.py", "bot/models.py", "bot/settings.py", "bot/privacy.py", "bot/text.py"]
# The web app's tests that need no Rasa; they run in both venvs.
WEB_TESTS = ["tests/test_web_auth.py", "tests/test_web_security.py", "tests/test_portal.py",
             "tests/test_dashboard.py", "tests/test_cross_role.py", "tests/test_widget_web.py",
             "tests/test_outbox.py", "tests/test_webhook_security.py", "tests/test_mail.py",
             "tests/test_web_content.py", "tests/test_knowledge_review.py"]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


@pytest.fixture(scope="module")
def venv_web() -> Path:
    if not VENV_WEB.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-web is missing: `make venv` builds it")
        pytest.skip(".venv-web is missing (make venv)")
    return VENV_WEB


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_web_side_of_bot_never_imports_rasa():
    files = [f for part in WEB_SIDE for f in ((PROJECT_ROOT / part).rglob("*.py")
                                              if (PROJECT_ROOT / part).is_dir() else [PROJECT_ROOT / part])]
    assert len(files) > 20
    offenders = {str(f.relative_to(PROJECT_ROOT)): sorted(m & {"rasa", "rasa_sdk", "sanic"})
                 for f in files if (m := _imported_modules(f)) & {"rasa", "rasa_sdk", "sanic"}}
    assert offenders == {}


def test_venv_web_has_current_versions_and_no_rasa(venv_web):
    done = subprocess.run(
        [str(venv_web), "-c", "import aiohttp, sqlalchemy; print(aiohttp.__version__, sqlalchemy.__version__)"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    aiohttp_version, sqlalchemy_version = done.stdout.split()
    assert _version(aiohttp_version) >= (3, 13, 3)
    assert _version(sqlalchemy_version)[0] == 2
    for module in ("rasa", "rasa_sdk", "sanic", "tensorflow"):
        missing = subprocess.run([str(venv_web), "-c", f"import {module}"], capture_output=True, text=True,
                                 timeout=60)
        assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr, module


def test_the_web_app_serves_from_venv_web_like_the_web_image(venv_web, tmp_path):
    """Started as deploy/Dockerfile.web starts it: python deploy/serve.py web."""
    url = f"sqlite:///{tmp_path / 'loket.db'}"
    db.upgrade(url)
    port = free_port()
    env = {**os.environ, "LOKET_DATA_DIR": str(tmp_path), "LOKET_DATABASE_URL": url,
           "LOKET_WEB_PORT": str(port), "LOKET_SECRET_KEY": "test-secret-key-" + "x" * 32,
           "LOKET_OUTBOX_INTERVAL_S": "0", "LOKET_PURGE_INTERVAL_S": "0"}
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(venv_web), str(PROJECT_ROOT / "deploy" / "serve.py"), "web"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/health", [proc], timeout=60)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}\n{(tmp_path / 'web.log').read_text()}")
        resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
        server = resp.headers.get("Server", "")
        assert _version(server.split("aiohttp/")[1]) >= (3, 13, 3), server
        login = requests.get(f"http://127.0.0.1:{port}/inloggen", timeout=10)
        assert login.status_code == 200 and "Inloggen" in login.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_the_web_tests_pass_under_venv_web(venv_web):
    done = subprocess.run([str(venv_web), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-m", "not rasa",
                           *WEB_TESTS],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = re.search(r"(\d+) passed", done.stdout)
    assert summary and int(summary.group(1)) > 100, tail
    assert " failed" not in done.stdout.splitlines()[-1]
