"""How `loket` starts other programs: console scripts of this venv, with the servers' environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT


def console_script(name: str) -> str:
    """A console script from the same environment as this Python."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


# Process settings for the servers, measured with `make bench` (docs/BENCHMARKS.md); the environment
# overrides them. One TensorFlow thread per op: Rasa runs one small model call at a time, and extra
# threads only add hand-offs; with several Rasa processes they would also fight over the cores.
SERVER_ENV: dict[str, str] = {
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


# Rasa only: Sanic refuses request bodies (and socket.io WebSocket messages) above 64 KiB with 413
# before anything is read into memory; its default is 100 MB. A chat message is at most a few KiB.
# Not for the action server: Rasa sends it the whole tracker, which grows with the conversation.
RASA_ENV: dict[str, str] = {
    "SANIC_REQUEST_MAX_SIZE": str(64 * 1024),
    "SANIC_WEBSOCKET_MAX_SIZE": str(64 * 1024),
}


def rasa_env() -> dict[str, str]:
    """server_env() plus Rasa's request size limits (the environment may set its own)."""
    env = server_env()
    for name, value in RASA_ENV.items():
        env.setdefault(name, value)
    return env


def web_python() -> str:
    """The web app's Python: .venv-web (current aiohttp, no Rasa) when `make venv` built it."""
    candidate = PROJECT_ROOT / ".venv-web" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for name, value in SERVER_ENV.items():
        env.setdefault(name, value)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env
