"""How the stored reproducibility record reads (``llmhpo status``, the report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["repro_text"]


def _kv(d: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items() if v is not None)


def repro_text(records: Sequence[Mapping[str, Any]], indent: str = "  ") -> str:
    """The last record as a few indented lines (and how many earlier ones differ)."""
    if not records:
        return f"{indent}reproducibility record: none stored"
    r = records[-1]
    lines = [f"{indent}reproducibility record ({r.get('recorded_at', '?')}):",
             f"{indent}  python {r.get('python')} on {r.get('platform')}",
             f"{indent}  packages: {_kv(r.get('packages') or {})}"]
    if r.get("seeds"):
        lines.append(f"{indent}  seeds: {_kv(r['seeds'])}")
    obj = r.get("objective") or {}
    for key, value in obj.items():
        if isinstance(value, Mapping):
            value = _kv(value)
        lines.append(f"{indent}  {key}: {value}")
    if len(records) > 1:
        lines.append(f"{indent}  ({len(records) - 1} earlier record(s) with a different "
                     "environment are stored too)")
    return "\n".join(lines)
