"""`loket knowledge links` against a local aiohttp server (200, 301 -> 200, 404, timeout, HEAD refused);
no test calls the internet."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from bot.cli import main
from bot.knowledge import links
from tests.support import FIXTURE_KNOWLEDGE

SLOW_S = 3.0
TIMEOUT_S = 0.5


class LinkServer:
    """An aiohttp server in its own thread and loop, so code under test may call asyncio.run()."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.methods: dict[str, list[str]] = {}
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.methods.setdefault(request.path, []).append(request.method)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            path = request.path
            if path == "/ok":
                return web.Response(text="in orde")
            if path == "/oud":
                raise web.HTTPMovedPermanently("/ok")
            if path == "/oud-weg":
                raise web.HTTPMovedPermanently("/verdwenen")
            if path == "/traag":
                await asyncio.sleep(SLOW_S)
                return web.Response(text="te laat")
            if path == "/geen-head":
                if request.method == "HEAD":
                    raise web.HTTPMethodNotAllowed("HEAD", ["GET"])
                return web.Response(text="alleen GET")
            if path.startswith("/even"):
                await asyncio.sleep(0.2)
                return web.Response(text="even")
            raise web.HTTPNotFound()
        finally:
            self.in_flight -= 1

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> LinkServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def server() -> Iterator[LinkServer]:
    srv = LinkServer().start()
    yield srv
    srv.stop()


def check(urls: list[str], parallel: int = 4) -> dict[str, links.LinkResult]:
    results = asyncio.run(links.check_links(urls, parallel=parallel, timeout_s=TIMEOUT_S))
    assert [r.url for r in results] == urls
    return {r.url: r for r in results}


def test_status_redirects_timeouts_and_head_fallback(server):
    paths = ["/ok", "/oud", "/weg", "/traag", "/geen-head", "/oud-weg"]
    found = check([server.url(p) for p in paths])
    ok, moved, gone, slow, no_head, moved_gone = (found[server.url(p)] for p in paths)
    assert (ok.status, ok.broken, ok.redirected, ok.method) == (200, False, False, "HEAD")
    assert (moved.status, moved.redirects, moved.final_url) == (200, [301], server.url("/ok"))
    assert moved.redirected and not moved.broken
    assert gone.status == 404 and gone.broken
    assert server.methods["/weg"] == ["HEAD", "GET"]  # a 404 on HEAD is checked again with GET
    assert slow.broken and slow.status is None and "geen antwoord binnen 0.5 seconden" in slow.error
    assert server.methods["/traag"] == ["HEAD"]  # a timeout is not tried twice
    assert (no_head.status, no_head.method, no_head.broken) == (200, "GET", False)
    assert moved_gone.broken and moved_gone.status == 404 and moved_gone.redirects == [301]


def test_unreachable_host_is_broken():
    (result,) = check(["http://127.0.0.1:9/niets"]).values()  # the discard port: nobody listens
    assert result.broken and result.error.startswith("niet bereikbaar")


def test_at_most_the_given_number_of_requests_at_a_time(server):
    check([server.url(f"/even/{i}") for i in range(10)], parallel=3)
    assert server.max_in_flight == 3


def _knowledge_with_links(tmp_path, server, wbso: str, kvk_regeling: str, kvk_loket: str,
                          comment: str | None = None):
    directory = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, directory)
    rvo = directory / "regelingen" / "rvo.yml"
    rvo.write_text(rvo.read_text(encoding="utf-8")
                   .replace("https://www.rvo.nl/subsidies-financiering/wbso", server.url(wbso))
                   .replace("https://www.kvk.nl/inschrijven-en-wijzigen/", server.url(kvk_regeling)),
                   encoding="utf-8")
    loketten = directory / "loketten.yml"
    loketten.write_text(loketten.read_text(encoding="utf-8").replace("https://www.kvk.nl/", server.url(kvk_loket)),
                        encoding="utf-8")
    if comment:
        gemeenten = directory / "gemeenten.yml"
        gemeenten.write_text(f"# Bron postcodes: {server.url(comment)}\n" + gemeenten.read_text(encoding="utf-8"),
                             encoding="utf-8")
    return directory


def test_collect_links_names_where_each_address_is_used(tmp_path, server):
    directory = _knowledge_with_links(tmp_path, server, "/ok", "/ok", "/oud", comment="/weg")
    used = links.collect_links(directory)
    assert used == {server.url("/ok"): ["regeling wbso", "regeling kvk-inschrijven"],
                    server.url("/oud"): ["loket kvk"],
                    server.url("/weg"): ["gemeenten.yml"]}
    # The makelaarsteams' webhook endpoints take signed POSTs only: not checked here.
    assert "https://example.org/hooks/utrecht" in (directory / "makelaarsteams.yml").read_text()


def test_links_command_reports_in_dutch_and_fails_on_a_broken_link(tmp_path, server, capsys):
    directory = _knowledge_with_links(tmp_path, server, "/ok", "/weg", "/oud", comment="/traag")
    code = main(["knowledge", "links", "--dir", str(directory), "--timeout", str(TIMEOUT_S)])
    out = capsys.readouterr().out
    assert code == 1
    assert "4 links controleren, 4 tegelijk" in out
    assert "Kapot of niet bereikbaar (2)" in out
    assert f"  {server.url('/weg')}\n      HTTP-status 404\n      gebruikt in: regeling kvk-inschrijven" in out
    assert f"  {server.url('/traag')}\n      geen antwoord binnen 0.5 seconden\n      gebruikt in: gemeenten.yml" in out
    assert "Doorverwezen (1)" in out
    assert f"  {server.url('/oud')}\n      301 naar {server.url('/ok')}\n      gebruikt in: loket kvk" in out
    assert "Samenvatting: 4 links, 1 in orde, 1 doorverwezen, 2 kapot of niet bereikbaar." in out


def test_links_command_succeeds_when_every_link_works(tmp_path, server, capsys):
    directory = _knowledge_with_links(tmp_path, server, "/ok", "/geen-head", "/oud")
    assert main(["knowledge", "links", "--dir", str(directory), "--timeout", str(TIMEOUT_S)]) == 0
    out = capsys.readouterr().out
    assert "Kapot" not in out
    assert "Samenvatting: 3 links, 2 in orde, 1 doorverwezen, 0 kapot of niet bereikbaar." in out
