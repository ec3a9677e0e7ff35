"""The storage suite on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from llmhpo.testing.storage_suite import StorageSuite


class TestPostgreSQL(StorageSuite):
    @pytest.fixture
    def url(self, postgres_url):
        return postgres_url
