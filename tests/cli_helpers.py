"""Helpers for tests that run the `llmhpo` command in a subprocess."""

from __future__ import annotations

import sys


def llmhpo_cmd() -> list[str]:
    """The `llmhpo` command run with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "llmhpo.cli.main"]
