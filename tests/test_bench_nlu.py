"""The cross-validation of `make bench-nlu`: folds and the report built from pooled predictions."""

from collections import Counter

import pytest

from bench.nlu import report_from_results, split_folds

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hallo
    - goedemorgen
    - hoi daar
    - hey loket
    - goedemiddag
- intent: ask_btw
  examples: |
    - moet ik btw betalen
    - btw nummer aanvragen
    - hoe werkt de kor
    - btw aangifte doen
    - vrijstelling van btw
- intent: faq/loket
  examples: |
    - wat is dit loket
    - wie beheert dit loket
    - is dit loket gratis
    - waarom deze chat
    - van wie is deze chat
- synonym: KVK
  examples: |
    - kamer van koophandel
- regex: postcode
  examples: |
    - \\b[1-9][0-9]{3} ?[A-Za-z]{2}\\b
"""


@pytest.fixture()
def nlu_dir(tmp_path):
    folder = tmp_path / "nlu"
    folder.mkdir()
    (folder / "data.yml").write_text(NLU, encoding="utf-8")
    return folder


def _examples(path):
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return data, [(e.get("text"), e.get_full_intent()) for e in data.intent_examples]


def test_each_example_is_tested_once_and_never_trained_on_in_its_fold(nlu_dir, tmp_path):
    out = tmp_path / "folds"
    out.mkdir()
    pairs = split_folds(nlu_dir, 5, out)
    assert len(pairs) == 5
    tested = Counter()
    for train_file, test_file in pairs:
        _, train = _examples(train_file)
        test_data, test = _examples(test_file)
        assert not set(train) & set(test)
        assert len(train) + len(test) == 15
        # stratified on the full intent: one of each (faq/loket counts as its own label)
        assert sorted(label for _, label in test) == ["ask_btw", "faq/loket", "greet"]
        # synonyms and regexes go with every fold
        assert test_data.entity_synonyms == {"kamer van koophandel": "KVK"}
        assert [r["name"] for r in test_data.regex_features] == ["postcode"]
        tested.update(test)
    assert len(tested) == 15 and set(tested.values()) == {1}


def test_folds_are_the_same_on_every_run(nlu_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        out.mkdir()
        runs.append([_examples(test)[1] for _, test in split_folds(nlu_dir, 5, out)])
    assert runs[0] == runs[1]


def _result(text, truth, predicted):
    return {"text": text, "intent": truth, "intent_prediction": {"name": predicted, "confidence": 0.9}}


def test_report_pools_the_predictions_of_all_folds():
    results = [_result("hallo", "greet", "greet"), _result("hoi", "greet", "greet"),
               _result("btw?", "ask_btw", "ask_btw"), _result("kor", "ask_btw", "greet")]
    report, errors = report_from_results(results)
    assert report["accuracy"] == pytest.approx(0.75)
    assert report["greet"]["precision"] == pytest.approx(2 / 3)
    assert report["greet"]["recall"] == pytest.approx(1.0)
    assert report["ask_btw"]["recall"] == pytest.approx(0.5)
    assert report["ask_btw"]["support"] == 2
    macro = (report["greet"]["f1-score"] + report["ask_btw"]["f1-score"]) / 2
    assert report["macro avg"]["f1-score"] == pytest.approx(macro)
    assert errors == [results[3]]


def test_the_folds_train_the_pipeline_without_the_english_routing(tmp_path):
    import yaml

    from bench.nlu import ROUTING_COMPONENTS, classifier_config
    from bot.settings import PROJECT_ROOT

    full = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    names = [c["name"] for c in full["pipeline"]]
    assert set(ROUTING_COMPONENTS) <= set(names)
    folds = yaml.safe_load(classifier_config(PROJECT_ROOT / "config.yml", tmp_path / "c.yml").read_text())
    kept = [c["name"] for c in folds["pipeline"]]
    assert kept == [n for n in names if n not in ROUTING_COMPONENTS]
    assert "bot.rasa_ext.nlp.TfidfIntentClassifier" in kept
    assert folds["policies"] == full["policies"] and folds["language"] == "nl"
