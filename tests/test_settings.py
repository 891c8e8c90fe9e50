from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, load_settings


def test_defaults_are_embedded_sqlite_under_the_project(monkeypatch):
    for name in ("LOKET_DATA_DIR", "LOKET_DATABASE_URL", "LOKET_TRACKER_DB_URL", "LOKET_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.data_dir == PROJECT_ROOT / "var"
    assert s.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'loket.db'}"
    assert s.tracker_db_url.startswith("sqlite:///")
    assert s.redis_url == ""
    assert s.action_host == "127.0.0.1"
    assert s.conversation_retention_days == 28
    assert s.contact_retention_days == 90


def test_relative_paths_resolve_against_the_project_not_the_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOKET_DATA_DIR", "elders/var")
    s = load_settings()
    assert s.data_dir == PROJECT_ROOT / "elders" / "var"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_DATABASE_URL", "postgresql://u@localhost/loket")
    monkeypatch.setenv("LOKET_REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("LOKET_RASA_PORT", "6005")
    monkeypatch.setenv("LOKET_SECRET_KEY", "k" * 40)
    s = load_settings()
    assert s.data_dir == Path(tmp_path)
    assert s.database_url == "postgresql://u@localhost/loket"
    assert not s.is_sqlite
    assert s.redis_url == "redis://localhost:6379/0"
    assert s.rasa_url == "http://127.0.0.1:6005"
    assert s.secret_key == "k" * 40


@pytest.mark.parametrize(("name", "value"), [("LOKET_RASA_PORT", "vijf"),
                                           ("LOKET_RATE_IP_PER_MINUTE", "veel")])
def test_bad_number_is_reported_with_the_variable_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        load_settings()


def test_generated_secret_key_is_stable(monkeypatch, tmp_path):
    monkeypatch.delenv("LOKET_SECRET_KEY", raising=False)
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    first = load_settings().secret_key
    assert len(first) >= 40
    assert load_settings().secret_key == first


def test_edge_limits_and_timeouts_come_from_the_environment(monkeypatch):
    from bot.edge.gate import EdgeConfig

    monkeypatch.setenv("LOKET_RATE_IP_BURST", "1000000")
    monkeypatch.setenv("LOKET_RATE_SENDER_PER_MINUTE", "12.5")
    monkeypatch.setenv("LOKET_PROXY_COUNT", "2")
    monkeypatch.setenv("LOKET_ACTION_TIMEOUT_S", "7")
    monkeypatch.setenv("LOKET_PURGE_INTERVAL_S", "0")
    s = load_settings()
    assert (s.rate_ip_burst, s.rate_sender_per_minute, s.proxy_count) == (1_000_000, 12.5, 2)
    assert (s.action_timeout_s, s.purge_interval_s) == (7, 0)
    edge = EdgeConfig.from_settings(s)
    assert (edge.ip_burst, edge.sender_per_minute, edge.proxy_count, edge.action_timeout_s) == (
        1_000_000, 12.5, 2, 7)



def test_a_bare_edge_config_has_the_same_limits_as_the_default_settings(monkeypatch):
    """Tests build EdgeConfig() bare; its limits must be what `loket run` uses without LOKET_ variables."""
    import dataclasses

    from bot.edge.gate import EdgeConfig

    for name in ("LOKET_MAX_MESSAGE_CHARS", "LOKET_RATE_SENDER_BURST", "LOKET_RATE_SENDER_PER_MINUTE",
                 "LOKET_RATE_IP_BURST", "LOKET_RATE_IP_PER_MINUTE", "LOKET_PROXY_COUNT",
                 "LOKET_ACTION_TIMEOUT_S", "LOKET_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert dataclasses.asdict(EdgeConfig()) == dataclasses.asdict(EdgeConfig.from_settings(load_settings()))
