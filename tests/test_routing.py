"""Gemeente resolution and team routing, table-driven against the production knowledge/."""

from __future__ import annotations

import pytest

from bot import models
from bot.conversation.gemeenten import resolve_gemeente
from bot.conversation.routing import no_team_text, response_time_text, route
from bot.db import make_engine, session_scope, upgrade
from bot.knowledge.loader import load
from bot.settings import PROJECT_ROOT
from bot.text import normalize


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('routing') / 'loket.db'}"
    upgrade(url)
    engine = make_engine(url)
    load(engine, PROJECT_ROOT / "knowledge")
    yield engine
    engine.dispose()


@pytest.fixture
def session(kb):
    with session_scope(kb) as s:
        yield s
        s.rollback()  # tests that add rows leave nothing behind


FOUND = [
    # names and spelling variants
    ("Zwolle", "zwolle", "name"),
    ("ZWOLLE", "zwolle", "name"),
    ("  Zwolle ", "zwolle", "name"),
    ("gemeente Zwolle", "zwolle", "name"),
    ("Den Haag", "den-haag", "name"),
    ("'s-Gravenhage", "den-haag", "name"),
    ("\u2019s-Gravenhage", "den-haag", "name"),
    ("s Gravenhage", "den-haag", "name"),
    ("The Hague", "den-haag", "name"),
    ("Sittard-Geleen", "sittard-geleen", "name"),
    ("Sittard/Geleen", "sittard-geleen", "name"),
    ("Sittard", "sittard-geleen", "name"),
    ("Geleen", "sittard-geleen", "name"),
    ("Súdwest-Fryslân", "sudwest-fryslan", "name"),
    ("Sudwest Fryslan", "sudwest-fryslan", "name"),
    ("Alphen a/d Rijn", "alphen-aan-den-rijn", "name"),
    # small typos
    ("zwole", "zwolle", "fuzzy"),
    ("Zwollle", "zwolle", "fuzzy"),
    ("Utrect", "utrecht", "fuzzy"),
    ("Amersfort", "amersfoort", "fuzzy"),
    ("Groningn", "groningen", "fuzzy"),
    ("Apeldorn", "apeldoorn", "fuzzy"),
    ("Rotterdm", "rotterdam", "fuzzy"),
    ("Sitard", "sittard-geleen", "fuzzy"),
    ("Helmnd", "helmond", "fuzzy"),
    # woonplaatsen of deal gemeenten
    ("De Meern", "utrecht", "woonplaats"),
    ("Vleuten", "utrecht", "woonplaats"),
    ("Scheveningen", "den-haag", "woonplaats"),
    ("Hoogvliet", "rotterdam", "woonplaats"),
    ("Klazienaveen", "emmen", "woonplaats"),
    ("Nieuw-Amsterdam", "emmen", "woonplaats"),
    ("Born", "sittard-geleen", "woonplaats"),
    ("Beekbergen", "apeldoorn", "woonplaats"),
    ("Haren", "groningen", "woonplaats"),
    ("Windesheim", "zwolle", "woonplaats"),
    ("Weesp", "amsterdam", "woonplaats"),
    # postcodes: with and without letters and space
    ("8011 AB", "zwolle", "postcode"),
    ("8011ab", "zwolle", "postcode"),
    ("8011", "zwolle", "postcode"),
    ("3511 AB", "utrecht", "postcode"),
    ("2511CV", "den-haag", "postcode"),
    ("6131", "sittard-geleen", "postcode"),
    ("7811 KL", "emmen", "postcode"),
    ("9711 LM", "groningen", "postcode"),
    ("mijn postcode is 8043 AA", "zwolle", "postcode"),
    # a sentence around the name; the longer name wins ("Nieuw-Amsterdam" is not Amsterdam)
    ("ik zit in Zwolle", "zwolle", "name"),
    ("wij zijn gevestigd in Nieuw-Amsterdam", "emmen", "woonplaats"),
    ("ik ben best tevreden in Zwolle", "zwolle", "name"),
    # gemeenten outside the City Deal are found too (and routed to alternatives below)
    ("Tilburg", "tilburg", "name"),
    ("Den Bosch", "s-hertogenbosch", "name"),
    ("Maastricht", "maastricht", "name"),
    ("Best", "best", "name"),
    # an id, as the widget sends it
    ("sittard-geleen", "sittard-geleen", "id"),
]


