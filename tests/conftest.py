"""Shared fixtures of the test suite.

This directory is put on ``sys.path`` by pytest (rootdir conftest), so tests import
``helper_objectives`` and spawned worker processes can unpickle its functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def xy_space():
    from llmhpo.space import Float, SearchSpace

    return SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A real SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'study.db'}"


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for `llmhpo` subprocesses: the tests directory importable."""
    from cli_helpers import cli_env as env

    return env()
