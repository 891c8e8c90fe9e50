"""The one text-folding function, as each of its users relies on it."""

from bot.text import normalize


def test_questions_fold_to_plain_lower_case_words():
    assert normalize("  Wát is   SROI?! ") == "wat is sroi"


def test_place_names_lose_apostrophes_hyphens_and_accents():
    assert normalize("'s-Gravenhage") == "s gravenhage"
    assert normalize("Noardeast-Fryslân") == "noardeast fryslan"
    assert normalize("Sittard_Geleen") == "sittard geleen"


def test_kept_characters_stay_for_answers_with_addresses():
    assert normalize(" Mail: Jan@Example.nl + 06-123 ", keep="@.+-") == "mail jan@example.nl + 06-123"
