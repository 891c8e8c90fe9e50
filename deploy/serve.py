"""Container entry point: start one Loket role, configured by environment variables only.

    python deploy/serve.py rasa | actions | web | migrate

`rasa` renders Rasa's endpoints (tracker store, Redis lock store, action server) from LOKET_* variables
via bot/cli/, exactly as `loket run` does; `migrate` brings the database schema up to date and loads
knowledge/ (run it once per release, before the other roles start).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cli.process import RASA_ENV, SERVER_ENV  # noqa: E402
from bot.cli.run import action_server_command, rasa_command  # noqa: E402
from bot.settings import get_settings  # noqa: E402


def command(role: str) -> list[str]:
    settings = get_settings()
    if role == "rasa":
        return rasa_command(settings)
    if role == "actions":
        return action_server_command(settings)
    if role == "web":
        return [sys.executable, "-m", "bot.web"]
    if role == "migrate":
        return [sys.executable, "-m", "bot.cli", "knowledge", "load"]  # upgrades the schema first
    raise SystemExit(f"unknown role {role!r}: use rasa, actions, web or migrate")


def environment(role: str) -> dict[str, str]:
    """The role's environment, as `loket run` gives it: Rasa also gets Sanic's 64 KiB request limit.
    The project root goes on PYTHONPATH, so `python -m bot.web` works from any working directory."""
    env = {**SERVER_ENV, **(RASA_ENV if role == "rasa" else {}), **os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else "rasa"
    cmd = command(role)
    os.execvpe(cmd[0], cmd, environment(role))


if __name__ == "__main__":
    main()
