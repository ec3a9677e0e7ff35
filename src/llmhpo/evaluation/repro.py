"""The reproducibility record of a study: what a rerun would need to match.

:func:`collect_repro` gathers package versions (read from the installed distributions'
metadata, nothing imported), Python and platform, the seeds, and what the objective says about
its inputs through an optional ``fingerprint() -> dict`` (duck-typed; the LoRA objective gives
the model spec and the SHA-256 of its weights file, the SHA-256 of its data splits, the device
and its name, the training seed). :func:`record_repro` stores it in the study's user attributes
under ``"repro"``: a list with one record per ``llmhpo run`` whose environment differed from the
previous one (a resumed study with the same environment adds nothing), so a study finished on
two machines shows both. ``llmhpo status`` prints the last one.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = ["REPRO_KEY", "PACKAGES", "collect_repro", "record_repro", "get_repro"]

REPRO_KEY = "repro"

#: Distributions whose versions are recorded (absent ones are recorded as ``None``).
PACKAGES = ("llmhpo", "torch", "transformers", "peft", "botorch", "gpytorch", "optuna", "numpy",
            "scipy", "datasets", "gguf")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def collect_repro(objective: Any = None, *, seeds: Mapping[str, Any] | None = None) -> dict:
    """The reproducibility record: versions, platform, seeds and the objective's fingerprint.

    A fingerprint that fails is recorded as ``{"error": ...}``, never raised: the record must
    not stop a study.
    """
    from llmhpo.objectives.registry import ObjectiveSpec

    if isinstance(objective, ObjectiveSpec):
        objective = objective.objective
    rec: dict[str, Any] = {
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "seeds": dict(seeds or {}),
    }
    fp = getattr(objective, "fingerprint", None)
    if fp is not None:
        try:
            rec["objective"] = dict(fp())
        except Exception as exc:  # noqa: BLE001 - a record must never stop the study
            rec["objective"] = {"error": f"{type(exc).__name__}: {exc}"}
    return rec


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("python", "platform", "packages", "seeds", "objective")
    return all(a.get(k) == b.get(k) for k in keys)


def get_repro(study: Any) -> list[dict[str, Any]]:
    """The stored records, oldest first (empty if none)."""
    recs = study.user_attrs.get(REPRO_KEY)
    return [dict(r) for r in recs] if isinstance(recs, list) else []


def record_repro(study: Any, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Append ``record`` unless it matches the last stored one; returns every record."""
    recs = get_repro(study)
    if not recs or not _same(recs[-1], record):
        recs.append(dict(record))
        study.set_user_attr(REPRO_KEY, recs)
    return recs
