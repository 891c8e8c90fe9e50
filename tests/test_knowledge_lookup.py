"""The place-name lookup table for the NLU, generated from the gemeenten in the knowledge."""

import argparse
import re

import pytest

from bot import cli
from bot.knowledge.loader import check
from bot.knowledge.lookup import LOOKUP_FILE, TABLE_NAME, place_names, render, write
from bot.settings import PROJECT_ROOT, get_settings


@pytest.fixture(scope="module")
def knowledge():
    return check(PROJECT_ROOT / "knowledge")


def test_committed_table_matches_the_knowledge(knowledge):
    assert (PROJECT_ROOT / LOOKUP_FILE).read_text(encoding="utf-8") == render(knowledge)


def test_names_aliases_and_woonplaatsen_without_everyday_words(knowledge):
    names = place_names(knowledge)
    folded = [n.casefold() for n in names]
    assert len(folded) == len(set(folded))
    assert {"Kerkrade", "Sittard-Geleen", "Den Haag", "s-Gravenhage", "Beekbergen", "Bergen"} <= set(names)
    assert "Bergen (NH.)" not in names
    assert not {"best", "buren", "sluis"} & set(folded)


def _rasa_patterns(knowledge, use_only_entities):
    from rasa.nlu.utils.pattern_utils import extract_patterns
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().reads(render(knowledge))
    data.entities.add("gemeente")  # as in the real data, where gemeente is an entity
    return extract_patterns(data, use_only_entities=use_only_entities)


def test_featurizer_sees_place_names_but_the_entity_extractor_does_not(knowledge):
    (pattern,) = _rasa_patterns(knowledge, use_only_entities=False)
    assert pattern["name"] == TABLE_NAME
    regex = re.compile(pattern["pattern"], re.IGNORECASE)
    assert regex.search("wij zitten in kerkrade")
    assert regex.search("gevestigd in 's-Gravenhage")
    assert not regex.search("ik doe mijn best")
    assert _rasa_patterns(knowledge, use_only_entities=True) == []


def test_knowledge_check_fails_when_the_table_is_stale(knowledge, tmp_path, capsys):
    (tmp_path / LOOKUP_FILE).parent.mkdir(parents=True)
    (tmp_path / LOOKUP_FILE).write_text("nlu: []\n", encoding="utf-8")
    assert cli._check_lookup(knowledge, tmp_path) == 1
    assert "loket knowledge lookup" in capsys.readouterr().err
    write(knowledge, tmp_path)
    assert cli._check_lookup(knowledge, tmp_path) == 0


def test_shipped_knowledge_check_includes_the_table():
    assert cli.cmd_knowledge_check(argparse.Namespace(dir=None), get_settings()) == 0
