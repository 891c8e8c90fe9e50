"""`loket train` trains only when the model's inputs changed and keeps the newest two models."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import train as training
from bot.settings import PROJECT_ROOT


@pytest.fixture
def project(tmp_path) -> Path:
    for name in ("domain", "data/nlu", "bot/rasa_ext/nlp"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    (tmp_path / "domain" / "core.yml").write_text("intents: [greet]\n")
    (tmp_path / "data" / "nlu" / "basis.yml").write_text("nlu: []\n")
    (tmp_path / "bot" / "rasa_ext" / "nlp" / "component.py").write_text("X = 1\n")
    return tmp_path


class FakeRasa:
    """Writes a new archive per training, as `rasa train --out` does."""

    def __init__(self, models: Path) -> None:
        self.models = models
        self.calls = 0

    def __call__(self, cmd: list[str]) -> int:
        self.calls += 1
        assert cmd[1] == "train" and cmd[cmd.index("--out") + 1] == str(self.models)
        self.models.mkdir(exist_ok=True)
        archive = self.models / f"model-{self.calls}.tar.gz"
        archive.write_bytes(b"x")
        os.utime(archive, (time.time() + self.calls, time.time() + self.calls))
        return 0


def test_a_second_train_with_nothing_changed_trains_nothing(project):
    models = project / "models"
    rasa = FakeRasa(models)
    assert training.train_models(models, rasa, root=project) == (0, True)
    assert training.train_models(models, rasa, root=project) == (0, False)
    assert rasa.calls == 1
    assert training.train_models(models, rasa, force=True, root=project) == (0, True)
    assert rasa.calls == 2


@pytest.mark.parametrize("changed", ["config.yml", "domain/core.yml", "data/nlu/basis.yml",
                                     "bot/rasa_ext/nlp/component.py"])
def test_a_change_to_any_input_trains_again(project, changed):
    models = project / "models"
    rasa = FakeRasa(models)
    training.train_models(models, rasa, root=project)
    path = project / changed
    path.write_text(path.read_text() + "# changed\n")
    assert training.train_models(models, rasa, root=project) == (0, True)
    assert rasa.calls == 2


def test_only_the_newest_two_models_are_kept(project):
    models = project / "models"
    rasa = FakeRasa(models)
    for _ in range(4):
        training.train_models(models, rasa, force=True, root=project)
    kept = [p.name for p in training.archives(models)]
    assert kept == ["model-4.tar.gz", "model-3.tar.gz"]
    # the newest model still counts as current after pruning
    assert training.train_models(models, rasa, root=project) == (0, False)


def test_a_failed_training_is_not_recorded(project):
    models = project / "models"
    assert training.train_models(models, lambda cmd: 1, root=project) == (1, True)
    assert training.train_models(models, FakeRasa(models), root=project) == (0, True)


@pytest.mark.rasa
def test_loket_train_on_the_trained_project_starts_no_training():
    """After `make train`, a second `loket train` only checks the fingerprint."""
    models = PROJECT_ROOT / "models"
    if not training.is_current(models, training.fingerprint()):
        if os.environ.get("LOKET_REQUIRE_MODEL"):
            pytest.fail("models/ holds no model for the current inputs: run `make train`")
        pytest.skip("models/ holds no model for the current inputs (run `make train`)")
    before = [p.name for p in training.archives(models)]
    out = subprocess.run([str(Path(sys.executable).with_name("loket")), "train"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "niets te trainen" in out.stdout
    assert [p.name for p in training.archives(models)] == before
