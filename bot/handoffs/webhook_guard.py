"""Where a team's webhook may point: https only, and only to public internet addresses (no SSRF).

The check runs when sending, not only when the knowledge is loaded: a name can resolve to another
address tomorrow. Every address a name resolves to is checked, and the connection goes to exactly those
checked addresses (the resolver of the HTTP client does the check), so a second DNS answer cannot slip
in between. Literal IP addresses are checked before connecting.

For development, LOKET_WEBHOOK_ALLOW_LOOPBACK=true also allows loopback addresses (127.0.0.0/8, ::1),
over http or https; the tests' local receivers use it. Production mode refuses that setting
(bot/settings.py). No Rasa here.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver


class WebhookRefused(Exception):
    """The webhook URL or an address it resolves to is not allowed; the message is for the admin log."""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def check_address(address: str, allow_loopback: bool = False) -> None:
    """Refuse private, loopback, link-local, shared, reserved and multicast addresses."""
    ip = _ip(address)
    if ip is None:
        raise WebhookRefused(f"not an IP address: {address!r}")
    if allow_loopback and ip.is_loopback:
        return
    if not ip.is_global or ip.is_multicast or ip.is_unspecified:
        raise WebhookRefused(f"address {ip} is not a public internet address")


def check_url(url: str, allow_loopback: bool = False) -> None:
    """The URL's form: https (http only for a loopback address in development), a host, no user info."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if not host:
        raise WebhookRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("the URL carries a user name or password")
    literal = _ip(host)
    if parts.scheme == "http" and allow_loopback:
        # Names are checked by the resolver: only loopback addresses pass there for http.
        if literal is not None and not literal.is_loopback:
            raise WebhookRefused("http:// is only allowed for a loopback address in development")
    elif parts.scheme != "https":
        raise WebhookRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed; use https://")
    if literal is not None:
        check_address(host, allow_loopback)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a host when any of its addresses is not allowed."""

    def __init__(self, allow_loopback: bool = False, loopback_only: bool = False,
                 inner: AbstractResolver | None = None) -> None:
        self.allow_loopback = allow_loopback
        self.loopback_only = loopback_only  # http:// in development: loopback addresses only
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        infos = await self._inner.resolve(host, port, family)
        if not infos:
            raise WebhookRefused(f"{host} has no address")
        for info in infos:
            check_address(info["host"], self.allow_loopback)
            if self.loopback_only and not _ip(info["host"]).is_loopback:
                raise WebhookRefused(f"http:// to {host} ({info['host']}): only loopback in development")
        return infos

    async def close(self) -> None:
        await self._inner.close()


def resolver_for(url: str, allow_loopback: bool = False) -> GuardedResolver:
    return GuardedResolver(allow_loopback=allow_loopback,
                           loopback_only=urlsplit(url).scheme == "http")
