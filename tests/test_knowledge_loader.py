import shutil

import pytest
import yaml
from sqlalchemy import func, select

from bot import models
from bot.db import session_scope
from bot.knowledge.loader import KnowledgeError, check, load
from bot.settings import PROJECT_ROOT
from tests.support import FIXTURE_KNOWLEDGE


def _copy(tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, target)
    return target


def _edit(path, fn):
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def test_shipped_knowledge_passes_the_check():
    kn = check(PROJECT_ROOT / "knowledge")
    counts = kn.counts()
    assert counts["regelingen"] >= 40
    assert counts["gemeenten"] >= 340
    assert counts["makelaarsteams"] == 13
    deal = [g for g in kn.gemeenten if g.deal]
    assert len(deal) == 13 and all(g.woonplaatsen and g.postcodes for g in deal)


def test_shipped_team_contacts_are_demo_addresses_only():
    kn = check(PROJECT_ROOT / "knowledge")
    for team in kn.makelaarsteams:
        target = team.delivery.email or str(team.delivery.url)
        assert target.split("@")[-1].split("/")[0].endswith(
            ("example.nl", "example.org")) or "//example.org" in target, team.id


def test_load_is_idempotent_and_removes_entries_that_left_the_files(engine, tmp_path):
    kdir = _copy(tmp_path)
    load(engine, kdir)
    load(engine, kdir)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(models.Regeling)) == 2
        assert s.scalar(select(func.count()).select_from(models.KnowledgeVersion)) == 2
    _edit(kdir / "regelingen" / "rvo.yml", lambda d: d["regelingen"].pop())
    load(engine, kdir)
    with session_scope(engine) as s:
        ids = s.scalars(select(models.Regeling.id)).all()
    assert ids == ["wbso"]


def _problems(kdir):
    with pytest.raises(KnowledgeError) as exc:
        check(kdir)
    return exc.value.problems


def test_missing_required_field_names_file_entry_and_field(tmp_path):
    kdir = _copy(tmp_path)
    _edit(kdir / "regelingen" / "rvo.yml", lambda d: d["regelingen"][0].pop("summary"))
    problems = _problems(kdir)
    assert any("regelingen/rvo.yml" in p and "'wbso'" in p and "'summary'" in p for p in problems), problems


def test_duplicate_id_is_reported(tmp_path):
    kdir = _copy(tmp_path)
    _edit(kdir / "regelingen" / "rvo.yml", lambda d: d["regelingen"][1].update(id="wbso"))
    assert any("dubbele id 'wbso'" in p for p in _problems(kdir))


def test_unknown_gemeente_in_a_team_is_reported(tmp_path):
    kdir = _copy(tmp_path)
    _edit(kdir / "makelaarsteams.yml", lambda d: d["makelaarsteams"][1].update(gemeenten=["atlantis"]))
    assert any("team 'zwolle'" in p and "'atlantis'" in p for p in _problems(kdir))


def test_invalid_url_is_reported(tmp_path):
    kdir = _copy(tmp_path)
    _edit(kdir / "regelingen" / "rvo.yml",
          lambda d: d["regelingen"][0].update(source_url="rvo punt nl"))
    assert any("'source_url'" in p and "'wbso'" in p for p in _problems(kdir))


def test_invalid_load_changes_nothing(engine, tmp_path):
    kdir = _copy(tmp_path)
    load(engine, kdir)
    _edit(kdir / "regelingen" / "rvo.yml", lambda d: d["regelingen"][0].update(themes=["onzin"]))
    with pytest.raises(KnowledgeError):
        load(engine, kdir)
    with session_scope(engine) as s:
        assert s.get(models.Regeling, "wbso").themes == ["innovation"]
