"""Fixtures of the core-engine tests (tests/core).

pytest puts this directory on ``sys.path`` (no ``__init__.py``: rootdir-relative "prepend"
import mode), so tests import :mod:`core_objectives` and :mod:`core_helpers`, and spawned
worker processes, which inherit ``sys.path``, can unpickle the objectives. CLI subprocesses get
it through ``PYTHONPATH`` (see :func:`core_helpers.cli_env`).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A real SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'study.db'}"
