"""Issue 18 #11: webhooks go over https to public addresses only, follow no redirects, and show
makelaars a plain Dutch error while the details go to the admin log. Local servers, no internet."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from aiohttp import web
from sqlalchemy import select

from bot import models
from bot.db import session_scope
from bot.handoffs import outbox
from bot.handoffs.webhook_guard import GuardedResolver, WebhookRefused, check_address, check_url
from bot.settings import load_settings
from tests.support.fakes import SECRET, SECRET_ENV, Receiver, make_handoff
from tests.support.stack import free_port


def _settings(allow_loopback: bool):
    return dataclasses.replace(load_settings(), webhook_allow_loopback=allow_loopback,
                               public_url="https://loket.example.nl")


def _point_utrecht_at(engine, url: str) -> None:
    with session_scope(engine) as s:
        s.get(models.Makelaarsteam, "utrecht").webhook_url = url


def _attempts(engine) -> list[models.DeliveryAttempt]:
    with session_scope(engine) as s:
        return list(s.execute(select(models.DeliveryAttempt)).scalars())


@pytest.fixture
async def receiver(loaded, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    rec = Receiver(SECRET)
    await rec.start()
    yield rec
    await rec.stop()


async def _deliver(engine, url: str, allow_loopback: bool = False):
    _point_utrecht_at(engine, url)
    make_handoff(engine, "utrecht")
    return await outbox.deliver_due(engine, settings=_settings(allow_loopback))


# --- refused before anything is sent ---------------------------------------------------------------


async def test_a_local_receiver_is_not_reached_without_the_development_setting(loaded, receiver):
    report = await _deliver(loaded, receiver.url)  # http://127.0.0.1:<port>/hooks/loket
    assert report.failed == 1 and receiver.calls == 0


async def test_https_to_a_loopback_name_is_refused(loaded, receiver):
    url = f"https://localhost:{receiver.port}/hooks/loket"
    assert (await _deliver(loaded, url)).failed == 1 and receiver.calls == 0


async def test_the_development_setting_reaches_the_local_receiver(loaded, receiver):
    assert (await _deliver(loaded, receiver.url, allow_loopback=True)).delivered == 1
    assert receiver.calls == 1


@pytest.mark.parametrize("url", [
    "http://example.org/hooks/loket",  # plain http to the internet
    "ftp://example.org/hooks",
    "https://10.0.0.5/hooks", "https://172.16.0.1/hooks", "https://192.168.1.10/hooks",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://100.64.0.1/hooks",  # shared address space (carrier NAT)
    "https://0.0.0.0/hooks", "https://[::1]/hooks", "https://[fe80::1]/hooks", "https://[fd00::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks", "https://224.0.0.1/hooks",
    "https://user:pass@example.org/hooks", "https:///hooks",
])
def test_urls_that_are_refused(url):
    with pytest.raises(WebhookRefused):
        check_url(url)


def test_the_development_setting_allows_loopback_only():
    check_url("http://127.0.0.1:9000/hooks", allow_loopback=True)
    check_url("https://[::1]:9000/hooks", allow_loopback=True)
    for url in ("http://10.0.0.5/hooks", "http://93.184.216.34/hooks", "https://192.168.1.1/hooks"):
        with pytest.raises(WebhookRefused):
            check_url(url, allow_loopback=True)


def test_a_public_https_url_passes_the_form_check():
    check_url("https://hooks.example.org/loket")
    check_address("93.184.216.34")


class _FakeDns:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host, port=0, family=0):
        return [{"hostname": host, "host": a, "port": port, "family": 0, "proto": 0, "flags": 0}
                for a in self.addresses]

    async def close(self):
        pass


async def test_every_resolved_address_is_checked():
    """A name with one public and one private address (DNS rebinding, split horizon) is refused."""
    ok = GuardedResolver(inner=_FakeDns("93.184.216.34"))
    assert [i["host"] for i in await ok.resolve("hooks.example.org", 443)] == ["93.184.216.34"]
    for addresses in (("93.184.216.34", "10.0.0.5"), ("2606:2800:220:1::1", "fe80::1"), ()):
        with pytest.raises(WebhookRefused):
            await GuardedResolver(inner=_FakeDns(*addresses)).resolve("hooks.example.org", 443)


async def test_http_in_development_only_to_names_that_resolve_to_loopback():
    resolver = GuardedResolver(allow_loopback=True, loopback_only=True, inner=_FakeDns("93.184.216.34"))
    with pytest.raises(WebhookRefused):
        await resolver.resolve("hooks.example.org", 80)


# --- no redirects -------------------------------------------------------------------------------


async def test_a_redirect_is_not_followed(loaded, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    port, calls = free_port(), {"moved": 0, "target": 0}

    async def moved(request):
        calls["moved"] += 1
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{port}/elders")

    async def target(request):
        calls["target"] += 1
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hooks/loket", moved)
    app.router.add_route("*", "/elders", target)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        report = await _deliver(loaded, f"http://127.0.0.1:{port}/hooks/loket", allow_loopback=True)
    finally:
        await runner.cleanup()
    assert report.failed == 1 and calls == {"moved": 1, "target": 0}
    assert "doorverwijzing" in _attempts(loaded)[0].detail


# --- plain errors for makelaars, details in the admin log -----------------------------------------


async def test_makelaars_see_a_plain_dutch_error_and_the_log_has_the_details(loaded, receiver, caplog):
    caplog.set_level(logging.WARNING, logger="bot.handoffs.outbox")
    await _deliver(loaded, f"https://10.1.2.3:{receiver.port}/hooks/loket")
    [attempt] = _attempts(loaded)
    assert not attempt.ok
    assert "10.1.2.3" not in attempt.detail and "Error" not in attempt.detail
    assert "beheerder" in attempt.detail  # says who can fix it
    assert "10.1.2.3" in caplog.text  # the admin log says what was refused


async def test_an_unreachable_receiver_gives_no_socket_details_to_makelaars(loaded, caplog, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    caplog.set_level(logging.WARNING, logger="bot.handoffs.outbox")
    port = free_port()  # nothing listens here
    await _deliver(loaded, f"http://127.0.0.1:{port}/hooks/loket", allow_loopback=True)
    [attempt] = _attempts(loaded)
    assert str(port) not in attempt.detail and "connect" not in attempt.detail.lower()
    assert "niet bereikbaar" in attempt.detail
    assert str(port) in caplog.text


async def test_a_missing_secret_is_a_plain_error_with_the_variable_in_the_log(loaded, receiver, monkeypatch,
                                                                             caplog):
    caplog.set_level(logging.WARNING, logger="bot.handoffs.outbox")
    monkeypatch.delenv(SECRET_ENV)
    await _deliver(loaded, receiver.url, allow_loopback=True)
    [attempt] = _attempts(loaded)
    assert SECRET_ENV not in attempt.detail and "beheerder" in attempt.detail
    assert SECRET_ENV in caplog.text and receiver.calls == 0


def test_production_refuses_the_development_setting(monkeypatch, tmp_path):
    from bot.settings import UnsafeSettingsError

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_ENV", "production")
    monkeypatch.setenv("LOKET_SECRET_KEY", "Zq8vN1pX4sL7mR2tY6wB9cD3fG5hJ0kQ")
    monkeypatch.setenv("LOKET_WEBHOOK_ALLOW_LOOPBACK", "true")
    with pytest.raises(UnsafeSettingsError, match="LOKET_WEBHOOK_ALLOW_LOOPBACK"):
        load_settings()
