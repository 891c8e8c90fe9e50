"""Rasa SDK actions: thin adapters between Rasa and the bot/ services."""

from bot.privacy import install_log_redaction

# The action server logs too: keep e-mail addresses and phone numbers out of its log lines.
install_log_redaction()
