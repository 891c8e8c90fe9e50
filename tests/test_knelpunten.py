"""The knelpunten service with a plain database (no Rasa, no web app)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import knelpunten as kp
from bot import models
from bot.conversation.gemeenten import resolve_gemeente
from bot.db import session_scope
from bot.web.auth import create_user


def _create(engine, **overrides) -> models.Knelpunt:
    data = {"description": "De gemeente vraagt bij elke kleine opdracht drie referenties.",
            "category": "inkoop_aanbesteding", "organisations": ["gemeente"],
            "gemeente": "zwolle", "consequence": "We doen niet mee aan opdrachten."}
    now = overrides.pop("now", None)
    data.update(overrides)
    with session_scope(engine) as s:
        return kp.create_knelpunt(s, kp.KnelpuntInput(**data), now=now)


@pytest.mark.parametrize(("category", "track"), [
    ("wet_regelgeving", 1), ("inkoop_aanbesteding", 1), ("vastgoed_ruimte", 1),
    ("uitvoering_loket", 2), ("anders", 2), ("financiering", 3)])
def test_track_follows_from_the_category_and_is_stored(loaded, category, track):
    k = _create(loaded, category=category)
    with session_scope(loaded) as s:
        assert s.get(models.Knelpunt, k.id).track == track


def test_every_category_has_a_track():
    assert set(kp.TRACK_BY_CATEGORY) == set(kp.CATEGORIES)
    with pytest.raises(kp.KnelpuntError):
        kp.track_for("onzin")


@pytest.mark.parametrize(("answer", "expected"), [
    ("inkoop/aanbesteding", "inkoop_aanbesteding"), ("Inkoop of aanbesteding", "inkoop_aanbesteding"),
    ("Wet- en regelgeving", "wet_regelgeving"), ("de regels", "wet_regelgeving"),
    ("financiring", "financiering"), ("Vastgoed/ruimte", "vastgoed_ruimte"), ("een pand", "vastgoed_ruimte"),
    ("uitvoering/loket", "uitvoering_loket"), ("iets anders", "anders"), ("4", "inkoop_aanbesteding"),
    ("banaan", None), ("", None)])
def test_typed_categories_are_understood(answer, expected):
    assert kp.normalise_category(answer) == expected


def test_organisations_are_split_and_unknown_is_empty():
    assert kp.parse_organisations("de gemeente en het UWV") == ["gemeente", "UWV"]
    assert kp.parse_organisations("RVO, KVK; rvo") == ["RVO", "KVK"]
    assert kp.parse_organisations("weet ik niet") == []


def test_gemeente_is_resolved_from_name_alias_woonplaats_and_postcode(loaded):
    with session_scope(loaded) as s:
        assert resolve_gemeente(s, "zwolle").gemeente_id == "zwolle"
        assert resolve_gemeente(s, "Den Haag").gemeente_id == "den-haag"
        assert resolve_gemeente(s, "'s-Gravenhage").gemeente_id == "den-haag"
        assert resolve_gemeente(s, "Vleuten").gemeente_id == "utrecht"
        assert resolve_gemeente(s, "8011 AB").gemeente_id == "zwolle"
        assert resolve_gemeente(s, "Atlantis").gemeente_id is None


def test_reference_numbers_and_creation_history(loaded):
    first = _create(loaded, now=datetime(2026, 3, 1, 10, 0))
    second = _create(loaded, now=datetime(2026, 3, 2, 10, 0))
    assert first.reference == "KNP-2026-000001"
    assert second.reference == "KNP-2026-000002"
    with session_scope(loaded) as s:
        entries = kp.history(s, first.id)
    assert [(e.field, e.old_value, e.new_value, e.who) for e in entries] == [
        ("status", None, "nieuw", "chat (melder)")]


def test_without_consent_no_personal_data_is_stored(loaded):
    k = _create(loaded, contact_consent=False, contact_name="Iemand", contact_email="iemand@example.nl",
                contact_phone="0612345678", sender_id="chat-123")
    with session_scope(loaded) as s:
        row = s.get(models.Knelpunt, k.id)
        assert (row.contact_name, row.contact_email, row.contact_phone, row.sender_id) == (None,) * 4
        assert row.contact_consent is False
        # and nothing of it hides in another column
        values = [str(getattr(row, c.name)) for c in models.Knelpunt.__table__.columns]
        assert not any("iemand" in v.lower() or "chat-123" in v or "0612345678" in v for v in values)


def test_with_consent_contact_details_are_kept(loaded):
    k = _create(loaded, contact_consent=True, contact_name="Iemand", contact_email="iemand@example.nl",
                sender_id="chat-123")
    with session_scope(loaded) as s:
        row = s.get(models.Knelpunt, k.id)
        assert (row.contact_name, row.contact_email, row.sender_id) == ("Iemand", "iemand@example.nl", "chat-123")


def test_unknown_gemeente_text_is_kept_and_unknown_answer_is_empty(loaded):
    assert _create(loaded, gemeente="Atlantis").gemeente_id == "Atlantis"
    assert _create(loaded, gemeente="weet ik niet").gemeente_id is None
    assert _create(loaded, gemeente="Scheveningen").gemeente_id == "den-haag"


def test_status_workflow_writes_history_with_who_and_old_and_new(loaded):
    k = _create(loaded)
    with session_scope(loaded) as s:
        user = create_user(s, "coord", "lang-genoeg-wachtwoord", "coordinatie", display_name="Coördinator")
        user_id = user.id
    with session_scope(loaded) as s:
        with pytest.raises(kp.KnelpuntError, match="kan de status niet"):
            kp.change_status(s, k.id, "opgelost", user_id)  # nieuw -> opgelost skips the work
    with session_scope(loaded) as s:
        kp.change_status(s, k.id, "in_behandeling", user_id)
    with session_scope(loaded) as s:
        with pytest.raises(kp.KnelpuntError, match="welke organisatie"):
            kp.change_status(s, k.id, "doorgezet", user_id, "  ")
    with session_scope(loaded) as s:
        kp.change_status(s, k.id, "doorgezet", user_id, "ministerie van BZK")
    with session_scope(loaded) as s:
        kp.change_status(s, k.id, "opgelost", user_id)
    with session_scope(loaded) as s:
        row = s.get(models.Knelpunt, k.id)
        assert (row.status, row.forwarded_to) == ("opgelost", "ministerie van BZK")
        entries = kp.history(s, k.id)
    assert [(e.field, e.old_value, e.new_value) for e in entries] == [
        ("status", None, "nieuw"),
        ("status", "nieuw", "in_behandeling"),
        ("status", "in_behandeling", "doorgezet"),
        ("forwarded_to", None, "ministerie van BZK"),
        ("status", "doorgezet", "opgelost"),
    ]
    assert {e.who for e in entries[1:]} == {"Coördinator"}


def test_merge_points_duplicates_to_one_and_adds_up_counts(loaded):
    a, b, c, d = (_create(loaded) for _ in range(4))
    with session_scope(loaded) as s:
        kp.merge(s, c.id, [d.reference], None)  # c now counts 2
    with session_scope(loaded) as s:
        target = kp.merge(s, a.id, [b.id, c.reference], None)
        assert target.duplicate_count == 4  # a + b + (c with d)
    with session_scope(loaded) as s:
        rows = {k.reference: k for k in s.execute(select(models.Knelpunt)).scalars()}
        assert rows[b.reference].duplicate_of == a.id
        assert rows[c.reference].duplicate_of == a.id
        assert rows[d.reference].duplicate_of == a.id  # no chains: d moved along with c
        visible = kp.list_knelpunten(s, kp.KnelpuntFilter())
        assert [k.reference for k in visible.items] == [a.reference]
        assert kp.list_knelpunten(s, kp.KnelpuntFilter(include_merged=True)).total == 4
        fields = [e.field for e in kp.history(s, a.id)]
        assert fields.count("merged") == 2 and "duplicate_count" in fields
    with session_scope(loaded) as s:
        with pytest.raises(kp.KnelpuntError, match="al samengevoegd"):
            kp.merge(s, a.id, [b.id], None)
    with session_scope(loaded) as s:
        with pytest.raises(kp.KnelpuntError, match="zichzelf"):
            kp.merge(s, a.id, [a.id], None)
    with session_scope(loaded) as s:
        with pytest.raises(kp.KnelpuntError, match="samengevoegd met een ander"):
            kp.change_status(s, b.id, "in_behandeling", None)


def test_filters_and_full_text_search(loaded):
    _create(loaded, description="Drie referenties voor een kleine opdracht", category="inkoop_aanbesteding",
            gemeente="zwolle", organisations=["Gemeente Zwolle"], now=datetime(2026, 1, 5))
    _create(loaded, description="De bank financiert geen stichting", category="financiering",
            gemeente="utrecht", organisations=["Rabobank"], consequence="Geen lening voor de coöperatie",
            now=datetime(2026, 2, 10))
    _create(loaded, description="Geen betaalbaar pand", category="vastgoed_ruimte", gemeente="utrecht",
            organisations=["coöperatie De Werf"], now=datetime(2026, 3, 15))

    def refs(**kw) -> list[str]:
        with session_scope(loaded) as s:
            return [k.description.split()[0] for k in kp.list_knelpunten(s, kp.KnelpuntFilter(**kw)).items]

    assert refs() == ["Geen", "De", "Drie"]
    assert refs(category="financiering") == ["De"]
    assert refs(track=1) == ["Geen", "Drie"]
    assert refs(gemeente="utrecht") == ["Geen", "De"]
    assert refs(organisation="rabo") == ["De"]
    assert refs(organisation="coöperatie") == ["Geen"]  # non-ASCII inside the JSON list
    assert refs(date_from=date(2026, 2, 1), date_to=date(2026, 2, 28)) == ["De"]
    assert refs(date_to=date(2026, 1, 5)) == ["Drie"]  # the end date is inclusive
    assert refs(q="lening coöperatie") == ["De"]  # every word, in description or consequence
    assert refs(q="referenties opdracht") == ["Drie"]
    assert refs(q="100%") == []  # LIKE wildcards are literal
    assert refs(status="opgelost") == []


def test_filter_from_query_reports_bad_values():
    f, errors = kp.KnelpuntFilter.from_query({"categorie": "inkoop_aanbesteding", "spoor": "9",
                                              "van": "gisteren", "zoek": " pand "})
    assert f.category == "inkoop_aanbesteding" and f.track is None and f.q == "pand"
    assert len(errors) == 2
    assert kp.KnelpuntFilter.from_query(f.to_query())[0] == f


def test_exports_have_the_table_header_and_rows(loaded):
    _create(loaded, description="=HYPERLINK(\"http://example.org\")", now=datetime(2026, 1, 1))
    _create(loaded, description="Gewone tekst; met puntkomma", now=datetime(2026, 1, 2))
    with session_scope(loaded) as s:
        rows = kp.table_rows(s, kp.iter_knelpunten(s, kp.KnelpuntFilter()))
    assert rows[0][0] == "KNP-2026-000002" and rows[0][2] == "inkoop/aanbesteding" and rows[0][3] == 1
    assert rows[0][4] == "Zwolle"

    parsed = list(csv.reader(io.StringIO(kp.export_csv(rows).decode("utf-8-sig")), delimiter=";"))
    assert parsed[0] == kp.TABLE_HEADER
    assert parsed[1] == [str(v) for v in rows[0]]
    assert parsed[2][8] == "'" + rows[1][8]  # formula neutralised in CSV

    ws = load_workbook(io.BytesIO(kp.export_xlsx(rows))).active
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == kp.TABLE_HEADER
    assert values[1:] == rows  # XLSX keeps the text exactly: typed as text, not a formula


def test_stats_count_per_category_gemeente_and_month(loaded):
    _create(loaded, category="financiering", gemeente="utrecht", now=datetime(2026, 1, 5))
    _create(loaded, category="financiering", gemeente="zwolle", now=datetime(2026, 3, 5))
    _create(loaded, category="anders", gemeente=None, now=datetime(2026, 3, 6))
    with session_scope(loaded) as s:
        st = kp.stats(s, kp.KnelpuntFilter())
    assert dict(st.by_category)["financiering"] == 2 and dict(st.by_category)["anders"] == 1
    assert sorted(st.by_gemeente) == [("Utrecht", 1), ("Zwolle", 1), ("onbekend", 1)]
    assert st.by_month == [("2026-01", 1), ("2026-02", 0), ("2026-03", 2)]
    assert st.total == 3


def test_cli_exports_the_filtered_table(loaded, tmp_path, capsys):
    from bot.cli import main

    _create(loaded, category="financiering", now=datetime(2026, 1, 1))
    _create(loaded, category="inkoop_aanbesteding", now=datetime(2026, 1, 2))
    _create(loaded, category="inkoop_aanbesteding", gemeente="utrecht", now=datetime(2026, 1, 3))
    out = tmp_path / "export" / "knelpunten.xlsx"
    assert main(["export", "knelpunten", "--format", "xlsx", "--out", str(out), "--spoor", "1",
                 "--gemeente", "zwolle"]) == 0
    assert "1 knelpunt(en) geschreven" in capsys.readouterr().out
    values = [list(r) for r in load_workbook(out).active.iter_rows(values_only=True)]
    assert values[0] == kp.TABLE_HEADER
    assert [(v[0], v[2], v[4]) for v in values[1:]] == [("KNP-2026-000002", "inkoop/aanbesteding", "Zwolle")]

    csv_out = tmp_path / "alles.csv"
    assert main(["export", "knelpunten", "--format", "csv", "--out", str(csv_out)]) == 0
    rows = list(csv.reader(io.StringIO(csv_out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["KNP-2026-000003", "KNP-2026-000002", "KNP-2026-000001"]
    assert main(["export", "knelpunten", "--out", str(csv_out), "--van", "gisteren"]) == 2
