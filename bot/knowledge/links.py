"""Check the web addresses in knowledge/: status, redirects, timeouts (`loket knowledge links`).

Run by editors where the internet is reachable; CI does not call it. At most a few requests at a time,
HEAD first (cheap) and GET when a server refuses HEAD.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.knowledge.loader import read_knowledge

DEFAULT_PARALLEL = 4
DEFAULT_TIMEOUT_S = 15.0
USER_AGENT = "Loket-Impact-Ondernemen-linkcontrole/1.0"
URL_RE = re.compile(r"https?://[^\s\"'<>)\]]+")
# Delivery endpoints of the makelaarsteams take signed POSTs only; the outbox reports their failures.
SKIPPED_FILES = ("makelaarsteams.yml",)


def collect_links(knowledge_dir: Path) -> dict[str, list[str]]:
    """Every address in knowledge/ -> where it is used ("regeling wbso", "loketten.yml", ...)."""
    kn = read_knowledge(knowledge_dir)
    found: dict[str, list[str]] = {}

    def add(url: str, where: str) -> None:
        url = url.rstrip(".,;:")
        if where not in found.setdefault(url, []):
            found[url].append(where)

    for _, r in kn.regelingen:
        add(str(r.source_url), f"regeling {r.id}")
        for text in (r.summary, r.audience, r.benefit, *r.conditions):
            for url in URL_RE.findall(text):
                add(url, f"regeling {r.id}")
    for lk in kn.loketten:
        add(str(lk.url), f"loket {lk.id}")
        for url in URL_RE.findall(lk.description):
            add(url, f"loket {lk.id}")
    # Anything else, comments with sources included.
    for path in sorted(knowledge_dir.rglob("*.yml")):
        if path.name in SKIPPED_FILES:
            continue
        rel = str(path.relative_to(knowledge_dir))
        for url in URL_RE.findall(path.read_text(encoding="utf-8")):
            if url.rstrip(".,;:") not in found:
                add(url, rel)
    return found


@dataclass
class LinkResult:
    url: str
    status: int | None = None
    final_url: str | None = None
    redirects: list[int] = field(default_factory=list)  # the redirect status codes on the way
    error: str | None = None
    method: str = "HEAD"

    @property
    def broken(self) -> bool:
        return self.status is None or self.status >= 400

    @property
    def redirected(self) -> bool:
        return not self.broken and bool(self.redirects) and self.final_url != self.url


async def _request(session: aiohttp.ClientSession, method: str, url: str) -> LinkResult:
    async with session.request(method, url, allow_redirects=True) as resp:
        return LinkResult(url, resp.status, str(resp.url), [h.status for h in resp.history],
                          method=method)


async def check_link(session: aiohttp.ClientSession, url: str, timeout_s: float) -> LinkResult:
    try:
        result = await _request(session, "HEAD", url)
        if result.status is not None and result.status < 400:
            return result
    except asyncio.TimeoutError:
        return LinkResult(url, error=f"geen antwoord binnen {timeout_s:g} seconden")
    except aiohttp.ClientError:
        pass  # some servers drop HEAD; GET decides
    try:
        # Some servers answer HEAD with 403, 404 or 405 and GET with the page.
        return await _request(session, "GET", url)
    except asyncio.TimeoutError:
        return LinkResult(url, error=f"geen antwoord binnen {timeout_s:g} seconden", method="GET")
    except aiohttp.TooManyRedirects:
        return LinkResult(url, error="te veel doorverwijzingen", method="GET")
    except aiohttp.ClientError as exc:
        return LinkResult(url, error=f"niet bereikbaar ({type(exc).__name__})", method="GET")


async def check_links(urls: Iterable[str], parallel: int = DEFAULT_PARALLEL,
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> list[LinkResult]:
    """Check each address, at most `parallel` at a time; results in the order given."""
    urls = list(urls)
    gate = asyncio.Semaphore(max(1, parallel))
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=max(1, parallel))
    # trust_env: an editor behind an office proxy (HTTPS_PROXY) can still check the links.
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=True,
                                     headers={"User-Agent": USER_AGENT}) as session:
        async def one(url: str) -> LinkResult:
            async with gate:
                return await check_link(session, url, timeout_s)

        return list(await asyncio.gather(*(one(u) for u in urls)))


def report(results: list[LinkResult], used_in: dict[str, list[str]]) -> list[str]:
    """A Dutch report: broken first, then redirects, then a count of the good ones."""
    broken = [r for r in results if r.broken]
    moved = [r for r in results if r.redirected]
    good = len(results) - len(broken) - len(moved)
    lines: list[str] = []

    def where(r: LinkResult) -> str:
        return "      gebruikt in: " + ", ".join(used_in.get(r.url, []))

    if broken:
        lines.append(f"Kapot of niet bereikbaar ({len(broken)}): pas de link aan of zoek de nieuwe pagina.")
        for r in broken:
            lines.append(f"  {r.url}")
            problem = r.error or f"HTTP-status {r.status}"
            if r.redirects and r.final_url and r.final_url != r.url:
                problem += f" (na doorverwijzing naar {r.final_url})"
            lines.append(f"      {problem}")
            lines.append(where(r))
    if moved:
        lines.append(f"Doorverwezen ({len(moved)}): de link werkt, maar zet het nieuwe adres in de kennisbank.")
        for r in moved:
            lines.append(f"  {r.url}")
            codes = ", ".join(str(c) for c in r.redirects)
            lines.append(f"      {codes} naar {r.final_url}")
            lines.append(where(r))
    lines.append(f"Samenvatting: {len(results)} links, {good} in orde, {len(moved)} doorverwezen, "
                 f"{len(broken)} kapot of niet bereikbaar.")
    return lines
