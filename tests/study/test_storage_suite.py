"""The storage layer in memory and on a SQLite file (PostgreSQL: tests/distributed)."""

from __future__ import annotations

import pytest

from llmhpo.testing.storage_suite import StorageSuite


class TestMemory(StorageSuite):
    @pytest.fixture
    def url(self):
        return None


class TestSQLiteFile(StorageSuite):
    @pytest.fixture
    def url(self, db_url):
        return db_url
