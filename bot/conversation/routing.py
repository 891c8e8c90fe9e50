"""The choice of makelaarsteam for a gemeente and topic, or, where there is none, an honest alternative
from the loketten table. Everything reads the loaded knowledge; nothing here knows about Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.conversation.gemeenten import gemeente_by_id

NATIONAL_FALLBACK = ("ondernemersplein", "kvk")  # loket ids, in order of preference


@dataclass
class Route:
    gemeente: models.Gemeente
    team: models.Makelaarsteam | None
    alternatives: list[models.Loket] = field(default_factory=list)

    @property
    def has_team(self) -> bool:
        return self.team is not None


def team_for(session: Session, gemeente_id: str, topic: str | None = None) -> models.Makelaarsteam | None:
    """The team that serves this gemeente; a team for the specific topic beats a team for "all"."""
    teams = [t for t in session.execute(select(models.Makelaarsteam).order_by(models.Makelaarsteam.id))
             .scalars() if gemeente_id in (t.gemeenten or [])]
    if topic:
        specific = [t for t in teams if topic in (t.topics or [])]
        if specific:
            return specific[0]
    general = [t for t in teams if not t.topics or "all" in t.topics]
    return general[0] if general else None


def _covers(loket: models.Loket, gemeente: models.Gemeente) -> bool:
    if loket.region_level == "provincie":
        return (loket.region_provincie or "").lower() == gemeente.provincie.lower()
    if loket.region_level == "gemeente":
        return gemeente.id in (loket.region_gemeenten or [])
    return False


def _is_development_agency(loket: models.Loket) -> bool:
    return loket.kind == "financier" and "ROM" in (loket.keywords or [])


def alternatives_for(session: Session, gemeente: models.Gemeente, limit: int = 4) -> list[models.Loket]:
    """Real places to go when a gemeente has no makelaarsteam: a local network, the regional
    development agency and the national loket, all taken from the loketten table."""
    loketten = session.execute(select(models.Loket).order_by(models.Loket.id)).scalars().all()
    regional = [lk for lk in loketten if _covers(lk, gemeente)]
    networks = [lk for lk in regional if lk.kind == "netwerk"]
    agencies = [lk for lk in regional if _is_development_agency(lk)]
    by_id = {lk.id: lk for lk in loketten}
    national = [by_id[i] for i in NATIONAL_FALLBACK if i in by_id]
    if not national:
        national = [lk for lk in loketten if lk.region_level == "national" and lk.kind == "loket"][:1]
    picked: list[models.Loket] = []
    for lk in networks[:1] + agencies[:1] + national:
        if lk not in picked:
            picked.append(lk)
    return picked[:limit]


def route(session: Session, gemeente_id: str, topic: str | None = None) -> Route | None:
    """The makelaarsteam for a gemeente (and topic), or the alternatives when there is none."""
    gemeente = gemeente_by_id(session, gemeente_id)
    if gemeente is None:
        return None
    team = team_for(session, gemeente.id, topic)
    if team is not None:
        return Route(gemeente, team)
    return Route(gemeente, None, alternatives_for(session, gemeente))


def no_team_text(r: Route) -> str:
    """The honest answer for a gemeente without a makelaarsteam, in B1 Dutch."""
    lines = [f"De gemeente {r.gemeente.name} heeft (nog) geen makelaarsteam voor impact ondernemers. "
             "Ik kan uw vraag daarom niet doorzetten."]
    if r.alternatives:
        lines.append("U kunt wel terecht bij:")
        for lk in r.alternatives:
            lines.append(f"- {lk.name}: {lk.description} {lk.url}")
    lines.append("U kunt ook de gemeente zelf bellen of mailen via de website van de gemeente.")
    return "\n".join(lines)


def response_time_text(days: int) -> str:
    if days <= 0:
        return "vandaag nog"
    return f"binnen {days} werkdag" + ("" if days == 1 else "en")
