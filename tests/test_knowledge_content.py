"""Content of the shipped knowledge/: the corrected facts of issue 17 stay corrected, the added entries exist,
and former gemeente names and village postcodes route to the current gemeente.

These tests pin facts, not wording: amounts, names, regions and "this has ended". When a fact changes (new
EU thresholds in 2028, a new LKV amount), change the content and this test together, with the new source.
Every assertion over a list also asserts that the list is not empty, so a renamed id cannot pass silently.
"""

from __future__ import annotations

import re

import pytest

from bot.conversation.gemeenten import resolve_gemeente
from bot.db import make_engine, session_scope, upgrade
from bot.knowledge.loader import check, load
from bot.settings import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"


@pytest.fixture(scope="module")
def kn():
    return check(KNOWLEDGE)


@pytest.fixture(scope="module")
def regelingen(kn):
    by_id = {r.id: r for _, r in kn.regelingen}
    assert by_id
    return by_id


@pytest.fixture(scope="module")
def loketten(kn):
    by_id = {lk.id: lk for lk in kn.loketten}
    assert by_id
    return by_id


@pytest.fixture(scope="module")
def gemeenten(kn):
    by_id = {g.id: g for g in kn.gemeenten}
    assert by_id
    return by_id


@pytest.fixture(scope="module")
def loaded_real(tmp_path_factory):
    """Like the `loaded` fixture in conftest.py, but with the real knowledge/ directory (loaded once)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('content') / 'loket.db'}"
    upgrade(url)
    engine = make_engine(url)
    load(engine, KNOWLEDGE)
    yield engine
    engine.dispose()


def text(entry) -> str:
    """Everything a user can read of a regeling or loket, as one string."""
    parts = [entry.name]
    for field in ("provider", "audience", "benefit", "summary", "description"):
        value = getattr(entry, field, None)
        if value:
            parts.append(value)
    parts.extend(getattr(entry, "conditions", []) or [])
    return "\n".join(parts)


def amounts(value: str) -> set[int]:
    """Euro amounts in Dutch notation: "€ 2.000" -> 2000, "€ 5.404.000" -> 5404000."""
    return {int(m.replace(".", "")) for m in re.findall(r"€\s?(\d{1,3}(?:\.\d{3})*)(?![\d,])", value)}


# --- corrections ---------------------------------------------------------------------------------


def test_lkv_banenafspraak_is_at_most_2000_a_year(regelingen):
    lkv = text(regelingen["lkv-banenafspraak"])
    found = amounts(lkv)
    assert found
    assert 2000 in found
    assert 4000 not in found
    assert "1,01" in lkv


def test_every_lkv_is_paid_by_the_belastingdienst(regelingen):
    lkvs = [r for r in regelingen.values() if r.id.startswith("lkv-")]
    assert len(lkvs) >= 4
    for r in lkvs:
        assert r.provider.startswith("Belastingdienst"), r.id
        assert "UWV berekent en betaalt" not in text(r), r.id
    for rid in ("lkv-arbeidsgehandicapte-werknemer", "lkv-banenafspraak", "lkv-herplaatsen"):
        assert "Belastingdienst betaalt" in text(regelingen[rid]) or "betaalt de Belastingdienst" in text(
            regelingen[rid]), rid


def test_loonkostensubsidie_is_for_the_participatiewet_not_the_doelgroepregister(regelingen):
    lks = regelingen["loonkostensubsidie"]
    conditions = lks.conditions
    assert conditions
    assert any("Participatiewet" in c for c in conditions)
    assert not any("of staat in het doelgroepregister" in c for c in conditions)
    assert any("Wajong" in c and "loondispensatie" in c for c in conditions)
    assert "70%" in lks.benefit


def test_sociaal_innovatiefonds_is_a_pilot_led_by_social_finance_nl(regelingen, loketten):
    sif = regelingen["sociaal-innovatiefonds"]
    assert "Social Finance NL" in sif.provider
    assert "pilot" in text(sif).lower()
    assert "Fonds van het ministerie van SZW" not in sif.summary
    assert "afgelopen" in text(sif)
    assert "Social Finance NL" in loketten["sociaal-innovatiefonds-financier"].description


def test_stadmakersfonds_works_in_the_provincie_utrecht(regelingen):
    fund = regelingen["stadmakersfonds"]
    assert fund.region.level == "provincie"
    assert fund.region.provincie == "Utrecht"


def test_resultaatfinanciering_cites_a_source_about_social_impact_bonds(regelingen):
    source = str(regelingen["resultaatfinanciering"].source_url)
    assert "sifr.nl" not in source
    assert "social-impact-bonds" in source


def test_regio_deal_is_called_zuid_en_oost_drenthe(loketten):
    program = loketten["impactondernemen-zuidoost-drenthe"]
    assert "Zuid- en Oost-Drenthe" in program.name
    assert "Regio Deal Zuid- en Oost-Drenthe" in program.description
    assert "Regio Deal Zuidoost-Drenthe" not in program.description


def test_european_thresholds_from_2026(regelingen):
    drempels = regelingen["europese-aanbestedingsdrempels"]
    found = amounts(text(drempels))
    assert found
    assert {216_000, 140_000, 5_404_000, 750_000} <= found
    current = [c for c in drempels.conditions if "2026" in c]
    assert current
    assert any("216.000" in c and "gemeenten" in c for c in current)
    assert "2025/2152" in str(drempels.source_url)


def test_mit_has_no_kennisvoucher_and_belongs_to_ez(regelingen):
    mit = regelingen["mit"]
    assert "Economische Zaken" in mit.provider
    assert "kennisvoucher" not in mit.benefit.lower()
    assert any("geen kennisvouchers meer" in c for c in mit.conditions)


def test_pso_has_a_basistrede_and_no_2017_figure(regelingen):
    pso = text(regelingen["pso-certificaat"])
    assert "basistrede" in pso
    assert "kwart van de gemeenten" not in pso


def test_praktijkleren_runs_to_2028_and_covers_more_than_mbo_bbl(regelingen):
    pl = regelingen["subsidieregeling-praktijkleren"]
    assert "31 december 2028" in text(pl)
    covered = [level for level in ("vmbo", "mbo-bbl", "hbo", "promovendi") if level in text(pl)]
    assert covered == ["vmbo", "mbo-bbl", "hbo", "promovendi"]


def test_city_deal_is_presented_as_ended(loketten, regelingen):
    deal = loketten["city-deal-impact-ondernemen"]
    assert "afgelopen" in deal.name
    assert "2021 tot 2024" in deal.description
    tracks = [r for rid, r in regelingen.items() if rid.startswith("city-deal-spoor-")]
    assert len(tracks) == 3
    for track in tracks:
        assert "afgelopen" in track.name
        assert "afgelopen" in track.summary
        assert "stcrt-2022-1709" in str(track.source_url)


@pytest.mark.parametrize("term", ["Exploitatiesubsidie", "Risicodragende lening", "proof of principle",
                                  "diensten van algemeen economisch belang"])
def test_jargon_is_gone_from_what_users_read(regelingen, loketten, term):
    entries = list(regelingen.values()) + list(loketten.values())
    assert entries
    offenders = [e.id for e in entries if term.lower() in text(e).lower()]
    assert offenders == []


# --- added content --------------------------------------------------------------------------------

NEW_REGELINGEN = [
    "bmkb", "bmkb-groen", "vroegefasefinanciering", "seed-capital",
    "tvl-gestopt", "now-gestopt", "tozo-gestopt", "liv-gestopt",
    "stichting-en-bv", "anbi", "steward-ownership", "maatschappelijke-bv-bvm",
    "uwv-werkplekvoorzieningen", "beschut-werk",
    "city-deal-spoor-overheid", "city-deal-spoor-loket-netwerk", "city-deal-spoor-financiering",
    "makelaar-met-mandaat",
]
NEW_LOKETTEN = ["start-foundation", "social-finance-nl", "impact033", "mvo-nederland", "social-impact-factory",
                "startup-in-residence", "lansco"]


@pytest.mark.parametrize("rid", NEW_REGELINGEN)
def test_added_regeling_exists(regelingen, rid):
    assert rid in regelingen
    assert str(regelingen[rid].source_url).startswith(("http://", "https://"))


@pytest.mark.parametrize("lid", NEW_LOKETTEN)
def test_added_loket_exists(loketten, lid):
    assert lid in loketten


def test_bmkb_groen_is_75_percent_and_runs_to_mid_2027(regelingen):
    groen = text(regelingen["bmkb-groen"])
    assert "75%" in groen
    assert "1 juli 2027" in groen


@pytest.mark.parametrize("rid", ["tvl-gestopt", "now-gestopt", "tozo-gestopt", "liv-gestopt"])
def test_ended_schemes_say_so_and_point_to_what_exists_now(regelingen, rid):
    scheme = regelingen[rid]
    assert "gestopt" in scheme.name
    assert "niet meer" in scheme.benefit
    alternatives = [word for word in ("Bbz", "Qredits", "BMKB", "LKV", "loonkostenvoordeel", "loonkostensubsidie")
                    if word in scheme.benefit]
    assert alternatives, rid


def test_tozo_ended_in_october_2021_and_liv_in_2025(regelingen):
    assert "1 oktober 2021" in text(regelingen["tozo-gestopt"])
    assert "1 januari 2025" in text(regelingen["liv-gestopt"])


def test_bvm_does_not_exist(regelingen):
    bvm = regelingen["maatschappelijke-bv-bvm"]
    assert "bestaat niet" in bvm.name
    assert "geen aparte rechtsvorm" in bvm.summary


def test_steward_ownership_has_no_legal_form_yet(regelingen):
    assert "geen aparte rechtsvorm" in regelingen["steward-ownership"].summary


def test_impact033_is_amersfoorts_network(loketten):
    impact033 = loketten["impact033"]
    assert impact033.kind == "netwerk"
    assert impact033.region.gemeenten == ["amersfoort"]


def test_start_foundation_and_social_finance_nl_are_financiers(loketten):
    kinds = [loketten[lid].kind for lid in ("start-foundation", "social-finance-nl")]
    assert kinds == ["financier", "financier"]


def test_makelaar_met_mandaat_explains_mandate(regelingen):
    makelaar = text(regelingen["makelaar-met-mandaat"])
    assert "Mandaat betekent" in makelaar


def test_no_entry_claims_a_check_date_in_the_yaml():
    """Whether a person checked an entry is a review stamp in the database, not a date in the file."""
    files = sorted(KNOWLEDGE.glob("**/*.yml"))
    assert files
    for path in files:
        assert not re.search(r"^\s*last_checked\s*:", path.read_text(encoding="utf-8"), re.M), path.name


def test_demo_contacts_only(kn):
    """No invented phone numbers or e-mail addresses in what users read."""
    entries = [r for _, r in kn.regelingen] + list(kn.loketten)
    assert entries
    for entry in entries:
        body = text(entry)
        assert not re.search(r"\b0\d{1,3}[- ]?\d{6,8}\b", body), entry.id
        assert "@" not in body, entry.id


# --- gemeenten ------------------------------------------------------------------------------------

FORMER_GEMEENTEN = [
    ("Heerhugowaard", "dijk-en-waard"), ("Langedijk", "dijk-en-waard"),
    ("Uden", "maashorst"), ("Landerd", "maashorst"),
    ("Boxmeer", "land-van-cuijk"), ("Cuijk", "land-van-cuijk"), ("Grave", "land-van-cuijk"),
    ("Mill en Sint Hubert", "land-van-cuijk"), ("Sint Anthonis", "land-van-cuijk"),
    ("Brielle", "voorne-aan-zee"), ("Hellevoetsluis", "voorne-aan-zee"), ("Westvoorne", "voorne-aan-zee"),
    ("Beemster", "purmerend"),
    ("Delfzijl", "eemsdelta"), ("Appingedam", "eemsdelta"), ("Loppersum", "eemsdelta"),
]


def test_former_gemeenten_are_aliases_of_existing_gemeenten(gemeenten):
    assert FORMER_GEMEENTEN
    for name, gid in FORMER_GEMEENTEN:
        assert gid in gemeenten
        assert name in gemeenten[gid].aliases


def test_former_gemeente_names_clash_with_no_other_gemeente(gemeenten):
    from bot.text import normalize

    owners: dict[str, set[str]] = {}
    for g in gemeenten.values():
        for label in {g.name, *g.aliases, *g.woonplaatsen}:
            owners.setdefault(normalize(label), set()).add(g.id)
    assert owners
    for name, gid in FORMER_GEMEENTEN:
        assert owners[normalize(name)] == {gid}, name


@pytest.mark.parametrize(("name", "gid"), FORMER_GEMEENTEN)
def test_former_gemeente_resolves_to_current_gemeente(loaded_real, name, gid):
    with session_scope(loaded_real) as s:
        res = resolve_gemeente(s, name)
        assert (res.status, res.gemeente_id) == ("found", gid)


@pytest.mark.parametrize(("sentence", "gid"), [("ik zit in Heerhugowaard", "dijk-en-waard"),
                                             ("mijn bedrijf is gevestigd in Delfzijl", "eemsdelta")])
def test_former_gemeente_in_a_sentence(loaded_real, sentence, gid):
    with session_scope(loaded_real) as s:
        res = resolve_gemeente(s, sentence)
        assert (res.status, res.gemeente_id) == ("found", gid)


VILLAGE_POSTCODES = [
    ("3888", "apeldoorn"),   # Uddel
    ("7345", "apeldoorn"),   # Wenum-Wiesel
    ("7346", "apeldoorn"),   # Hoog Soeren
    ("7881", "emmen"),       # Emmer-Compascuum
    ("7894", "emmen"),       # Zwartemeer
    ("9755", "groningen"),   # Onnen
    ("9756", "groningen"),   # Glimmen
    ("9479", "groningen"),   # Noordlaren
]


@pytest.mark.parametrize(("postcode", "gid"), VILLAGE_POSTCODES)
def test_village_postcode_routes_to_its_gemeente(loaded_real, postcode, gid):
    with session_scope(loaded_real) as s:
        res = resolve_gemeente(s, postcode)
        assert (res.status, res.gemeente_id, res.via) == ("found", gid, "postcode")


def test_full_village_postcode_in_a_sentence(loaded_real):
    with session_scope(loaded_real) as s:
        res = resolve_gemeente(s, "ons adres is 3888 AB in Uddel")
        assert (res.status, res.gemeente_id) == ("found", "apeldoorn")
