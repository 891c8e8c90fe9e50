"""Understanding a message without Rasa: the entity gazetteer, place names from the knowledge, and the
calibrated tf-idf SVM. bot/rasa_ext/nlp wraps them as Rasa components."""
