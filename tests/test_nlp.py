import logging

from bot.nlp.loader import BLANK_NAME, load_dutch


def test_falls_back_to_blank_dutch_with_lookup_lemmas(caplog):
    caplog.set_level(logging.INFO)
    loaded = load_dutch("nl_core_news_sm_not_installed")
    assert loaded.is_fallback
    assert loaded.name == BLANK_NAME
    assert loaded.nlp.lang == "nl"
    lemmas = [t.lemma_ for t in loaded.nlp("subsidies voor werknemers")]
    assert lemmas == ["subsidie", "voor", "werknemer"]
    assert "blank Dutch pipeline" in caplog.text


def test_rasa_component_provides_the_pipeline_to_the_tokenizer():
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlp import DutchSpacyNLP

    ctx = ExecutionContext(graph_schema=None, model_id="t")
    component = DutchSpacyNLP.create(
        {"model": "nl_core_news_sm_not_installed"}, None, Resource("nlp"), ctx)
    model = component.provide()
    assert model.model_name == BLANK_NAME
    # The fingerprint is the pipeline's name: installing nl_core_news_sm changes it and retrains.
    assert model.fingerprint() == BLANK_NAME
    message = Message.build("Ik zoek subsidies")
    component.process([message], model)
    tokenizer = SpacyTokenizer(SpacyTokenizer.get_default_config())
    tokenizer.process([message])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["ik", "zoek", "subsidies"]  # case_sensitive: false
    assert tokens[2].lemma == "subsidie"
