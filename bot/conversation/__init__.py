"""The conversation side without Rasa: the one gemeente resolver, routing to a makelaarsteam, the
conversation context, feedback votes and unanswered questions."""
