"""A content edit reaches the RUNNING action server after `load()`: no restart, no retraining."""

from __future__ import annotations

import shutil

import pytest
import requests
import yaml

from bot import db
from bot.knowledge.loader import load
from bot.settings import PROJECT_ROOT
from tests.support.stack import make_stack

pytestmark = pytest.mark.stack


@pytest.fixture
def stack_with_copy(tmp_path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", knowledge)
    stack = make_stack(tmp_path / "stack", knowledge_dir=knowledge)
    try:
        stack.start("actions")
        yield stack, knowledge
    finally:
        stack.stop_all()


def _ask(stack, text: str, intent: str) -> list[dict]:
    body = {
        "next_action": "action_answer_topic",
        "sender_id": "reload-test",
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": "reload-test",
            "slots": {"gemeente": None, "woonplaats": None, "organisatie": None},
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                               "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }
    resp = requests.post(f"http://127.0.0.1:{stack.action_port}/webhook", json=body, timeout=60)
    resp.raise_for_status()
    return resp.json()["responses"]


def _edit_summary(knowledge, regeling_id: str, summary: str) -> None:
    path = knowledge / "regelingen" / "uwv.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (entry,) = [r for r in data["regelingen"] if r["id"] == regeling_id]
    entry["summary"] = summary
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_running_action_server_answers_with_the_new_summary_after_a_load(stack_with_copy):
    stack, knowledge = stack_with_copy
    question = "mijn werknemer met een arbeidsbeperking is ziek, wie betaalt zijn loon?"
    before = "\n".join(m.get("text") or "" for m in _ask(stack, question, "ask_no_riskpolis"))
    assert "No-riskpolis (UWV)" in before

    new_summary = "Nieuw: UWV betaalt bij ziekte van deze werknemer een uitkering aan u als werkgever."
    assert new_summary not in before
    _edit_summary(knowledge, "no-riskpolis", new_summary)
    engine = db.make_engine(stack.database_url)
    try:
        load(engine, knowledge)
    finally:
        engine.dispose()

    after = "\n".join(m.get("text") or "" for m in _ask(stack, question, "ask_no_riskpolis"))
    assert new_summary in after
    assert stack.procs["actions"].poll() is None  # the same process answered
