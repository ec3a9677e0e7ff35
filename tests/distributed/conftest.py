"""Fixtures of the distributed tests: one real PostgreSQL server for the whole session.

The Ray cluster fixture lives in ``test_ray_cluster.py`` (only that module uses it).
"""

from __future__ import annotations

import os

import pytest
from servers import PostgresServer, postgres_binaries


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on 127.0.0.1 (Debian's binaries, a throwaway cluster)."""
    missing = None
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing = "psycopg2 (the 'postgres' extra) is not installed"
    if postgres_binaries() is None:
        missing = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed; "
                   ".ci/run installs Debian's postgresql package")
    if missing:
        if os.environ.get("CI"):  # CI must run these tests, not skip them
            pytest.fail(missing)
        pytest.skip(missing)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()
