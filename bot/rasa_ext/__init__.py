"""Everything that imports Rasa: the chat channels behind the edge gate, tracker and lock store, the
speed-ups of the Rasa process and the NLU components. Nothing else in bot/ imports Rasa."""