@pytest.mark.parametrize(("text", "expected", "via"), FOUND)
def test_found(session, text, expected, via):
    res = resolve_gemeente(session, text)
    assert (res.status, res.gemeente_id, res.via) == ("found", expected, via)


AMBIGUOUS = [
    ("Bergen", {"bergen-l", "bergen-nh"}),
    ("Bergn", {"bergen-l", "bergen-nh"}),
    ("ik woon in Zwolle maar werk in Kampen", {"zwolle", "kampen"}),
]


@pytest.mark.parametrize(("text", "expected"), AMBIGUOUS)
def test_ambiguous_gives_candidates_for_buttons(session, text, expected):
    res = resolve_gemeente(session, text)
    assert res.status == "ambiguous" and res.gemeente is None
    assert {g.id for g in res.candidates} == expected


UNKNOWN = ["", "   ", "xyz", "weet ik niet", "ik wil iemand spreken", "ja hoor", "Atlantis",
           "met vriendelijke groet, het beste"]


@pytest.mark.parametrize("text", UNKNOWN)
def test_unknown(session, text):
    res = resolve_gemeente(session, text)
    assert res.status == "unknown" and res.gemeente is None and res.candidates == []


@pytest.mark.parametrize(("text", "shown"), [("5038 AB", "5038 AB"), ("5038ab", "5038 AB"), ("1234", "1234")])
def test_postcode_outside_known_ranges_is_unknown_but_named(session, text, shown):
    res = resolve_gemeente(session, text)
    assert (res.status, res.via, res.postcode) == ("unknown", "postcode", shown)


def test_normalize():
    assert normalize("'s-Gravenhage") == normalize("s Gravenhage") == "s gravenhage"
    assert normalize("Súdwest-Fryslân") == "sudwest fryslan"
    assert normalize("Bergen (NH.)") == "bergen nh"


@pytest.mark.parametrize("gemeente_id", ["zwolle", "utrecht", "den-haag", "sittard-geleen", "emmen",
                                         "amsterdam", "rotterdam", "groningen", "haarlem", "apeldoorn",
                                         "helmond", "delft", "amersfoort"])
def test_every_deal_gemeente_routes_to_its_own_team(session, gemeente_id):
    r = route(session, gemeente_id)
    assert r.has_team and gemeente_id in r.team.gemeenten and r.alternatives == []


@pytest.mark.parametrize(("gemeente_id", "expected"), [
    ("tilburg", ["bom", "ondernemersplein", "kvk"]),
    ("maastricht", ["liof", "ondernemersplein", "kvk"]),
    ("kampen", ["impact-oost", "oost-nl", "ondernemersplein", "kvk"]),
    ("westerkwartier", ["impact-noord", "nom", "ondernemersplein", "kvk"]),
    ("almere", ["horizon-flevoland", "ondernemersplein", "kvk"]),
])
def test_gemeente_without_team_gets_real_alternatives(session, gemeente_id, expected):
    r = route(session, gemeente_id)
    assert not r.has_team
    assert [lk.id for lk in r.alternatives] == expected
    text = no_team_text(r)
    assert "(nog) geen makelaarsteam" in text
    # Every place named comes from the loketten table, with its own URL: nothing invented.
    for lk in r.alternatives:
        assert lk.name in text and lk.url in text


def test_unknown_gemeente_id_has_no_route(session):
    assert route(session, "atlantis") is None


def test_a_team_for_the_topic_beats_the_general_team(session):
    session.add(models.Makelaarsteam(id="zwolle-werk", name="Werkgeversteam Zwolle", gemeenten=["zwolle"],
                                     topics=["jobcoach"], channel="email", email="werk@example.nl"))
    session.flush()
    assert route(session, "zwolle", "jobcoach").team.id == "zwolle-werk"
    assert route(session, "zwolle", "btw").team.id == "zwolle"
    assert route(session, "zwolle").team.id == "zwolle"


def test_response_time_text():
    assert response_time_text(1) == "binnen 1 werkdag"
    assert response_time_text(3) == "binnen 3 werkdagen"
    assert response_time_text(0) == "vandaag nog"
