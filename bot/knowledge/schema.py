"""Schema of the knowledge/ YAML files (pydantic 1.x, as pinned by Rasa 3.6).

Errors name the file, the entry and the field, so a content editor can fix them without a developer.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, root_validator, validator

THEMES = (
    "kvk_registration legal_form btw subsidies_general innovation energy circular eu_funds state_aid "
    "loonkostensubsidie no_riskpolis jobcoach proefplaatsing lkv praktijkleren pso "
    "code_sociale_ondernemingen networks impact_measurement social_return procurement "
    "voorbehouden_opdrachten assignments impact_financing microcredit crowdfunding "
    "resultaatfinanciering permits premises"
).split()

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
POSTCODE_RANGE = re.compile(r"^([1-9][0-9]{3})(?:-([1-9][0-9]{3}))?$")


class Strict(BaseModel):
    class Config:
        extra = "forbid"
        anystr_strip_whitespace = True


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError("moet een id zijn van kleine letters, cijfers en streepjes, zoals 'den-haag'")
    return value


class Region(Strict):
    level: Literal["national", "provincie", "gemeente"]
    provincie: str | None = None
    gemeenten: list[str] = Field(default_factory=list)

    @root_validator(skip_on_failure=True)
    def _consistent(cls, values):
        level = values.get("level")
        if level == "provincie" and not values.get("provincie"):
            raise ValueError("bij level 'provincie' hoort een 'provincie'")
        if level == "gemeente" and not values.get("gemeenten"):
            raise ValueError("bij level 'gemeente' hoort een lijst 'gemeenten'")
        return values


def _themes(value: list[str]) -> list[str]:
    unknown = [t for t in value if t not in THEMES]
    if unknown:
        raise ValueError(f"onbekend thema {', '.join(unknown)}; kies uit: {', '.join(THEMES)}")
    return value


class Regeling(Strict):
    id: str
    name: str = Field(min_length=2, max_length=200)
    provider: str = Field(min_length=2)
    audience: str = Field(min_length=5)
    benefit: str = Field(min_length=5)
    summary: str = Field(min_length=10, max_length=300)
    conditions: list[str] = Field(default_factory=list)
    themes: list[str] = Field(min_items=1)
    keywords: list[str] = Field(default_factory=list)
    region: Region
    source_url: HttpUrl

    _id = validator("id", allow_reuse=True)(_slug)
    _themes = validator("themes", allow_reuse=True)(_themes)


class Loket(Strict):
    id: str
    name: str = Field(min_length=2)
    kind: Literal["loket", "netwerk", "financier", "kennis"]
    description: str = Field(min_length=10)
    themes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    region: Region
    url: HttpUrl

    _id = validator("id", allow_reuse=True)(_slug)
    _themes = validator("themes", allow_reuse=True)(_themes)


class Delivery(Strict):
    channel: Literal["email", "webhook"]
    email: str | None = None
    url: HttpUrl | None = None
    secret_env: str | None = None

    @root_validator(skip_on_failure=True)
    def _target(cls, values):
        if values["channel"] == "email":
            from email_validator import EmailNotValidError, validate_email

            if not values.get("email"):
                raise ValueError("bij channel 'email' hoort een 'email'")
            try:
                validate_email(values["email"], check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(f"ongeldig e-mailadres {values['email']!r}: {exc}") from exc
        if values["channel"] == "webhook":
            if not values.get("url"):
                raise ValueError("bij channel 'webhook' hoort een 'url'")
            if not values.get("secret_env"):
                raise ValueError("bij channel 'webhook' hoort 'secret_env' (naam van de omgevingsvariabele)")
        return values


class Makelaarsteam(Strict):
    id: str
    name: str = Field(min_length=3)
    gemeenten: list[str] = Field(min_items=1)
    topics: list[str] = Field(default_factory=lambda: ["all"])
    delivery: Delivery
    opening_hours: str = ""
    response_days: int = Field(2, ge=0, le=30)
    demo: bool = False

    _id = validator("id", allow_reuse=True)(_slug)

    @validator("topics")
    def _topics(cls, value: list[str]) -> list[str]:
        return value if value == ["all"] else _themes(value)


class Gemeente(Strict):
    id: str
    name: str = Field(min_length=2)
    provincie: str
    aliases: list[str] = Field(default_factory=list)
    deal: bool = False
    woonplaatsen: list[str] = Field(default_factory=list)
    postcodes: list[str] = Field(default_factory=list)

    _id = validator("id", allow_reuse=True)(_slug)

    @validator("postcodes", each_item=True)
    def _postcode_range(cls, value: str) -> str:
        m = POSTCODE_RANGE.match(value)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise ValueError(f"postcodebereik {value!r} moet zijn als '8000-8049' of '8011'")
        return value


class RegelingenFile(Strict):
    regelingen: list[Regeling]


class LokettenFile(Strict):
    loketten: list[Loket]


class MakelaarsteamsFile(Strict):
    makelaarsteams: list[Makelaarsteam]


class GemeentenFile(Strict):
    gemeenten: list[Gemeente]
