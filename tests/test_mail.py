"""Mail in the embedded setup (issue 18): the local sink keeps each message as an .eml file, the outbox
marks the handoff delivered, admins read the mail at /beheer/mail; and production SMTP settings
(STARTTLS, login) reach aiosmtplib."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
import subprocess
import sys
import time
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from bot import models
from bot.db import session_scope
from bot.handoffs import mailsink, outbox
from bot.settings import UnsafeSettingsError, load_settings
from bot.web.app import create_app
from bot.web.auth import create_user
from tests.support.fakes import Inbox, make_handoff
from tests.support.stack import free_port
from tests.support.tls import self_signed
from tests.support.web import PASSWORD, login

ADMIN, ZWOLLE = "beheerder", "makelaar.zwolle"


def _settings(**changes):
    return dataclasses.replace(load_settings(), outbox_interval_s=0, purge_interval_s=0, **changes)


def _mail(subject: str, body: str, to: str = "team-zwolle@example.nl") -> bytes:
    msg = EmailMessage()
    msg["From"] = "loket@example.nl"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Sun, 06 Dec 2026 06:30:00 +0000"
    msg.set_content(body)
    return bytes(msg)


async def _sink(settings):
    """The sink on a free port; returns (port, stop event, task)."""
    port = free_port()
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(mailsink.serve(settings, port=port, ready=ready, stop=stop))
    await asyncio.wait_for(ready.wait(), 10)
    return port, stop, task


# --- the sink ------------------------------------------------------------------------------------


async def test_the_outbox_delivers_a_handoff_into_the_sink_as_a_private_eml_file(loaded, tmp_path):
    settings = _settings(data_dir=tmp_path / "var")
    port, stop, task = await _sink(settings)
    try:
        reference = make_handoff(loaded)
        report = await outbox.deliver_due(loaded, settings=dataclasses.replace(
            settings, smtp_host="127.0.0.1", smtp_port=port))
    finally:
        stop.set()
        await task
    assert report.delivered == 1 and report.failed == 0
    with session_scope(loaded) as s:
        row = s.execute(select(models.OutboxMessage)).scalar_one()
        assert row.status == "delivered"
    files = list(settings.mail_dir.glob("*.eml"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.mail_dir.stat().st_mode) == 0o700
    text = files[0].read_text()
    assert reference in text and "Subject: Nieuwe vraag via Loket Impact Ondernemen" in text
    assert not list(settings.mail_dir.glob("*.tmp"))


def test_prune_deletes_only_messages_past_the_contact_retention(tmp_path):
    old = mailsink.store(tmp_path, _mail("oud", "oud"))
    new = mailsink.store(tmp_path, _mail("nieuw", "nieuw"))
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old, (ten_days_ago, ten_days_ago))
    assert mailsink.prune(tmp_path, max_age_days=7) == 1
    assert not old.exists() and new.exists()


def test_the_sink_runs_as_its_own_program_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "LOKET_DATA_DIR": str(tmp_path), "LOKET_SMTP_PORT": str(port),
           "LOKET_SECRET_KEY": "test-secret-key-" + "x" * 32}
    proc = subprocess.Popen([sys.executable, "-m", "bot.handoffs.mailsink"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(aiosmtplib.send(_mail("Test", "Hallo é"), sender="loket@example.nl",
                                            recipients=["team@example.nl"], hostname="127.0.0.1",
                                            port=port, timeout=2))
                break
            except (aiosmtplib.SMTPException, OSError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.2)
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
    assert code == 0
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1 and "Subject: Test" in files[0].read_text()


# --- /beheer/mail ----------------------------------------------------------------------------------


@pytest.fixture
async def client(aiohttp_client, loaded, tmp_path):
    with session_scope(loaded) as s:
        create_user(s, ADMIN, PASSWORD, "admin")
        create_user(s, ZWOLLE, PASSWORD, "makelaar", team_id="zwolle")
    settings = _settings(data_dir=tmp_path / "web-var")
    client = await aiohttp_client(create_app(settings, loaded))
    client.mail_dir = settings.mail_dir
    return client


async def test_admins_see_the_kept_mail_newest_first_escaped_and_not_cached(client):
    first = mailsink.store(client.mail_dir, _mail("Eerste <b>vraag</b>", "x"))
    time.sleep(1.1)  # file names carry the second they arrived
    second = mailsink.store(client.mail_dir, _mail("Tweede <script>alert(1)</script>", "y"))
    await login(client, ADMIN)
    resp = await client.get("/beheer/mail")
    html = await resp.text()
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "Eerste &lt;b&gt;vraag" in html
    assert html.index(second.name) < html.index(first.name)
    assert "2 berichten" in html


async def test_a_message_is_shown_decoded_and_escaped(client):
    body = "Vraag van café De Bakkerij\n<img src=x onerror=alert(1)>\nsam@example.nl"
    path = mailsink.store(client.mail_dir, _mail("Nieuwe vraag: LKT-2026-000123", body))
    await login(client, ADMIN)
    resp = await client.get(f"/beheer/mail/{path.name}")
    html = await resp.text()
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "Vraag van café De Bakkerij" in html  # decoded, not quoted-printable
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "LKT-2026-000123" in html
    assert "<dt>Aan</dt><dd>team-zwolle@example.nl</dd>" in html
    assert "06-12-2026 06:30 (UTC)" in html


@pytest.mark.parametrize("name", ["..%2Floket.db", "secret_key", "x.txt", ".eml", "..%2F..%2Fetc%2Fpasswd"])
async def test_nothing_outside_the_mail_folder_can_be_read(client, name):
    (client.mail_dir.parent / "secret_key").parent.mkdir(parents=True, exist_ok=True)
    (client.mail_dir.parent / "secret_key").write_text("geheim")
    mailsink.store(client.mail_dir, _mail("x", "x"))
    await login(client, ADMIN)
    resp = await client.get(f"/beheer/mail/{name}")
    assert resp.status == 404
    assert "geheim" not in await resp.text()


async def test_without_mail_the_page_says_so(client):
    await login(client, ADMIN)
    html = await (await client.get("/beheer/mail")).text()
    assert "Er is nog geen e-mail verstuurd." in html


async def test_makelaars_cannot_read_the_mail(client):
    path = mailsink.store(client.mail_dir, _mail("Vraag", "sam@example.nl"))
    await login(client, ZWOLLE)
    for url in ("/beheer/mail", f"/beheer/mail/{path.name}"):
        resp = await client.get(url, allow_redirects=False)
        assert resp.status == 403
        assert "sam@example.nl" not in await resp.text()


# --- production SMTP: STARTTLS and a login ------------------------------------------------------


class Logins:
    """aiosmtpd authenticator: accepts one account, remembers what it saw and whether TLS was on."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((login, password, session.ssl is not None))
        # handled=False: aiosmtpd answers 535 itself on a failure
        return AuthResult(success=(login, password) == ("loket", "smtp-geheim"), handled=False)


