"""What a user can know about the makelaarsteam itself: opening hours, response time, how to reach it.

The facts come from knowledge/makelaarsteams.yml (loaded into the database) through the Route of
bot.conversation.routing; only the wording lives here. A team without a public e-mail address (it
receives handoffs by webhook) is reached through this chat.
"""

from __future__ import annotations

from bot.conversation.routing import Route, no_team_text, response_time_text

ASK_GEMEENTE = ("Over het makelaarsteam van welke gemeente gaat uw vraag? Typ de naam van de gemeente, "
                "uw woonplaats of uw postcode.")
# The makelaars work on weekdays; teams with other hours say so in opening_hours.
HOW_TO_HANDOFF = "Typ 'praat met een mens', dan zet ik uw vraag door naar het team."


def team_details_text(r: Route) -> str:
    """Opening hours, response time and contact of the gemeente's team, or the honest alternative."""
    if not r.has_team:
        return no_team_text(r)
    team = r.team
    lines = [f"In de gemeente {r.gemeente.name} helpt het {team.name} impact ondernemers."]
    if team.opening_hours:
        lines.append(f"Het team is bereikbaar op {team.opening_hours}.")
    lines.append(f"Zet u uw vraag via mij door, dan neemt het team {response_time_text(team.response_days)} "
                 "contact met u op.")
    if team.channel == "email" and team.email:
        lines.append(f"U kunt het team ook mailen: {team.email}. Een telefoonnummer van het team heb ik niet.")
    else:
        lines.append("Het team heeft geen openbaar e-mailadres of telefoonnummer: u bereikt het via deze chat.")
    lines.append(HOW_TO_HANDOFF)
    return "\n".join(lines)


def team_details_english(r: Route) -> str:
    """The same facts in short English, for English speakers."""
    if not r.has_team:
        return (f"The municipality of {r.gemeente.name} has no makelaarsteam (team of advisers for impact "
                "entrepreneurs). English information for entrepreneurs is on business.gov.nl.")
    team = r.team
    return (f"In {r.gemeente.name}, the makelaarsteam (advisers at the municipality) can help you in English. "
            f"If you pass your question on through this chat, they will contact you within "
            f"{team.response_days} working days.")
