"""Throwaway databases on the local PostgreSQL (127.0.0.1:5432, trust auth); skip without one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def pg_url(database: str) -> str:
    return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def require_postgres() -> None:
    """Skip without a reachable PostgreSQL, except in CI, where that is a failure."""
    import psycopg2

    try:
        _admin_connection().close()
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")


@contextmanager
def temporary_database(prefix: str = "loket_test") -> Iterator[str]:
    """A fresh, empty database with a random name; dropped afterwards (also its open connections)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


PG_HOST = os.environ.get("LOKET_TEST_PG_HOST", "127.0.0.1")


PG_PORT = int(os.environ.get("LOKET_TEST_PG_PORT", "5432"))


PG_USER = os.environ.get("LOKET_TEST_PG_USER", "postgres")


def _admin_connection():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                            connect_timeout=5)
    conn.autocommit = True
    return conn
