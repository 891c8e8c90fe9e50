"""What the bot says around contact details, in one place (no Rasa).

The handoff and knelpunt forms build these messages from the constants below. Such a message repeats a
name, e-mail address or phone number, or answers the message in which the user typed one, so a thumbs
vote on it would copy personal data into unanswered_questions (issue 18 #5). The widget shows no rating
buttons under a message that contains a marker (it gets MARKERS in its server config), and /api/feedback
stores nothing for a vote on one.
"""

from __future__ import annotations

# handoff form (actions/handoff.py)
HANDOFF_ASK_CONTACT = "Hoe kan het team u bereiken?"  # answers the name
HANDOFF_CONSENT = "Mag ik deze gegevens delen met het makelaarsteam?"  # repeats name and contact
BAD_EMAIL = "Het e-mailadres '"  # repeats the typed address
BAD_PHONE = "Dit telefoonnummer klopt niet."
NO_CONTACT = "Ik zie geen e-mailadres of telefoonnummer."
# both forms
BAD_NAME = "Dat lijkt geen naam."
NAME_CHANGED = "Ik heb uw naam aangepast:"  # repeats the corrected name
CONTACT_CHANGED = "Ik heb uw contactgegevens aangepast:"  # repeats the corrected address or number
# knelpunt form (actions/knelpunt.py)
KNELPUNT_ASK_EMAIL = "Wat is uw e-mailadres?"  # answers the name
KNELPUNT_BAD_EMAIL = "Dit e-mailadres klopt niet."
KNELPUNT_MAIL_TO = "dan mailen zij u op"  # repeats the address

MARKERS = (HANDOFF_ASK_CONTACT, HANDOFF_CONSENT, BAD_EMAIL, BAD_PHONE, NO_CONTACT, BAD_NAME,
           NAME_CHANGED, CONTACT_CHANGED, KNELPUNT_ASK_EMAIL, KNELPUNT_BAD_EMAIL, KNELPUNT_MAIL_TO)


def repeats_personal_data(text: str | None) -> bool:
    """True for a message that shows or follows contact details: no rating for it."""
    return bool(text) and any(marker in text for marker in MARKERS)
