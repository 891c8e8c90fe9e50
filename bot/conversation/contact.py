"""Contact details typed in the chat: an e-mail address and/or a phone number in one answer."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.conversation import personal_prompts as pp

EMAIL_CANDIDATE = re.compile(r"[^\s,;:<>()\[\]\"']+@[^\s,;:<>()\[\]\"']+")
DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def find_email(text: str | None) -> str | None:
    """The first valid e-mail address in the text, normalised, or None."""
    for candidate in EMAIL_CANDIDATE.findall(text or ""):
        try:
            return validate_email(candidate.rstrip("."), check_deliverability=False).normalized
        except EmailNotValidError:
            continue
    return None


def find_phone(text: str | None) -> str | None:
    """The first valid (Dutch or international) phone number in the text, formatted, or None."""
    rest = EMAIL_CANDIDATE.sub(" ", text or "")
    match = next(iter(phonenumbers.PhoneNumberMatcher(rest, "NL", leniency=phonenumbers.Leniency.VALID)),
                 None)
    if match is None:
        return None
    return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def parse_contact(text: str) -> tuple[str | None, str | None, str | None]:
    """(email, phone, problem): the valid e-mail and phone found in `text`, or a Dutch explanation."""
    text = (text or "").strip()
    email = phone = None
    rest = text
    for candidate in EMAIL_CANDIDATE.findall(text):
        candidate = candidate.rstrip(".")
        try:
            email = validate_email(candidate, check_deliverability=False).normalized
        except EmailNotValidError:
            return None, None, (f"{pp.BAD_EMAIL}{candidate}' klopt niet. Controleer het en typ het "
                                "opnieuw, bijvoorbeeld: naam@voorbeeld.nl.")
        rest = rest.replace(candidate, " ")
        break
    match = next(iter(phonenumbers.PhoneNumberMatcher(rest, "NL", leniency=phonenumbers.Leniency.VALID)),
                 None)
    if match is not None:
        phone = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    elif DIGITS.search(rest):
        return None, None, (f"{pp.BAD_PHONE} Typ een Nederlands nummer met 10 cijfers, "
                            "bijvoorbeeld 06 12345678 of 038 1234567, of een nummer met landcode, "
                            "zoals +32 ...")
    if email is None and phone is None:
        return None, None, (f"{pp.NO_CONTACT} Typ bijvoorbeeld "
                            "naam@voorbeeld.nl of 06 12345678.")
    return email, phone, None


def contact_summary(email: str | None, phone: str | None) -> str:
    parts = []
    if email:
        parts.append(f"e-mail {email}")
    if phone:
        parts.append(f"telefoon {phone}")
    return " en ".join(parts)
