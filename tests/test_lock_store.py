"""The atomic Redis lock store: two Rasa servers (two store objects) on one conversation at once."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext.lock_store import AtomicRedisLockStore

REDIS_URL = os.environ.get("LOKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def stores():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    kw = client.connection_pool.connection_kwargs
    prefix = "test" + secrets.token_hex(4)
    made = [AtomicRedisLockStore(host=kw["host"], port=kw["port"], db=kw["db"], key_prefix=prefix)
            for _ in range(2)]
    yield made
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def _run_together(workers: list) -> None:
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work):
        def run():
            start.wait()
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(w)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_endpoints_yml_builds_the_store_with_its_redis_settings():
    store = LockStore.create(EndpointConfig(url="redis.internal", type="bot.rasa_ext.lock_store.AtomicRedisLockStore",
                                            port=6380, db=2, key_prefix="loket", password="geheim"))
    assert isinstance(store, AtomicRedisLockStore)
    kw = store.red.connection_pool.connection_kwargs
    assert (kw["host"], kw["port"], kw["db"], kw["password"]) == ("redis.internal", 6380, 2, "geheim")
    assert store.key_prefix.startswith("loket:")


def test_tickets_issued_by_two_servers_at_once_are_all_kept_and_distinct(stores):
    conversation = "c-" + secrets.token_hex(4)
    issued: list[list[int]] = [[], []]

    def issue(i):
        return lambda: issued[i].extend(stores[i].issue_ticket(conversation) for _ in range(200))

    _run_together([issue(0), issue(1)])
    numbers = issued[0] + issued[1]
    assert len(set(numbers)) == 400, "two servers got the same ticket"
    lock = stores[0].get_lock(conversation)
    assert sorted(t.number for t in lock.tickets) == sorted(numbers), "a ticket was overwritten"


def test_turns_of_one_conversation_on_two_servers_never_overlap_and_none_is_lost(stores):
    conversation = "c-" + secrets.token_hex(4)
    inside: list[int] = []
    overlaps: list[tuple] = []
    served: list[tuple[int, int]] = []

    def server(i):
        async def turn(n):
            async with stores[i].lock(conversation, wait_time_in_seconds=0.005):
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(tuple(inside))
                await asyncio.sleep(0.003)  # the turn's work; others must wait for it
                inside.remove(n)
                served.append((i, n))

        async def all_turns():
            for n in range(15):
                await turn(n)

        return lambda: asyncio.run(all_turns())

    _run_together([server(0), server(1)])
    assert not overlaps, f"turns ran at the same time: {overlaps[:3]}"
    assert len(served) == 30
    assert stores[0].get_lock(conversation) is None, "the idle lock was not removed"


def test_a_lock_released_while_another_server_queues_is_kept_for_it(stores):
    conversation = "c-" + secrets.token_hex(4)
    first = stores[0].issue_ticket(conversation)
    second = stores[1].issue_ticket(conversation)
    stores[0].cleanup(conversation, first)
    lock = stores[1].get_lock(conversation)
    assert lock is not None and not lock.is_locked(second), "the waiting turn lost its lock"
    stores[1].cleanup(conversation, second)
    assert stores[0].get_lock(conversation) is None


def test_expired_tickets_are_dropped_while_waiting(stores):
    conversation = "c-" + secrets.token_hex(4)
    stores[0].issue_ticket(conversation, lock_lifetime=0.05)
    waiting = stores[1].issue_ticket(conversation)
    time.sleep(0.1)
    stores[1].update_lock(conversation)
    lock = stores[1].get_lock(conversation)
    assert [t.number for t in lock.tickets] == [waiting]
