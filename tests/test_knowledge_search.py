"""Knowledge search: quality on the shipped content, Dutch word handling, region filtering, reloads."""

from __future__ import annotations

import shutil

import pytest
import yaml
from sqlalchemy import func, select, text

from bot import models
from bot.db import session_scope
from bot.knowledge import search as ks
from bot.knowledge.loader import load
from bot.settings import PROJECT_ROOT
from tests.support import FIXTURE_KNOWLEDGE

# (user text, acceptable ids in the top 3, extra search arguments). Written as users type: informal,
# with typos, split compounds and other words than the content uses.
QUALITY_CASES: list[tuple[str, set[str], dict]] = [
    ("hoe schrijf ik mijn bedrijf in bij de kamer van koophandel", {"inschrijven-kvk", "kvk"}, {}),
    ("wanneer moet ik me inschrijven bij de kvk", {"inschrijven-kvk"}, {}),
    ("welke rechtsvorm past bij een sociale onderneming", {"rechtsvorm-kiezen"}, {}),
    ("bestaat de maatschappelijke bv al?", {"maatschappelijke-bv-bvm"}, {}),
    ("bvm oprichten", {"maatschappelijke-bv-bvm"}, {}),
    ("stichting opzetten voor mijn buurtproject", {"stichting-oprichten"}, {}),
    ("cooperatie beginnen met andere zzpers", {"cooperatie-oprichten"}, {}),
    ("moet ik btw rekenen als kleine ondernemer", {"kleineondernemersregeling", "btw-ondernemer"}, {}),
    ("kleine ondernemers regeling", {"kleineondernemersregeling"}, {}),
    ("wbos aanvragen voor onze developers", {"wbso"}, {}),
    ("afdrachtvermindering voor speur en ontwikkelingswerk", {"wbso"}, {}),
    ("haalbaarheids studie voor mijn innovatie", {"mit-haalbaarheidsproject", "mit"}, {}),
    ("samen met twee andere mkb bedrijven een product ontwikkelen", {"mit-rd-samenwerking"}, {}),
    ("krediet voor de ontwikkeling van een nieuw product met veel risico", {"innovatiekrediet"}, {}),
    ("aftrek voor investeren in energiezuinige machines", {"eia"}, {}),
    ("zonnepanelen op het dak van mijn bedrijf", {"isde", "sde-plus-plus", "eia"}, {}),
    ("warmtepomp subsidie voor mijn zaak", {"isde"}, {}),
    ("hulp van experts bij circulair ondernemen", {"versnellingshuis-circulair", "versnellingshuis"}, {}),
    ("belastingvoordeel voor een milieuvriendelijke investering", {"mia-vamil"}, {}),
    ("europees sociaal fonds", {"esf-plus"}, {}),
    ("efro geld voor regionale ontwikkeling", {"efro"}, {}),
    ("hoeveel staatssteun mag ik krijgen, de minimis", {"de-minimis"}, {}),
    ("loon kosten subsidie voor iemand met een beperking", {"loonkostensubsidie"}, {}),
    ("loonkostesubsidie aanvragen", {"loonkostensubsidie"}, {}),
    ("mijn medewerker met een arbeidsbeperking wordt ziek, wie betaalt zijn loon",
     {"no-riskpolis"}, {}),
    ("no risk polis", {"no-riskpolis"}, {}),
    ("begeleiding op de werkvloer door een job coach", {"jobcoach-uwv", "jobcoach-gemeente"}, {}),
    ("jobcoch via uwv", {"jobcoach-uwv"}, {}),
    ("proef plaatsing met behoud van uitkering", {"proefplaatsing-uwv", "proefplaatsing-gemeente"}, {}),
    ("loonkostenvoordeel oudere werknemer", {"lkv-oudere-werknemer"}, {}),
    ("lkv banenafspraak", {"lkv-banenafspraak"}, {}),
    ("erkend leerbedrijf worden voor mbo stagiairs", {"erkend-leerbedrijf"}, {}),
    ("praktijkverklaring mbo", {"praktijkverklaring-mbo"}, {}),
    ("subsidie voor het begeleiden van leerlingen in de praktijk", {"subsidieregeling-praktijkleren"}, {}),
    ("prestatieladder socialer ondernemen certificaat", {"pso-certificaat", "pso-nederland"}, {}),
    ("hoe kom ik in het register van de code sociale ondernemingen",
     {"code-sociale-ondernemingen", "stichting-code-sociale-ondernemingen"}, {}),
    ("hoe meet ik mijn maatschappelijke impact", {"impact-meten"}, {}),
    ("netwerk van sociale ondernemers in de buurt",
     {"social-enterprise-nl", "impact-oost", "city-deal-impact-ondernemen"}, {"gemeente_id": "zwolle"}),
    ("social return on investment bij aanbestedingen", {"social-return"}, {}),
    ("drempelbedragen europese aanbesteding", {"europese-aanbestedingsdrempels"}, {}),
    ("opdrachten die voorbehouden zijn aan sociale werkplaatsen",
     {"voorbehouden-opdrachten"}, {}),
    ("waar vind ik opdrachten van de overheid",
     {"tenderned-opdrachten-vinden", "tenderned", "onderhandse-opdrachten-gemeente"}, {}),
    ("microkrediet voor starters", {"qredits-microkrediet"}, {}),
    ("qredit lening", {"qredits-microkrediet", "qredits-mkb-krediet", "qredits"}, {}),
    ("crowfunding voor mijn product", {"crowdfunding"}, {}),
    ("social impact bond", {"resultaatfinanciering"}, {}),
    ("borgstelling voor een bankkrediet", {"bmkb"}, {}),
    ("omgevingsvergunning aanvragen voor een verbouwing", {"omgevingsvergunning"}, {}),
    ("vergunning check in het omgevingsloket",
     {"omgevingsloket-vergunningcheck", "omgevingsloket"}, {}),
    ("bedrijfs ruimte zoeken in de stad", {"bedrijfsruimte-omgevingsplan"}, {}),
    ("bijstand voor zelfstandigen", {"bbz"}, {}),
    ("zelfstandigen aftrek", {"zelfstandigenaftrek"}, {}),
    ("startersaftrek hoeveel", {"startersaftrek"}, {}),
    ("belasting vrijstelling over de winst voor het mkb", {"mkb-winstvrijstelling"}, {}),
    ("invetseringsaftrek voor kleine investeringen", {"kia"}, {}),
    ("doelgroep register", {"doelgroepregister-banenafspraak"}, {}),
    ("wajong loondispensatie", {"loondispensatie-wajong"}, {}),
    ("waar vind ik alle subsidies op een rij", {"subsidies-zoeken"}, {}),
    ("sociaal innovatie fonds", {"sociaal-innovatiefonds", "sociaal-innovatiefonds-financier"}, {}),
    # The Stadmakersfonds works in the provincie Utrecht only, so the question comes from a gemeente there.
    ("stadmakers fonds voor een buurtproject", {"stadmakersfonds"}, {"gemeente_id": "utrecht"}),
    ("maatschappelijk verantwoord inkopen", {"maatschappelijk-verantwoord-inkopen"}, {}),
    ("eic accelerator voor een startup", {"eic-accelerator"}, {}),
    ("ondernemersloket van de gemeente", {"ondernemersloket-zwolle"}, {"gemeente_id": "zwolle"}),
]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped knowledge/ loaded once into a migrated SQLite database."""
    from bot import db

    url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'loket.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    load(engine, PROJECT_ROOT / "knowledge")
    yield engine
    engine.dispose()


def _ids(engine, query: str, **kwargs) -> list[str]:
    with session_scope(engine) as s:
        return [r.id for r in ks.search(s, query, **kwargs)]


def test_search_quality_on_the_shipped_content(shipped):
    assert len(QUALITY_CASES) >= 40
    failures = []
    for query, expected, kwargs in QUALITY_CASES:
        top = _ids(shipped, query, **kwargs)
        if not expected & set(top):
            failures.append(f"{query!r}: expected one of {sorted(expected)}, got {top}")
    rate = 1 - len(failures) / len(QUALITY_CASES)
    print(f"\nsearch quality: {rate:.1%} of {len(QUALITY_CASES)} queries have a hit in the top 3")
    for line in failures:
        print("  miss:", line)
    assert rate >= 0.9, "\n".join(failures)


def test_results_carry_what_the_answer_needs(shipped):
    with session_scope(shipped) as s:
        (first, *_) = ks.search(s, "wbso aanvragen")
    assert (first.kind, first.id, first.provider) == ("regeling", "wbso", "RVO")
    assert first.source_url.startswith("https://www.rvo.nl/")
    assert first.summary and len(first.content_hash) == 64


def test_theme_boost_and_fill_up(shipped):
    # Only filler words: nothing to match, so the topic fills the answer.
    assert _ids(shipped, "hoe zit dat eigenlijk?") == []
    filled = _ids(shipped, "hoe zit dat eigenlijk?", themes=["no_riskpolis"])
    assert filled and filled[0] == "no-riskpolis"
    # A generic word matches many items; the question's topic decides the order.
    with session_scope(shipped) as s:
        boosted = ks.search(s, "subsidie aanvragen", themes=["energy"], limit=3)
    assert all("energy" in r.themes for r in boosted), boosted


def test_paging_gives_the_next_results_without_repeats(shipped):
    first = _ids(shipped, "subsidie", limit=3)
    second = _ids(shipped, "subsidie", limit=3, offset=3)
    assert len(first) == 3 and len(second) == 3
    assert not set(first) & set(second)
    assert _ids(shipped, "subsidie", limit=6) == first + second


def test_query_analysis_handles_typos_compounds_and_stop_words():
    vocab = ks.Vocabulary.from_texts(["loonkostensubsidie loonkosten subsidie", "wbso innovatie",
                                      "bedrijf ruimte bedrijfsruimte", "energie besparing"])
    assert ks.analyze_query("Welke subsidei is er?", vocab) == ["subsidie"]
    assert ks.analyze_query("wbos", vocab) == ["wbso"]
    assert "loonkostensubsidie" in ks.analyze_query("loon kosten subsidie", vocab)
    assert {"energie", "besparing"} <= set(ks.analyze_query("energiebesparing", vocab))
    assert ks.analyze_query("ik wil het graag weten", vocab) == []
    # Short words are never "corrected" into something else.
    assert ks.analyze_query("kvk", vocab) == ["kvk"]


def test_split_compound_uses_known_words_and_the_linking_s():
    vocab = {"bedrijf", "ruimte", "arbeid", "beperking", "energie"}
    assert ks.split_compound("bedrijfsruimte", vocab) == ["bedrijf", "ruimte"]
    assert ks.split_compound("arbeidsbeperking", vocab) == ["arbeid", "beperking"]
    assert ks.split_compound("ondernemer", vocab) == []
    assert ks.split_compound("energiebesparing", vocab) == []
    assert ks.split_compound("energiebesparing", vocab, loose=True) == ["energie", "besparing"]


def test_normalize_removes_accents_and_joins_ampersands():
    assert ks.words("Coöperatie voor R&D en S & O") == ["cooperatie", "voor", "rd", "en", "so"]


# --- region filtering (fixture content plus regional entries) ---------------------------------


def _regional_copy(tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, target)
    path = target / "regelingen" / "regio.yml"
    base = {
        "provider": "Testfonds", "audience": "Ondernemers in de regio.",
        "benefit": "Een bijdrage voor uw plan.", "themes": ["impact_financing"],
        "source_url": "https://www.example.org/fonds",
    }
    entries = [
        {"id": "zwols-buurtfonds", "name": "Zwols buurtfonds",
         "summary": "Buurtfonds voor sociale ondernemers in Zwolle.",
         "region": {"level": "gemeente", "gemeenten": ["zwolle"]}},
        {"id": "overijssels-buurtfonds", "name": "Overijssels buurtfonds",
         "summary": "Buurtfonds voor sociale ondernemers in Overijssel.",
         "region": {"level": "provincie", "provincie": "Overijssel"}},
        {"id": "landelijk-buurtfonds", "name": "Landelijk buurtfonds",
         "summary": "Buurtfonds voor sociale ondernemers in heel Nederland.",
         "region": {"level": "national"}},
    ]
    path.write_text(yaml.safe_dump({"regelingen": [{**base, **e} for e in entries]},
                                   allow_unicode=True, sort_keys=False))
    return target


def test_region_filtering(engine, tmp_path):
    load(engine, _regional_copy(tmp_path))
    query = "buurtfonds"
    assert set(_ids(engine, query, gemeente_id="zwolle")) == {
        "zwols-buurtfonds", "overijssels-buurtfonds", "landelijk-buurtfonds"}
    # Same provincie is not enough for a gemeente-bound regeling.
    assert _ids(engine, query, gemeente_id="utrecht") == ["landelijk-buurtfonds"]
    assert _ids(engine, query, gemeente_id="den-haag") == ["landelijk-buurtfonds"]
    # Without a gemeente only national regelingen, also when the topic fills up.
    assert _ids(engine, query) == ["landelijk-buurtfonds"]
    assert "zwols-buurtfonds" not in _ids(engine, "hoe zit dat", themes=["impact_financing"])
    # An unknown gemeente id behaves like no gemeente.
    assert _ids(engine, query, gemeente_id="atlantis") == ["landelijk-buurtfonds"]


def test_shipped_gemeente_networks_only_show_for_their_gemeente(shipped):
    assert "impact030" in _ids(shipped, "impact netwerk", gemeente_id="utrecht", limit=10)
    assert "impact030" not in _ids(shipped, "impact netwerk", gemeente_id="zwolle", limit=10)
    # Provincie level: ROM Utrecht Region for Amersfoort (Utrecht), not for Zwolle.
    assert "rom-utrecht-region" in _ids(shipped, "investering innovatie regionale ontwikkelingsmaatschappij",
                                        gemeente_id="amersfoort", limit=10)
    assert "rom-utrecht-region" not in _ids(shipped, "investering innovatie regionale ontwikkelingsmaatschappij",
                                            gemeente_id="zwolle", limit=10)


# --- the index follows the loads ------------------------------------------------------------------


def test_load_rebuilds_the_index_in_the_same_transaction(engine, tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, target)
    load(engine, target)
    assert _ids(engine, "belastingvoordeel software") == ["wbso"]
    path = target / "regelingen" / "rvo.yml"
    data = yaml.safe_load(path.read_text())
    data["regelingen"][0]["summary"] = "Korting op loonheffing voor ontwikkelaars van zeewierplastic."
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    load(engine, target)
    # A word that only the new summary has (and a typo of it) is found at once.
    assert _ids(engine, "zeewierplastic") == ["wbso"]
    assert _ids(engine, "zeewierplastik") == ["wbso"]
    with session_scope(engine) as s:
        n_items = s.scalar(select(func.count()).select_from(models.KnowledgeSearch))
        n_fts = s.execute(text("SELECT count(*) FROM knowledge_fts")).scalar()
    assert n_items == n_fts == 3  # 2 regelingen + 1 loket; nothing left from the first load


def test_a_failed_load_leaves_the_index_untouched(engine, tmp_path, monkeypatch):
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, target)
    load(engine, target)

    def broken(session, progress=False):
        raise RuntimeError("disk full")

    import bot.knowledge.loader as loader

    monkeypatch.setattr(loader, "rebuild_index", broken)
    path = target / "regelingen" / "rvo.yml"
    data = yaml.safe_load(path.read_text())
    data["regelingen"].pop(0)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with pytest.raises(RuntimeError):
        load(engine, target)
    assert _ids(engine, "wbso") == ["wbso"]


# --- PostgreSQL: the same search with the 'dutch' text search configuration ---------------------


@pytest.fixture(scope="module")
def postgres_shipped():
    import os
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from bot import db

    admin_url = os.environ.get("LOKET_TEST_POSTGRES_ADMIN_URL",
                               "postgresql://postgres@127.0.0.1:5432/postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
    name = f"loket_search_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        load(engine, PROJECT_ROOT / "knowledge")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.mark.postgres
def test_postgres_search_quality_region_filter_and_index(postgres_shipped):
    engine = postgres_shipped
    misses = [q for q, expected, kw in QUALITY_CASES if not expected & set(_ids(engine, q, **kw))]
    rate = 1 - len(misses) / len(QUALITY_CASES)
    print(f"\nPostgreSQL search quality: {rate:.1%}; misses: {misses}")
    assert rate >= 0.9, misses
    assert "impact030" in _ids(engine, "impact netwerk", gemeente_id="utrecht", limit=10)
    assert "impact030" not in _ids(engine, "impact netwerk", gemeente_id="zwolle", limit=10)
    with session_scope(engine) as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        explain = (f"EXPLAIN SELECT id FROM knowledge_search WHERE ({ks.PG_VECTOR}) "  # noqa: S608
                   "@@ to_tsquery('dutch'::regconfig, 'subsidie')")  # a constant, no user input
        plan = "\n".join(r[0] for r in s.execute(text(explain)))
    assert "ix_knowledge_search_fts" in plan  # the query expression matches the GIN index
