"""`loket users password|disable|enable|delete`, and CLI output without Alembic's INFO lines."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from sqlalchemy import select

from bot import handoffs, models
from bot.cli import main
from bot.db import session_scope
from bot.settings import PROJECT_ROOT, load_settings
from bot.web.app import create_app
from bot.web.auth import create_user

USER, PASSWORD = "makelaar.zwolle", "wachtwoord-zwolle"


@pytest.fixture
def users(loaded):
    with session_scope(loaded) as s:
        create_user(s, USER, PASSWORD, "makelaar", team_id="zwolle")
        create_user(s, "coordinator", "wachtwoord-coordinatie", "coordinatie")
    return loaded


@pytest.fixture
async def client(aiohttp_client, users):
    settings = dataclasses.replace(load_settings(), outbox_interval_s=0, purge_interval_s=0)
    return await aiohttp_client(create_app(settings, users))


def _user(engine, username: str = USER) -> models.User | None:
    with session_scope(engine) as s:
        return s.execute(select(models.User).where(models.User.username == username)).scalar_one_or_none()


async def _login(client, password: str = PASSWORD):
    client.session.cookie_jar.clear()
    return await client.post("/inloggen", data={"username": USER, "password": password},
                             allow_redirects=False)


async def _api_with(client, cookie: str) -> int:
    client.session.cookie_jar.clear()
    resp = await client.get("/api/v1/handoffs", headers={"Cookie": f"loket_session={cookie}"})
    return resp.status


async def test_a_disabled_user_cannot_log_in_and_its_sessions_end(client, users, capsys):
    cookie = (await _login(client)).cookies["loket_session"].value
    assert await _api_with(client, cookie) == 200
    assert main(["users", "disable", USER]) == 0
    assert "uitgeschakeld" in capsys.readouterr().out
    assert await _api_with(client, cookie) == 401
    assert (await _login(client)).status == 401
    assert main(["users", "enable", USER]) == 0
    assert await _api_with(client, cookie) == 401  # enabling again does not revive old sessions
    assert (await _login(client)).status == 302


async def test_password_command_sets_a_new_password_and_ends_sessions(client, users, monkeypatch):
    cookie = (await _login(client)).cookies["loket_session"].value
    monkeypatch.setenv("LOKET_NEW_PASSWORD", "nieuw-en-lang-genoeg")
    assert main(["users", "password", USER]) == 0
    assert await _api_with(client, cookie) == 401
    assert (await _login(client)).status == 401
    assert (await _login(client, "nieuw-en-lang-genoeg")).status == 302


def test_password_command_refuses_a_short_password(users, monkeypatch, capsys):
    monkeypatch.setenv("LOKET_NEW_PASSWORD", "kort")
    assert main(["users", "password", USER]) == 1
    assert "minstens 10 tekens" in capsys.readouterr().err


def test_delete_removes_an_unused_account(users, capsys):
    assert main(["users", "delete", "coordinator"]) == 0
    assert "verwijderd" in capsys.readouterr().out
    assert _user(users, "coordinator") is None


def test_delete_keeps_an_account_with_records_and_says_to_disable_it(users, capsys):
    with session_scope(users) as s:
        ref = handoffs.create_handoff(
            s, sender_id="s1", gemeente_id="zwolle", description="Ik zoek een bedrijfsruimte in Zwolle.",
            contact_name="Sam de Vries", contact_email="sam@example.nl", contact_phone=None,
            consent=True, topic=None, transcript=[]).reference
        user = s.execute(select(models.User).where(models.User.username == USER)).scalar_one()
        handoffs.add_note(s, ref, "zwolle", user, "Gebeld, komt langs.")
    assert main(["users", "delete", USER]) == 1
    assert f"loket users disable {USER}" in capsys.readouterr().err
    assert _user(users) is not None


def test_unknown_user_is_reported(users, capsys):
    assert main(["users", "disable", "niemand"]) == 1
    assert "bestaat niet" in capsys.readouterr().err


# --- CLI output without Alembic's INFO lines --------------------------------------------------


def test_cli_prints_no_alembic_info_lines(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "LOKET_DATA_DIR": str(tmp_path), "LOKET_LOG_LEVEL": "INFO",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "users", "list"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "nog geen gebruikers" in result.stdout
    assert "alembic" not in (result.stdout + result.stderr).lower()


def test_alembic_errors_stay_visible(tmp_path, caplog):
    """Quiet is only about INFO: a failing migration still says what went wrong."""
    from bot.db import upgrade

    with pytest.raises(Exception, match="nonexistent"):
        upgrade(f"sqlite:///{tmp_path / 'loket.db'}", revision="nonexistent")
