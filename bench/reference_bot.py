"""The reference: Rasa's own starter bot from `rasa init --no-prompt`, trained and served as shipped.

It runs with Rasa's defaults (default pipeline and policies, in-memory tracker and lock store, no action
server), so it shows what plain Rasa costs on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.servers import QUIET_ENV, Managed

RASA = str(Path(sys.executable).with_name("rasa"))

# Its own intents (greet, mood_great, mood_unhappy, affirm, deny, goodbye, bot_challenge), in the
# paths of its stories.
CONVERSATIONS: list[list[str]] = [
    ["hello there", "I am feeling great", "goodbye"],
    ["hi", "I am sad", "yes", "bye"],
    ["hey", "very unhappy", "no", "see you later"],
    ["good morning", "are you a bot?", "perfect", "goodbye"],
]


def env() -> dict[str, str]:
    return {**os.environ, **QUIET_ENV}


def init_and_train(folder: Path) -> float:
    """`rasa init --no-prompt` into an empty folder (it trains the model too); returns seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    subprocess.run([RASA, "init", "--no-prompt", "--init-dir", str(folder)], cwd=folder, env=env(),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    if not any((folder / "models").glob("*.tar.gz")):
        raise RuntimeError(f"rasa init trained no model in {folder / 'models'}")
    return elapsed


def start(managed: Managed, folder: Path, port: int, name: str = "reference") -> str:
    """Serve the trained starter bot on 127.0.0.1:port; returns its base URL."""
    cmd = [RASA, "run", "--model", str(folder / "models"), "--endpoints", str(folder / "endpoints.yml"),
           "--credentials", str(folder / "credentials.yml"), "--interface", "127.0.0.1",
           "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    managed.start(name, cmd, env(), f"{url}/", cwd=folder)
    return url
