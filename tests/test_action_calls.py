"""The speed-ups of the Rasa process (bot/rasa_ext/speedups.py): the gemeente slot mapping call is
skipped when a message cannot change the gemeente, action-server replies are checked with a validator
built once, and neither applies on another Rasa version or when switched off. Rasa's own
ActionExtractSlots runs here against a small action server that counts the calls it gets."""

from __future__ import annotations

import pytest
import rasa.core.actions.action as rasa_action
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema import ValidationError
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.conversation.context import needs_gemeente_extraction
from bot.rasa_ext import speedups
from bot.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain"))


# --- the predicate ----------------------------------------------------------------------------

def needed(intent="ask_btw", entities=(), form=None, requested=None, current=None, metadata=None):
    return needs_gemeente_extraction(intent=intent, entity_names=entities, active_form=form,
                                     requested_slot=requested, current=current, metadata=metadata or {})


def test_a_message_without_a_place_needs_no_extraction():
    assert not needed()
    assert not needed(entities=["onderwerp", "organisatie"])


@pytest.mark.parametrize("entity", ["gemeente", "woonplaats", "postcode"])
def test_a_place_entity_needs_extraction(entity):
    assert needed(entities=[entity])
    assert needed(entities=[entity], current="zwolle")  # the user may move on to another gemeente


def test_asking_whether_a_gemeente_takes_part_is_not_where_the_user_is():
    assert not needed(intent="ask_deal_gemeenten", entities=["gemeente"])


def test_stop_never_changes_the_gemeente():
    assert not needed(intent="stop", entities=["gemeente"], form="handoff_form", requested="gemeente")


def test_in_a_form_only_the_gemeente_question_counts():
    assert needed(intent="inform", form="handoff_form", requested="gemeente")
    assert not needed(intent="inform", entities=["gemeente"], form="handoff_form", requested="handoff_name")


def test_widget_metadata_fills_only_an_empty_slot():
    assert needed(metadata={"gemeente": "utrecht"})
    assert not needed(metadata={"gemeente": "utrecht"}, current="zwolle")
    assert not needed(metadata={"gemeente": ""})
    assert not needed(metadata={"gemeente": "x" * 101})
    assert not needed(metadata={"gemeente": ["utrecht"]})


# --- Rasa's slot extraction with the patch -------------------------------------------------------

@pytest.fixture
async def action_server():
    calls: list[str] = []
    peers: set = set()  # client (address, port) pairs: one per TCP connection

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(body["next_action"])
        peers.add(request.transport.get_extra_info("peername"))
        assert "domain" not in body or body["next_action"] != "action_extract_gemeente"
        return web.json_response({"events": [{"event": "slot", "name": "gemeente", "value": "zwolle"}],
                                  "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    speedups.install()
    endpoint = EndpointConfig(str(server.make_url("/webhook")), enable_selective_domain=True)
    endpoint.peers = peers
    yield endpoint, calls
    await server.close()


def conversation(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("sender-1", list(events), slots=DOMAIN.slots)


def said(text="wat is btw", intent="ask_btw", entities=(), metadata=None) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.95}, list(entities), metadata=metadata)


async def extract(endpoint: EndpointConfig, tracker: DialogueStateTracker) -> dict:
    action = rasa_action.ActionExtractSlots(endpoint)
    events = await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses),
                              tracker, DOMAIN)
    return {e.key: e.value for e in events if isinstance(e, SlotSet)}


async def test_a_plain_question_makes_no_action_server_call(action_server):
    endpoint, calls = action_server
    assert await extract(endpoint, conversation(said())) == {}
    assert calls == []


async def test_a_named_place_is_sent_to_the_action_server(action_server):
    endpoint, calls = action_server
    place = {"entity": "gemeente", "value": "Zwolle", "start": 10, "end": 16}
    slots = await extract(endpoint, conversation(said("ik zit in Zwolle", "inform", [place])))
    assert calls == ["action_extract_gemeente"]
    assert slots["gemeente"] == "zwolle"


async def test_widget_metadata_is_resolved_while_the_slot_is_empty(action_server):
    endpoint, calls = action_server
    await extract(endpoint, conversation(said(metadata={"gemeente": "zwolle"})))
    assert calls == ["action_extract_gemeente"]
    calls.clear()
    await extract(endpoint, conversation(SlotSet("gemeente", "zwolle"), said(metadata={"gemeente": "zwolle"})))
    assert calls == []


async def test_action_calls_reuse_one_connection(action_server):
    endpoint, calls = action_server
    place = {"entity": "gemeente", "value": "Zwolle", "start": 10, "end": 16}
    for _ in range(3):
        await extract(endpoint, conversation(said("ik zit in Zwolle", "inform", [place])))
    assert calls == ["action_extract_gemeente"] * 3
    assert len(endpoint.peers) == 1


async def test_the_form_question_for_the_gemeente_is_sent(action_server):
    endpoint, calls = action_server
    form = [ActiveLoop("handoff_form"), SlotSet("requested_slot", "gemeente")]
    await extract(endpoint, conversation(*form, said("zwole", "inform")))
    assert calls == ["action_extract_gemeente"]


# --- reply validation ---------------------------------------------------------------------------

def test_action_replies_are_still_validated():
    speedups.install()
    remote = rasa_action.RemoteAction("action_answer_topic", None)
    assert remote._validate_action_result({"events": [], "responses": [{"text": "hoi"}]})
    with pytest.raises(ValidationError):
        remote._validate_action_result({"events": [{"event": "slot"}], "responses": "not a list"})
    with pytest.raises(ValidationError):
        remote._validate_action_result({"events": [{"event": "no_such_event"}]})


# --- when the patches apply -----------------------------------------------------------------------


def test_patches_are_left_out_on_another_rasa_version_with_a_warning(caplog, monkeypatch):
    def untouched(self, result):
        return True

    monkeypatch.setattr(rasa_action, "_loket_speedups", False, raising=False)
    monkeypatch.setattr(rasa_action.RemoteAction, "_validate_action_result", untouched)
    with caplog.at_level("WARNING"):
        assert speedups.install(enabled=True, rasa_version="3.7.0") is False
    assert "written for Rasa 3.6.21, this is 3.7.0" in caplog.text
    assert rasa_action.RemoteAction._validate_action_result is untouched


def test_the_off_switch_leaves_rasa_alone(monkeypatch):
    from bot import settings

    monkeypatch.setenv("LOKET_RASA_PATCHES", "false")
    settings.get_settings.cache_clear()
    try:
        assert speedups.install() is False
        assert settings.get_settings().rasa_patches is False
    finally:
        settings.get_settings.cache_clear()


def test_on_the_rasa_they_were_written_for_they_apply():
    import rasa

    assert rasa.__version__ == speedups.PATCHED_FOR
    assert speedups.install(enabled=True) is True
