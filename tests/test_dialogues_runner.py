"""The issue-20 conversation runner (bench/dialogues.py) without Rasa: the set and the checks."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import requests

from bench import dialogues as d

# --- the real set ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conversation_set() -> list[d.Conversation]:
    return d.load_set(d.SET_DIR)


def test_set_is_large_enough_and_covers_every_class(conversation_set):
    assert len(conversation_set) >= d.MIN_CONVERSATIONS
    counts = Counter(c.cls for c in conversation_set)
    for cls in d.MAIN_CLASSES:
        assert counts[cls] >= d.MIN_PER_MAIN_CLASS, cls
    for cls in d.EXTRA_CLASSES:
        assert counts[cls] >= 1, cls
    assert d.coverage_problems(conversation_set) == []


def test_set_conversations_are_well_formed(conversation_set):
    assert len({c.id for c in conversation_set}) == len(conversation_set)
    for conv in conversation_set:
        assert conv.description
        if conv.cls not in d.SINGLE_TURN_CLASSES:
            assert conv.user_turns >= 2, conv.id
        assert any(t.checks for t in conv.turns), conv.id
        for turn in conv.turns:
            for check in turn.checks:
                d.validate_check(check, conv.id)  # raises on an unknown kind


def test_set_files_are_named_after_their_class():
    for path in d.SET_DIR.glob("*.yml"):
        assert path.stem in d.CLASSES, path.name


def test_set_is_not_training_data():
    """Training reads data/ only (bot/cli/); the set stays under tests/conversations."""
    from bot.cli.train import RASA_DATA_ARGS

    data_dirs = [RASA_DATA_ARGS[i + 1] for i, a in enumerate(RASA_DATA_ARGS) if a == "--data"]
    assert data_dirs == ["data"]
    assert d.SET_DIR == d.PROJECT_ROOT / "tests" / "conversations"
    assert not d.SET_DIR.is_relative_to(d.PROJECT_ROOT / "data")


# --- the loader's validation -------------------------------------------------------------------


def _write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """
conversations:
  - id: x-1
    class: cancel
    description: two turns
    turns:
      - user: "hallo"
      - user: "stop"
        expect:
          - contains_any: ["gestopt"]
"""


def test_loader_accepts_a_small_valid_file(tmp_path):
    _write(tmp_path, "cancel.yml", GOOD)
    (conv,) = d.load_set(tmp_path)
    assert conv.id == "x-1" and conv.cls == "cancel" and len(conv.turns) == 2
    assert conv.turns[1].checks == [{"contains_any": ["gestopt"]}]
    assert d.coverage_problems([conv])  # one conversation is far from a full set


@pytest.mark.parametrize("body, message", [
    (GOOD.replace("contains_any", "contains_maybe"), "unknown check kind"),
    (GOOD.replace("class: cancel", "class: smalltalk"), "unknown class"),
    (GOOD.replace('      - user: "hallo"\n', ""), "at least two user turns"),
    (GOOD.replace("    description: two turns\n", ""), "description"),
    (GOOD.replace('["gestopt"]', "[]"), "non-empty list"),
    (GOOD.replace('- user: "hallo"', '- user: "hallo"\n        button: "/affirm"'), "exactly one of"),
    (GOOD.replace('- contains_any: ["gestopt"]', "- handoff_reference: ja"), "true or false"),
    (GOOD.replace('- contains_any: ["gestopt"]', "- language: de"), "en or nl"),
    (GOOD.replace('- contains_any: ["gestopt"]', "- any_of: [{not_fallback: true}]"), "at least two"),
    (GOOD.replace('- contains_any: ["gestopt"]', "- any_of: [{not_fallback: true}, {foo: 1}]"),
     "unknown check kind"),
    (GOOD.replace("        expect:\n          - contains_any: [\"gestopt\"]\n", ""), "no checks"),
    ("conversations: [", "not valid YAML"),
    ("something: else", "conversations"),
])
def test_loader_rejects_malformed_sets(tmp_path, body, message):
    _write(tmp_path, "cancel.yml", body)
    with pytest.raises(d.SetError, match=message):
        d.load_set(tmp_path)


def test_loader_rejects_a_class_in_the_wrong_file_and_duplicate_ids(tmp_path):
    _write(tmp_path / "a", "followup.yml", GOOD)
    with pytest.raises(d.SetError, match="the file holds followup"):
        d.load_set(tmp_path / "a")
    _write(tmp_path / "b", "cancel.yml", GOOD + GOOD.split("conversations:\n", 1)[1])
    with pytest.raises(d.SetError, match="duplicate id"):
        d.load_set(tmp_path / "b")


def test_english_and_unseen_phrasing_may_have_one_turn(tmp_path):
    body = """
