from pathlib import Path

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


def test_bad_integer_is_reported_with_the_variable_name(monkeypatch):
    monkeypatch.setenv("LOKET_RASA_PORT", "vijf")
    try:
        load_settings()
    except ValueError as exc:
        assert "LOKET_RASA_PORT" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_generated_secret_key_is_stable(monkeypatch, tmp_path):
    monkeypatch.delenv("LOKET_SECRET_KEY", raising=False)
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    first = load_settings().secret_key
    assert len(first) >= 40
    assert load_settings().secret_key == first
