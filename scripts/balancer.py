"""A small HTTP load balancer for several Rasa servers (aiohttp), sticky per conversation.

    python scripts/balancer.py --port 5005 --backend http://127.0.0.1:5101 --backend http://127.0.0.1:5102

Backends may also come from LOKET_BALANCER_BACKENDS (comma-separated). Any backend can serve any turn:
the conversation lives in the shared tracker store (PostgreSQL) and the Redis lock store
(bot/rasa_ext/lock_store.py) orders the turns of one conversation. Still, the turns of one REST conversation (the
JSON "sender") go to the same backend while it is up, so they need not wait for a lock held on another
server. Other requests go to the backend with the fewest outstanding
requests. A backend that refuses connections is skipped for a few seconds.

Meant for the REST channel and the benchmark. In production use nginx (deploy/nginx/loket.conf): it also
proxies socket.io's WebSocket with sticky sessions, and terminates TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import zlib
from dataclasses import dataclass

from aiohttp import ClientConnectorError, ClientSession, ClientTimeout, TCPConnector, web

log = logging.getLogger("balancer")

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
DOWN_FOR_S = 5.0


@dataclass
class Backend:
    url: str
    active: int = 0
    down_until: float = 0.0
    served: int = 0


def conversation_key(path: str, body: bytes) -> str | None:
    """The sender of a REST channel message, to keep one conversation on one backend."""
    if not path.endswith("/webhook") or not body:
        return None
    try:
        sender = json.loads(body).get("sender")
    except (ValueError, AttributeError):
        return None
    return str(sender) if sender is not None else None


class Balancer:
    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ValueError("at least one backend is needed")
        self.backends = [Backend(u.rstrip("/")) for u in urls]
        self._next = 0
        self.session: ClientSession | None = None

    def pick(self, exclude: set[str], key: str | None = None) -> Backend | None:
        now = time.monotonic()
        up = [b for b in self.backends if b.down_until <= now and b.url not in exclude]
        if not up:
            return None
        if key is not None:
            # The conversation's home backend; while it is down, a fixed one of the others.
            h = zlib.crc32(key.encode())
            home = self.backends[h % len(self.backends)]
            return home if home in up else up[h % len(up)]
        # Least outstanding requests; ties rotate so equal backends share the load.
        self._next += 1
        start = self._next % len(up)
        return min(up[start:] + up[:start], key=lambda b: b.active)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        key = conversation_key(request.path, body)
        tried: set[str] = set()
        while (backend := self.pick(tried, key)) is not None:
            tried.add(backend.url)
            backend.active += 1
            try:
                async with self.session.request(request.method, backend.url + request.path_qs,
                                                data=body, headers=headers,
                                                allow_redirects=False) as resp:
                    payload = await resp.read()
                    out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
                    backend.served += 1
                    return web.Response(status=resp.status, body=payload, headers=out)
            except ClientConnectorError:
                # Not started or gone: nothing was sent, so another backend may take this request.
                backend.down_until = time.monotonic() + DOWN_FOR_S
                log.warning("backend %s refuses connections; skipped for %.0f s", backend.url, DOWN_FOR_S)
            finally:
                backend.active -= 1
        return web.json_response({"error": "geen server beschikbaar"}, status=503)

    async def health(self, _request: web.Request) -> web.Response:
        now = time.monotonic()
        return web.json_response({"backends": [
            {"url": b.url, "up": b.down_until <= now, "active": b.active, "served": b.served}
            for b in self.backends]})


def make_app(urls: list[str], timeout_s: float = 120) -> web.Application:
    balancer = Balancer(urls)
    app = web.Application(client_max_size=1024**2)

    async def open_session(_app: web.Application) -> None:
        balancer.session = ClientSession(connector=TCPConnector(limit=0),
                                         timeout=ClientTimeout(total=timeout_s))

    async def close_session(_app: web.Application) -> None:
        if balancer.session:
            await balancer.session.close()

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app["balancer"] = balancer
    app.router.add_get("/_balancer", balancer.health)
    app.router.add_route("*", "/{tail:.*}", balancer.handle)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Load balancer for several Rasa servers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--backend", action="append", default=[],
                        help="backend base URL (repeat); or LOKET_BALANCER_BACKENDS=url1,url2")
    args = parser.parse_args(argv)
    urls = args.backend or [u for u in os.environ.get("LOKET_BALANCER_BACKENDS", "").split(",") if u]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # noqa: F401 - faster event loop when installed

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(make_app(urls), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
