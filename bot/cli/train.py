"""`loket train`: train only when what the model is made of changed, and keep the newest two models.

What the model is made of: config.yml, domain/, data/, the code of our pipeline components and the
versions of Rasa and scikit-learn. Their fingerprint is stored next to the archive it produced, so a
second `loket train` (or `make run`) with nothing changed starts no training at all. Knowledge is not
part of it: places are read from the database at run time.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from bot.cli.process import console_script, server_env
from bot.settings import PROJECT_ROOT, Settings

RASA_DATA_ARGS = ["--domain", "domain", "--data", "data", "--config", "config.yml"]
INPUTS = ("config.yml", "domain", "data", "bot/rasa_ext/nlp", "bot/nlu")
PACKAGES = ("rasa", "scikit-learn", "skops")
FINGERPRINTS = "fingerprints.json"
KEEP = 2


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = root / name
        if not path.exists():
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".pyc",) or "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    for package in PACKAGES:
        try:
            digest.update(f"{package}=={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}: none".encode())
    return digest.hexdigest()


def archives(models_dir: Path) -> list[Path]:
    """Model archives, newest first."""
    return sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)


def _recorded(models_dir: Path) -> dict[str, str]:
    try:
        return json.loads((models_dir / FINGERPRINTS).read_text())
    except (OSError, ValueError):
        return {}


def is_current(models_dir: Path, print_: str) -> bool:
    """The newest archive was trained from exactly the inputs with this fingerprint."""
    found = archives(models_dir)
    return bool(found) and _recorded(models_dir).get(found[0].name) == print_


def prune(models_dir: Path, keep: int = KEEP) -> list[Path]:
    """Remove all but the newest `keep` archives (and their fingerprints); return what went."""
    found = archives(models_dir)
    gone = found[keep:]
    for path in gone:
        path.unlink()
    recorded = {k: v for k, v in _recorded(models_dir).items() if k in {p.name for p in found[:keep]}}
    if models_dir.is_dir():
        (models_dir / FINGERPRINTS).write_text(json.dumps(recorded, indent=1))
    return gone


def train_models(models_dir: Path, run: Callable[[list[str]], int], rasa: str = "rasa",
          force: bool = False, root: Path = PROJECT_ROOT) -> tuple[int, bool]:
    """(exit code, trained?). `run` executes the Rasa command line in `root`."""
    current = fingerprint(root)
    if not force and is_current(models_dir, current):
        return 0, False
    # --force: Rasa's cache keys on config and data, not on our components' code, so it would restore
    # a component trained by older code; a full training takes about a minute
    code = run([rasa, "train", *RASA_DATA_ARGS, "--force", "--out", str(models_dir)])
    if code != 0:
        return code, True
    newest = archives(models_dir)
    if newest:
        recorded = _recorded(models_dir)
        recorded[newest[0].name] = current
        (models_dir / FINGERPRINTS).write_text(json.dumps(recorded, indent=1))
    prune(models_dir)
    return 0, True


def run_in_project(env: dict[str, str]) -> Callable[[list[str]], int]:
    return lambda cmd: subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)


def train(settings: Settings, force: bool = False) -> int:
    """Train when config, domain, data or the pipeline code changed."""
    code, trained = train_models(settings.models_dir, run_in_project(server_env()),
                                   rasa=console_script("rasa"), force=force)
    if not trained:
        newest = archives(settings.models_dir)[0]
        print(f"Het model is bijgewerkt; niets te trainen ({newest.name}).", flush=True)
    return code


def cmd_train(args, settings: Settings) -> int:
    return train(settings, force=args.force)


def register(sub) -> None:
    tr = sub.add_parser("train", help="model trainen als data, domein of config veranderd is")
    tr.add_argument("--force", action="store_true", help="ook trainen als er niets veranderd is")
    tr.set_defaults(func=cmd_train)
