import yaml

from bot.cli import main, rasa_command, write_endpoints
from bot.settings import load_settings


def test_endpoints_default_to_sqlite_tracker_and_no_lock_store(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_TRACKER_DB_URL", raising=False)
    monkeypatch.delenv("LOKET_REDIS_URL", raising=False)
    cfg = yaml.safe_load(write_endpoints(load_settings()).read_text())
    assert cfg["tracker_store"] == {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    assert "lock_store" not in cfg
    assert cfg["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


def test_endpoints_for_scale_out_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_TRACKER_DB_URL", "postgresql://loket:geheim@db.internal:5433/tracker")
    monkeypatch.setenv("LOKET_REDIS_URL", "redis://redis.internal:6380/2")
    cfg = yaml.safe_load(write_endpoints(load_settings()).read_text())
    assert cfg["tracker_store"]["dialect"] == "postgresql"
    assert cfg["tracker_store"]["url"] == "db.internal"
    assert cfg["tracker_store"]["port"] == 5433
    assert cfg["tracker_store"]["db"] == "tracker"
    assert cfg["tracker_store"]["password"] == "geheim"
    assert cfg["lock_store"] == {"type": "redis", "url": "redis.internal", "port": 6380, "db": 2,
                                 "key_prefix": "loket"}


def test_rasa_http_api_is_off_without_a_token_and_protected_with_one(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_RASA_TOKEN", raising=False)
    assert "--enable-api" not in rasa_command(load_settings())
    monkeypatch.setenv("LOKET_RASA_TOKEN", "t0ken")
    cmd = rasa_command(load_settings())
    assert cmd[cmd.index("--auth-token") + 1] == "t0ken" and "--enable-api" in cmd


def test_knowledge_check_command_reports_problems(tmp_path, capsys):
    (tmp_path / "regelingen").mkdir()
    assert main(["knowledge", "check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "gemeenten.yml: bestand ontbreekt" in err
    assert "regelingen/: geen bestanden gevonden" in err
