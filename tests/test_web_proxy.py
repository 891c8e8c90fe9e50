"""Issue 18 #2 in the web app: behind nginx (LOKET_PROXY_COUNT=1) /api/feedback and /api/forget count
per client, read from the last X-Forwarded-For entry (the one nginx adds); without a proxy
(LOKET_PROXY_COUNT=0) the header is ignored, so a client cannot pick a fresh bucket per request."""

from __future__ import annotations

import dataclasses

import pytest

from bot.edge.gate import client_ip
from bot.settings import load_settings
from bot.web import maintenance, widget
from bot.web.app import create_app

ROUTES = {
    # path -> (limit per minute, a body the limiter lets through to the checks after it)
    "/api/feedback": (widget.FEEDBACK_PER_MINUTE, {"vote": "nee-dit-is-geen-stem"}),
    "/api/forget": (maintenance.FORGET_PER_MINUTE, {"sender_id": "niet geldig!"}),
}


async def _client(aiohttp_client, loaded, proxy_count: int):
    settings = dataclasses.replace(load_settings(), outbox_interval_s=0, purge_interval_s=0,
                                   proxy_count=proxy_count)
    return await aiohttp_client(create_app(settings, loaded))


async def _statuses(client, path: str, forwarded_for: str, count: int) -> list[int]:
    body = ROUTES[path][1]
    statuses = []
    for _ in range(count):
        resp = await client.post(path, json=body, headers={"X-Forwarded-For": forwarded_for})
        statuses.append(resp.status)
    return statuses


@pytest.mark.parametrize("path", sorted(ROUTES))
async def test_behind_one_proxy_each_client_has_its_own_limit(aiohttp_client, loaded, path):
    client = await _client(aiohttp_client, loaded, proxy_count=1)
    limit = ROUTES[path][0]
    first = await _statuses(client, path, "203.0.113.5", limit + 1)
    assert first[:limit] == [400] * limit and first[-1] == 429  # the limit, then refused
    # Another client behind the same proxy still gets answers.
    assert await _statuses(client, path, "203.0.113.6", 1) == [400]


@pytest.mark.parametrize("path", sorted(ROUTES))
async def test_a_client_cannot_escape_the_limit_with_its_own_forwarded_for(aiohttp_client, loaded, path):
    """nginx appends the address it sees: only the last entry counts, what the client wrote is ignored."""
    client = await _client(aiohttp_client, loaded, proxy_count=1)
    limit = ROUTES[path][0]
    statuses = [(await _statuses(client, path, f"198.51.100.{n}, 203.0.113.7", 1))[0]
                for n in range(limit + 1)]
    assert statuses[-1] == 429 and statuses.count(400) == limit


@pytest.mark.parametrize("path", sorted(ROUTES))
async def test_without_a_proxy_the_header_is_ignored(aiohttp_client, loaded, path):
    client = await _client(aiohttp_client, loaded, proxy_count=0)
    limit = ROUTES[path][0]
    statuses = [(await _statuses(client, path, f"203.0.113.{n}", 1))[0] for n in range(limit + 1)]
    assert statuses[:limit] == [400] * limit and statuses[-1] == 429  # one bucket: the peer's


@pytest.mark.parametrize("peer, forwarded_for, proxies, expected", [
    ("10.0.0.2", "203.0.113.5", 1, "203.0.113.5"),  # nginx added the client
    ("10.0.0.2", "198.51.100.9, 203.0.113.5", 1, "203.0.113.5"),  # the client's own entry is ignored
    ("10.0.0.3", "198.51.100.9, 203.0.113.5, 10.0.0.2", 2, "203.0.113.5"),  # a balancer before nginx
    ("10.0.0.2", "203.0.113.5", 0, "10.0.0.2"),  # no proxy: the header means nothing
    ("10.0.0.2", None, 1, "10.0.0.2"),  # reached without the proxy's header
    ("10.0.0.2", "203.0.113.5", 2, "10.0.0.2"),  # fewer entries than trusted proxies
])
def test_client_ip_takes_the_entry_the_trusted_proxy_added(peer, forwarded_for, proxies, expected):
    """The one rule for the chat channels (bot/rasa_ext/channels.py) and the web app."""
    assert client_ip(peer, forwarded_for, proxies) == expected
