import yaml

from bot.cli import main
from bot.cli.run import rasa_command, write_endpoints
from bot.settings import load_settings


def test_endpoints_default_to_sqlite_tracker_and_no_lock_store(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_TRACKER_DB_URL", raising=False)
    monkeypatch.delenv("LOKET_REDIS_URL", raising=False)
    cfg = yaml.safe_load(write_endpoints(load_settings()).read_text())
    assert cfg["tracker_store"] == {"type": "bot.rasa_ext.tracker_store.LoketSQLTrackerStore", "dialect": "sqlite",
                                    "db": str(tmp_path / "tracker.db")}
    assert "lock_store" not in cfg
    assert cfg["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


def test_endpoints_for_scale_out_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_TRACKER_DB_URL", "postgresql://loket:geheim@db.internal:5433/tracker")
    monkeypatch.setenv("LOKET_REDIS_URL", "redis://redis.internal:6380/2")
    cfg = yaml.safe_load(write_endpoints(load_settings()).read_text())
    assert cfg["tracker_store"]["type"] == "SQL"  # Rasa's own store on PostgreSQL
    assert cfg["tracker_store"]["dialect"] == "postgresql"
    assert cfg["tracker_store"]["url"] == "db.internal"
    assert cfg["tracker_store"]["port"] == 5433
    assert cfg["tracker_store"]["db"] == "tracker"
    assert cfg["tracker_store"]["password"] == "geheim"
    assert cfg["lock_store"] == {"type": "bot.rasa_ext.lock_store.AtomicRedisLockStore", "url": "redis.internal", "port": 6380, "db": 2,
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


async def test_rasa_builds_the_pooled_sqlite_tracker_store_from_the_endpoints(monkeypatch, tmp_path):
    """Rasa falls back to an in-memory store when a custom store cannot be imported: check it is ours,
    that it keeps its connection, and that a conversation comes back from a second store."""
    from rasa.core.tracker_store import create_tracker_store
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    from bot.rasa_ext.tracker_store import LoketSQLTrackerStore

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_TRACKER_DB_URL", raising=False)
    path = write_endpoints(load_settings())
    domain = Domain.from_dict({"slots": {"gemeente": {"type": "text", "mappings": [{"type": "custom"}]}}})
    stores = [create_tracker_store(read_endpoint_config(str(path), "tracker_store"), domain)
              for _ in range(2)]
    try:
        assert all(isinstance(s, LoketSQLTrackerStore) for s in stores)
        events = [UserUttered("ik zit in Zwolle", {"name": "inform", "confidence": 1.0}),
                  SlotSet("gemeente", "zwolle")]
        await stores[0].save(DialogueStateTracker.from_events("gesprek-1", events, domain.slots))
        await stores[0].retrieve("gesprek-1")
        assert stores[0].engine.pool.checkedin() == 1  # the connection was kept, not closed
        back = await stores[1].retrieve("gesprek-1")
        assert back.get_slot("gemeente") == "zwolle"
        with stores[0].engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        for s in stores:
            s.engine.dispose()
