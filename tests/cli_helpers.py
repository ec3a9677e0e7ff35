"""Helpers for tests that run the `llmhpo` command in a subprocess and read raw storage."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent


def llmhpo_cmd(*args: str) -> list[str]:
    """``llmhpo ARGS`` run with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "llmhpo.cli.main", *args]


def cli_env(*extra_paths: Path | str) -> dict[str, str]:
    """Environment for ``llmhpo`` subprocesses: tests/ (and ``extra_paths``) importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, extra_paths), str(TESTS_DIR), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("COLUMNS", None)
    return env


def run_cli(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``llmhpo ARGS`` to completion and capture its output."""
    return subprocess.run(
        llmhpo_cmd(*args),
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def stored_trials(url: str, name: str) -> list:
    """The trials of study ``name`` read straight from storage (no resume side effects).

    Reads through :class:`StudyStorage`, below the :class:`Study` layer, so the storage is seen
    exactly as a killed driver left it.
    """
    from llmhpo.study.storage import StudyStorage, open_storage

    return StudyStorage(open_storage(url), name, create=False).trials()