conversations:
  - id: en-x
    class: english
    description: one turn
    turns:
      - user: "Do you speak English?"
        expect: [{language: en}]
"""
    _write(tmp_path, "english.yml", body)
    assert len(d.load_set(tmp_path)) == 1


# --- the checks on fake replies ------------------------------------------------------------------


def reply(*texts: str, buttons: list[tuple[str, str]] | None = None) -> d.Reply:
    messages = [{"recipient_id": "s", "text": t} for t in texts]
    if buttons:
        messages[-1]["buttons"] = [{"title": t, "payload": p} for t, p in buttons]
    return d.Reply(messages)


FORM_START_BUG = reply(
    "Ik zet uw vraag door naar het makelaarsteam van uw gemeente. Eerst stel ik u een paar korte vragen.",
    "Daar ben ik al mee bezig: ik zet uw vraag door naar een mens. Beantwoord nog even deze vraag.",
    "In welke gemeente is uw bedrijf gevestigd?")
FORM_START_GOOD = reply(
    "Ik zet uw vraag door naar het makelaarsteam van uw gemeente. Eerst stel ik u een paar korte vragen.",
    "In welke gemeente is uw bedrijf gevestigd? U mag ook uw woonplaats of postcode typen.")
KNOWLEDGE = reply(
    "Dit heb ik voor u gevonden:",
    "WBSO (RVO)\nMinder loonheffing voor speur- en ontwikkelwerk.\n"
    "Bron: https://www.rvo.nl/subsidies-financiering/wbso (gecontroleerd op 1 maart 2026)",
    buttons=[("Meer hierover", '/more_info{"regeling_id":"wbso"}')])
HANDOFF_DONE = reply("Dank u wel. Uw vraag is doorgezet naar Makelaarsteam Impact Ondernemen Zwolle. "
                     "Uw referentienummer is LKT-2026-000042. Bewaar dit nummer.")
ENGLISH = reply("This assistant works in Dutch. You can find information in English on business.gov.nl. "
                "A makelaar of your gemeente can help you in English. Would you like that?")
FALLBACK = reply("Sorry, ik begrijp uw vraag niet goed. Kunt u het op een andere manier zeggen?")


def check(kind_and_arg: dict, rep: d.Reply, previous: d.Reply | None = None) -> bool:
    d.validate_check(kind_and_arg, "test")
    return d.run_check(kind_and_arg, rep, previous)[0]


def test_form_start_checks_catch_the_double_start():
    expect = [{"not_contains": ["al mee bezig"]}, {"max_messages": 2},
              {"contains_any": ["gemeente", "woonplaats"]}]
    assert all(check(c, FORM_START_GOOD) for c in expect)
    assert not check(expect[0], FORM_START_BUG)
    assert not check(expect[1], FORM_START_BUG)


def test_contains_checks_are_case_insensitive_and_read_button_titles():
    assert check({"contains_any": ["ZWOLLE", "utrecht"]}, HANDOFF_DONE)
    assert not check({"contains_any": ["Utrecht"]}, HANDOFF_DONE)
    assert check({"contains_all": ["wbso", "rvo"]}, KNOWLEDGE)
    assert not check({"contains_all": ["wbso", "MIT"]}, KNOWLEDGE)
    assert check({"contains_any": ["meer hierover"]}, KNOWLEDGE)  # a button title
    assert not check({"not_contains": ["Meer hierover"]}, KNOWLEDGE)
    assert check({"buttons_any": ["meer"]}, KNOWLEDGE)
    assert not check({"buttons_any": ["Anders"]}, KNOWLEDGE)


def test_source_url_and_reference_checks():
    assert check({"source_url_contains": "rvo.nl"}, KNOWLEDGE)
    assert check({"source_url_contains": ""}, KNOWLEDGE)
    assert not check({"source_url_contains": "kvk.nl"}, KNOWLEDGE)
    assert not check({"source_url_contains": ""}, FALLBACK)
    # The domain of an e-mail address is not a source link; a bare domain is.
    assert not check({"source_url_contains": "example.nl"}, reply("Mail naar team@example.nl"))
    assert check({"source_url_contains": "business.gov.nl"}, ENGLISH)
    assert check({"handoff_reference": True}, HANDOFF_DONE)
    assert not check({"handoff_reference": True}, FORM_START_GOOD)
    assert check({"handoff_reference": False}, FORM_START_GOOD)
    assert check({"handoff_reference": True}, reply("Uw knelpunt is opgeslagen met nummer KNP-2026-000007."))
    assert not check({"handoff_reference": True}, reply("Bel 2026-000042"))


@pytest.mark.parametrize("text, language", [
    (ENGLISH.text, "en"),
    ("You can find information in English on business.gov.nl.", "en"),
    (FORM_START_GOOD.text, "nl"),
    (KNOWLEDGE.text, "nl"),
    ("Ik heb een startup en zoek funding. Dit zijn de opties voor uw bedrijf.", "nl"),
    ("Hallo! Welkom bij Loket. Wat is uw vraag?", "nl"),
])
def test_language_heuristic(text, language):
    assert d.language_of(text) == language
    assert check({"language": language}, reply(text))


def test_language_of_nothing_is_unknown():
    assert d.language_of("🙈 LKT-2026-000001") is None
    assert not check({"language": "nl"}, reply())


def test_fallback_repeat_length_and_any_of():
    assert not check({"not_fallback": True}, FALLBACK)
    assert check({"not_fallback": True}, KNOWLEDGE)
    same = reply("Over welk onderwerp gaat het knelpunt? Kies een knop of typ het zelf.")
    again = reply("Over welk onderwerp gaat het knelpunt? Kies een knop of typ het zelf.")
    assert not check({"not_repeat": True}, again, same)
    assert check({"not_repeat": True}, again, None)
    assert check({"not_repeat": True}, FORM_START_GOOD, same)
    assert check({"max_chars": 200}, FALLBACK)
    assert not check({"max_chars": 20}, FALLBACK)
    either = {"any_of": [{"contains_any": ["Utrecht"]}, {"handoff_reference": True}]}
    assert check(either, HANDOFF_DONE)
    assert not check(either, FALLBACK)


# --- running conversations against a scripted bot ----------------------------------------------


class ScriptedBot:
    """A fake REST channel: answers by the first rule whose key is in the message."""

    def __init__(self, rules: list[tuple[str, list[dict]]]):
        self.rules = rules
        self.calls: list[tuple[str, str, dict]] = []

    def __call__(self, sender: str, text: str, metadata: dict) -> list[dict]:
        self.calls.append((sender, text, metadata))
        for key, messages in self.rules:
            if key in text:
                return messages
        return FALLBACK.messages


def _conversation(turns: list[dict], cls: str = "form_start", **extra) -> d.Conversation:
    raw = {"id": "t-1", "class": cls, "description": "test", "turns": turns, **extra}
    return d.parse_conversation(raw, "test.yml")


FORM_TURNS = [
    {"user": "Ik wil een makelaar spreken",
     "expect": [{"not_contains": ["al mee bezig"]}, {"contains_any": ["gemeente"]}]},
    {"user": "Zwolle", "expect": [{"contains_any": ["vraag"]}]},
]


def test_a_conversation_passes_when_every_check_passes():
    bot = ScriptedBot([("makelaar", FORM_START_GOOD.messages),
                       ("Zwolle", [{"text": "Waar gaat uw vraag over?"}])])
    conv = _conversation(FORM_TURNS, metadata={"gemeente": "zwolle"})
    result = d.run_conversation(conv, bot)
    assert result.passed and result.error is None
    assert [t.sent for t in result.turns] == ["Ik wil een makelaar spreken", "Zwolle"]
    senders = {c[0] for c in bot.calls}
    assert len(senders) == 1 and next(iter(senders)).startswith("dlg-t-1-")
    assert all(c[2] == {"gemeente": "zwolle"} for c in bot.calls)


def test_a_conversation_fails_with_the_turn_the_expectation_and_the_reply():
    bot = ScriptedBot([("makelaar", FORM_START_BUG.messages),
                       ("Zwolle", [{"text": "Waar gaat uw vraag over?"}])])
    result = d.run_conversation(_conversation(FORM_TURNS), bot)
    assert not result.passed
    ((turn, expected),) = result.failures
    assert turn.index == 1 and "al mee bezig" in expected
    report = d.format_failures([result])
    assert "FAIL t-1 [form_start]" in report and "turn 1" in report and "Daar ben ik al mee bezig" in report


def test_fresh_sender_per_conversation():
    bot = ScriptedBot([("", FORM_START_GOOD.messages)])
    conv = _conversation(FORM_TURNS)
    d.run_conversation(conv, bot)
    d.run_conversation(conv, bot)
    assert len({c[0] for c in bot.calls}) == 2


def test_click_sends_the_payload_of_the_offered_button():
    bot = ScriptedBot([("WBSO", KNOWLEDGE.messages),
                       ("/more_info", [{"text": "WBSO (RVO)\nVoor wie: ondernemers met R&D"}])])
    turns = [{"user": "Wat is de WBSO?"},
             {"click": "Meer hierover", "expect": [{"contains_any": ["voor wie"]}]}]
    result = d.run_conversation(_conversation(turns, cls="followup"), bot)
    assert result.passed
    assert bot.calls[1][1] == '/more_info{"regeling_id":"wbso"}'


def test_click_on_a_button_that_was_not_offered_fails_the_conversation():
    bot = ScriptedBot([("", FORM_START_GOOD.messages)])
    turns = [{"user": "hallo"}, {"click": "Ja", "expect": [{"not_fallback": True}]}]
    result = d.run_conversation(_conversation(turns), bot)
    assert not result.passed and "no button" in (result.error or "")
    assert len(bot.calls) == 1


def test_a_transport_error_fails_the_conversation_and_stops_it():
    def broken(sender, text, metadata):
        raise requests.ConnectionError("refused")

    result = d.run_conversation(_conversation(FORM_TURNS), broken)
    assert not result.passed and "refused" in (result.error or "")
    assert len(result.turns) == 1


def test_summary_table_and_json(tmp_path):
    good = ScriptedBot([("makelaar", FORM_START_GOOD.messages), ("Zwolle", [{"text": "Uw vraag?"}])])
    bad = ScriptedBot([("", FORM_START_BUG.messages)])
    convs = [_conversation(FORM_TURNS), _conversation(FORM_TURNS, cls="cancel")]
    results = [d.run_conversation(convs[0], good), d.run_conversation(convs[1], bad)]
    summary = d.summarise(results)
    assert summary["form_start"] == {"conversations": 1, "passed": 1, "rate": 1.0}
    assert summary["cancel"] == {"conversations": 1, "passed": 0, "rate": 0.0}
    assert summary["overall"] == {"conversations": 2, "passed": 1, "rate": 0.5}
    assert list(summary) == ["form_start", "cancel", "overall"]
    table = d.format_table(summary)
    assert "form_start" in table and "50.0%" in table
    out = tmp_path / "r" / "dialogues.json"
    d.write_json(out, results, {"url": "http://x"})
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["overall"]["passed"] == 1
    assert doc["conversations"][0]["class"] == "form_start"
    assert doc["conversations"][1]["turns"][0]["failures"]


def test_run_all_keeps_the_order_with_workers():
    bot = ScriptedBot([("makelaar", FORM_START_GOOD.messages), ("Zwolle", [{"text": "Uw vraag?"}])])
    convs = [d.parse_conversation({"id": f"c-{i}", "class": "form_start", "description": "x",
                                   "turns": FORM_TURNS}, "t.yml") for i in range(6)]
    seen = []
    results = d.run_all(convs, bot, workers=3, progress=seen.append)
    assert [r.id for r in results] == [c.id for c in convs]
    assert len(seen) == 6 and all(r.passed for r in results)


# --- the REST client ------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body, headers: dict | None = None):
        self.status_code, self._body, self.headers = status, body, headers or {}

    def json(self):
        return self._body

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(str(self.status_code))


def test_rest_client_posts_sender_text_and_metadata_and_retries_on_429():
    responses = [FakeResponse(429, [], {"Retry-After": "7"}), FakeResponse(200, [{"text": "Hallo"}])]
    posts, sleeps = [], []

    def post(url, json, timeout):
        posts.append((url, json))
        return responses.pop(0)

    client = d.RestClient("http://bot:5005/", post=post, sleep=sleeps.append)
    assert client("s1", "hoi", {"gemeente": "zwolle"}) == [{"text": "Hallo"}]
    assert posts[0] == ("http://bot:5005/webhooks/rest/webhook",
                        {"sender": "s1", "message": "hoi", "metadata": {"gemeente": "zwolle"}})
    assert sleeps == [7.0]
    responses.append(FakeResponse(200, []))
    assert client("s2", "hoi", {}) == []
    assert posts[-1][1] == {"sender": "s2", "message": "hoi"}  # no metadata key without metadata


def test_rest_client_raises_on_errors():
    client = d.RestClient("http://bot", post=lambda *a, **k: FakeResponse(500, []), sleep=lambda s: None)
    with pytest.raises(requests.HTTPError):
        client("s", "x", {})
    client = d.RestClient("http://bot", retries=1, sleep=lambda s: None,
                          post=lambda *a, **k: FakeResponse(429, [], {"Retry-After": "1"}))
    with pytest.raises(requests.HTTPError):
        client("s", "x", {})


# --- the command line --------------------------------------------------------------------------


def test_main_runs_a_set_against_a_url_and_writes_the_results(tmp_path, monkeypatch, capsys):
    _write(tmp_path / "set", "cancel.yml", GOOD)
    bot = ScriptedBot([("stop", [{"text": "Goed, ik ben gestopt. Ik heb niets opgeslagen."}]),
                       ("", [{"text": "Hallo!"}])])
    urls = []

    def client(url, timeout):
        urls.append(url)
        return bot

    monkeypatch.setattr(d, "RestClient", client)
    out = tmp_path / "out" / "d.json"
    code = d.main(["--url", "http://bot:1", "--set", str(tmp_path / "set"), "--out", str(out), "--quiet"])
    assert code == 0 and urls == ["http://bot:1"]
    printed = capsys.readouterr()
    assert "cancel" in printed.out and "100.0%" in printed.out
    assert "warning:" in printed.err  # a one-conversation set lacks the other classes
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["run"]["url"] == "http://bot:1" and doc["summary"]["overall"]["passed"] == 1

    bot.rules = [("", [{"text": "Wat is uw naam?"}])]
    assert d.main(["--url", "http://bot:1", "--set", str(tmp_path / "set"), "--out", str(out),
                   "--quiet"]) == 1
    assert "FAIL x-1" in capsys.readouterr().out


def test_main_refuses_a_broken_set_an_empty_selection_and_a_missing_model(tmp_path, capsys):
    _write(tmp_path / "bad", "cancel.yml", "conversations: [")
    assert d.main(["--set", str(tmp_path / "bad")]) == 2
    _write(tmp_path / "set", "cancel.yml", GOOD)
    assert d.main(["--set", str(tmp_path / "set"), "--id", "nope"]) == 2
    assert d.main(["--set", str(tmp_path / "set"), "--stack",
                   "--model", str(tmp_path / "missing.tar.gz")]) == 2
    assert "no model" in capsys.readouterr().err


def test_latest_model_is_the_newest_archive(tmp_path):
    assert d.latest_model(tmp_path) is None
    old, new = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    for i, path in enumerate((new, old)):
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    (tmp_path / "fingerprints.json").write_text("{}")
    assert d.latest_model(tmp_path) == old  # newest modification time, as Rasa picks it