@pytest.fixture
def tls_smtp(tmp_path, monkeypatch):
    import ssl

    cert, key = self_signed(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this test certificate
    inbox, logins = Inbox(), Logins()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, authenticator=logins, auth_required=True,
                            auth_require_tls=True, server_hostname="localhost")
    controller.start()
    yield controller, inbox, logins
    controller.stop()


async def test_starttls_and_the_login_are_used_when_configured(loaded, tls_smtp):
    controller, inbox, logins = tls_smtp
    reference = make_handoff(loaded)
    settings = _settings(smtp_host="localhost", smtp_port=controller.port, smtp_starttls=True,
                         smtp_username="loket", smtp_password="smtp-geheim")
    report = await outbox.deliver_due(loaded, settings=settings)
    assert report.delivered == 1, outbox_error(loaded)
    assert logins.seen == [("loket", "smtp-geheim", True)]  # the password only over TLS
    assert len(inbox.messages) == 1 and reference in inbox.messages[0][1]["Subject"]


async def test_a_wrong_password_is_a_failed_delivery_that_is_retried(loaded, tls_smtp):
    controller, inbox, _ = tls_smtp
    make_handoff(loaded)
    settings = _settings(smtp_host="localhost", smtp_port=controller.port, smtp_starttls=True,
                         smtp_username="loket", smtp_password="fout")
    report = await outbox.deliver_due(loaded, settings=settings)
    assert report.failed == 1 and not inbox.messages
    with session_scope(loaded) as s:
        row = s.execute(select(models.OutboxMessage)).scalar_one()
        assert row.status == "pending" and "SMTPAuthenticationError" in row.last_error, row.last_error


async def test_required_starttls_refuses_a_server_without_it(loaded):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        make_handoff(loaded)
        settings = _settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=True)
        report = await outbox.deliver_due(loaded, settings=settings)
    finally:
        controller.stop()
    assert report.failed == 1 and not inbox.messages  # nothing sent in the clear


def outbox_error(engine) -> str:
    with session_scope(engine) as s:
        return str(s.execute(select(models.OutboxMessage.last_error)).scalar_one())


def test_smtp_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    for name in ("LOKET_SMTP_HOST", "LOKET_SMTP_STARTTLS", "LOKET_MAIL_SINK", "LOKET_ENV",
                 "LOKET_SECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    default = load_settings()
    assert default.mail_sink and default.smtp_starttls is None and not default.smtp_username
    assert default.mail_dir == tmp_path / "mail"
    assert outbox.smtp_options(default)["start_tls"] is None and "username" not in outbox.smtp_options(default)
    monkeypatch.setenv("LOKET_SMTP_HOST", "smtp.example.nl")
    monkeypatch.setenv("LOKET_SMTP_STARTTLS", "true")
    monkeypatch.setenv("LOKET_SMTP_USERNAME", "loket")
    monkeypatch.setenv("LOKET_SMTP_PASSWORD", "smtp-geheim")
    configured = load_settings()
    assert not configured.mail_sink
    options = outbox.smtp_options(configured)
    assert (options["hostname"], options["start_tls"], options["username"], options["password"]) == (
        "smtp.example.nl", True, "loket", "smtp-geheim")
    monkeypatch.setenv("LOKET_SMTP_STARTTLS", "false")
    assert load_settings().smtp_starttls is False


@pytest.mark.parametrize("env", [
    {"LOKET_MAIL_SINK": "true"},
    {"LOKET_SMTP_HOST": "smtp.example.nl", "LOKET_SMTP_USERNAME": "loket", "LOKET_SMTP_PASSWORD": "x"},
])
def test_production_refuses_the_sink_and_a_login_without_required_starttls(monkeypatch, tmp_path, env):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_ENV", "production")
    monkeypatch.setenv("LOKET_SECRET_KEY", "a" * 20 + "Zq9" * 10)
    for name in ("LOKET_SMTP_HOST", "LOKET_SMTP_STARTTLS", "LOKET_MAIL_SINK", "LOKET_SMTP_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert not load_settings().mail_sink  # production without SMTP settings: no sink either
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UnsafeSettingsError):
        load_settings()
    if "LOKET_SMTP_USERNAME" in env:
        monkeypatch.setenv("LOKET_SMTP_STARTTLS", "true")
        assert load_settings().smtp_username == "loket"
