"""How `loket` starts other programs: console scripts of this venv, with the servers' environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path


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


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for name, value in SERVER_ENV.items():
        env.setdefault(name, value)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env
