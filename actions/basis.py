"""Thin Rasa adapters for the basic questions; the content comes from bot/ services."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.db import run_in_session
from bot.knowledge import queries


def _deal_gemeenten_text(rows, asked: str | None) -> str:
    names = [g.name for g, _ in rows]
    lines = []
    if asked:
        match = next((g for g, _ in rows if g.name.lower() == asked.lower()
                      or asked.lower() in (a.lower() for a in g.aliases)), None)
        if match:
            lines.append(f"Ja, {match.name} doet mee aan de City Deal Impact Ondernemen.")
        else:
            lines.append(
                f"{asked} doet (nog) niet mee aan de City Deal. Ik kan u wel helpen met "
                "regelingen en loketten die overal gelden."
            )
    lines.append(f"Deze {len(names)} gemeenten doen mee en hebben een makelaarsteam: "
                 + ", ".join(names) + ".")
    lines.append("Wilt u contact met een makelaar? Typ dan 'praat met een mens'.")
    return "\n".join(lines)


class ActionDealGemeenten(Action):
    def name(self) -> str:
        return "action_deal_gemeenten"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        def work(session):
            rows = queries.deal_gemeenten(session)
            return [(g, t) for g, t in rows]

        rows = await run_in_session(work)
        if not rows:
            dispatcher.utter_message(
                text="Ik kan de lijst met gemeenten nu niet vinden. Probeer het later nog eens."
            )
            return []
        asked = next(tracker.get_latest_entity_values("gemeente"), None)
        dispatcher.utter_message(text=_deal_gemeenten_text(rows, asked))
        return []
