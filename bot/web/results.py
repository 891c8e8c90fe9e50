"""/coordinatie/resultaten: how the chat does, per week or month, overall or per gemeente.

Roles coordinatie and admin. The figures come from models.ConversationStat (anonymous counts the
maintenance job keeps, bot/conversation/stats.py): no sender ids, no texts, nothing personal. The rates
are the ones VNG's Gem reports, shown next to its Dongen pilot; SVG charts have a table alternative,
and the same table downloads as CSV.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.orm import Session

from bot.conversation import stats
from bot.conversation.gemeenten import gemeente_names
from bot.db import run_in_session
from bot.knelpunten.export import export_csv
from bot.web.auth import require_role
from bot.web.dashboard import bar_chart, download

ROLE = "coordinatie"
PERIODS = {"week": "week", "maand": "month"}  # query value -> stats period
# Gem, the VNG municipal assistant, in its Dongen pilot (2020): the reference on the page.
GEM_DONGEN = {"answered_direct": 60, "answered_after_followup": 37, "unanswered": 3}
UNKNOWN_LABEL = "gemeente onbekend"

COLUMNS = [  # (key, header); rates are computed, counts come from the table
    ("period", "Periode"),
    ("conversations", "Gesprekken"),
    ("questions", "Met een vraag"),
    ("answered_direct", "Direct beantwoord"),
    ("answered_direct_rate", "Direct (%)"),
    ("answered_after_followup", "Na een vervolgvraag beantwoord"),
    ("answered_after_followup_rate", "Na vervolgvraag (%)"),
    ("unanswered", "Niet beantwoord"),
    ("unanswered_rate", "Niet beantwoord (%)"),
    ("handed_off", "Doorgezet naar makelaar"),
    ("knelpunten", "Knelpunten gemeld"),
    ("fallback_messages", "Berichten niet begrepen"),
    ("thumbs_up", "Duim omhoog"),
    ("thumbs_down", "Duim omlaag"),
]


def _fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}".replace(".", ",")


def row_values(period: stats.Period) -> dict[str, Any]:
    values: dict[str, Any] = {"period": period.key, **period.counts}
    for name in ("answered_direct", "answered_after_followup", "unanswered"):
        values[f"{name}_rate"] = _fmt_rate(period.rate(name))
    return values


def _choice(request: web.Request) -> tuple[str, str | None]:
    period = request.query.get("periode", "week")
    if period not in PERIODS:
        raise web.HTTPBadRequest(text="Kies als periode 'week' of 'maand'.")
    gemeente = request.query.get("gemeente")
    if gemeente is not None and gemeente not in ("", "onbekend") and (
            len(gemeente) > 80 or not gemeente.replace("-", "").isalnum()):
        raise web.HTTPBadRequest(text="Onbekende gemeente.")
    if gemeente == "":
        gemeente = None  # all gemeenten
    elif gemeente == "onbekend":
        gemeente = stats.UNKNOWN_GEMEENTE
    return period, gemeente


def _data(session: Session, period: str, gemeente: str | None) -> dict[str, Any]:
    rows = stats.periods(session, PERIODS[period], gemeente)
    per_gemeente = stats.by_gemeente(session)
    # the chosen gemeente's name too, also when it has no figures yet
    names = gemeente_names(session, [g for g, _ in per_gemeente if g] + ([gemeente] if gemeente else []))
    return {"rows": rows, "per_gemeente": per_gemeente, "names": names}


@require_role(ROLE)
async def results_page(request: web.Request) -> web.StreamResponse:
    period, gemeente = _choice(request)
    data = await run_in_session(lambda s: _data(s, period, gemeente), request.app["engine"])
    rows: list[stats.Period] = data["rows"]
    names: dict[str, str] = data["names"]
    total = stats.total(rows)
    label = "Gesprekken per week" if period == "week" else "Gesprekken per maand"
    charts = [
        bar_chart(label, [(p.key, p.counts["conversations"]) for p in rows], "grafiek-gesprekken"),
        bar_chart("Direct beantwoord, in procenten van de gesprekken met een vraag",
                  [(p.key, round(p.rate("answered_direct") or 0)) for p in rows], "grafiek-direct"),
        bar_chart("Hele periode en Gem (Dongen), in procenten",
                  [("Loket: direct", round(total.rate("answered_direct") or 0)),
                   ("Gem: direct", GEM_DONGEN["answered_direct"]),
                   ("Loket: na vervolgvraag", round(total.rate("answered_after_followup") or 0)),
                   ("Gem: na vervolgvraag", GEM_DONGEN["answered_after_followup"]),
                   ("Loket: niet beantwoord", round(total.rate("unanswered") or 0)),
                   ("Gem: niet beantwoord", GEM_DONGEN["unanswered"])] if total.counts["questions"] else [],
                  "grafiek-gem"),
    ]
    gemeente_rows = [
        {"id": gid or "onbekend", "name": names.get(gid, gid) if gid else UNKNOWN_LABEL,
         **row_values(stats.Period(gid, counts))}
        for gid, counts in data["per_gemeente"]]
    selected_name = None
    if gemeente is not None:
        selected_name = names.get(gemeente, gemeente) if gemeente else UNKNOWN_LABEL
    query = urlencode({"periode": period, **({"gemeente": request.query["gemeente"]}
                                             if request.query.get("gemeente") else {})})
    return aiohttp_jinja2.render_template("dashboard_resultaten.html", request, {
        "period": period, "gemeente": request.query.get("gemeente", ""), "selected_name": selected_name,
        "columns": COLUMNS, "rows": [row_values(p) for p in rows], "total": row_values(total),
        "charts": charts, "gemeente_rows": gemeente_rows, "gem": GEM_DONGEN, "query": query,
        "gemeente_options": sorted(((r["id"], r["name"]) for r in gemeente_rows),
                                   key=lambda item: item[1].lower()),
    })


@require_role(ROLE)
async def results_csv(request: web.Request) -> web.StreamResponse:
    period, gemeente = _choice(request)
    rows = await run_in_session(lambda s: stats.periods(s, PERIODS[period], gemeente), request.app["engine"])
    values = [row_values(p) for p in [*rows, stats.total(rows)]]
    body = export_csv([[row[key] for key, _ in COLUMNS] for row in values],
                      header=[header for _, header in COLUMNS])
    response = download(body, "text/csv", "csv", prefix=f"resultaten-{period}")
    response.charset = "utf-8"
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/coordinatie/resultaten", results_page, name="dashboard_resultaten")
    app.router.add_get("/coordinatie/resultaten.csv", results_csv, name="dashboard_resultaten_csv")
