"""Re-check the winner: re-train the top trials with fresh training seeds.

The best of a dozen trials is selected on its validation value, so that value is optimistic
(the winner's curse), and a single training seed says nothing about the seed-to-seed spread.
:func:`run_recheck` re-runs the ``top_k`` best trials with each of a few fresh seeds and stores,
per trial, every run's metrics (per-example values included, for the intervals), the mean and
standard deviation over the runs, and the gap between the search value and the re-check mean.
The verdict (:func:`llmhpo.reporting.make_verdict`) then judges the re-check's winner with
the re-check's runs.

How a run gets its fresh seed (duck-typed, nothing to inherit): if the objective has
``with_seed(seed) -> objective`` (the LoRA objective: a copy with ``train.seed = seed``),
that copy runs; the context's ``seed`` is the fresh seed in every case, for objectives that
seed themselves from it.

Stored in the study's user attributes under ``"recheck"`` (docs/architecture.md)::

    {"metric": "val_loss", "direction": "minimize", "top_k": 2, "seeds": [1001, 1002],
     "winner": 10,
     "trials": [{"trial": 10, "rank": 1, "params": {...}, "search_value": 1.586,
                 "runs": [{"seed": 1001, "state": "complete", "metrics": {...},
                           "error": null, "wall_time": 61.2}, ...],
                 "n_complete": 2, "mean": {"val_loss": 1.62, ...}, "std": {...},
                 "gap": 0.034}, ...]}

``gap`` is how much worse the re-check mean is than the value the trial was selected on
(positive = the search value was optimistic), in the study's direction. Runs already stored
with the same parameters and seed are reused, so an interrupted re-check resumes.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors import Executor
from llmhpo.objectives.base import Outcome, TrialContext, evaluate
from llmhpo.study.trial import TrialState

__all__ = ["RECHECK_KEY", "run_recheck", "get_recheck", "recheck_seeds", "RECHECK_SEED_BASE"]

_logger = logging.getLogger("llmhpo.evaluation")

RECHECK_KEY = "recheck"
#: Fresh seeds are ``RECHECK_SEED_BASE + 1, + 2, ...``: far from the small seeds configs use.
RECHECK_SEED_BASE = 1000


def recheck_seeds(seeds: int | Sequence[int]) -> list[int]:
    """The re-check's seeds: ``n`` -> ``[1001, ..., 1000 + n]``, or the given list.

    Raises:
        InvalidConfigError: not a positive count nor a non-empty list of distinct integers.
    """
    if isinstance(seeds, bool):
        raise InvalidConfigError(
            f"recheck seeds must be a count or a list of integers, got {seeds!r}"
        )
    if isinstance(seeds, int):
        if seeds < 1:
            raise InvalidConfigError(f"recheck seeds must be a positive count, got {seeds!r}")
        return [RECHECK_SEED_BASE + i for i in range(1, seeds + 1)]
    out = list(seeds) if isinstance(seeds, Sequence) and not isinstance(seeds, str) else None
    if (not out or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in out)
            or len(set(out)) != len(out)):
        raise InvalidConfigError(
            f"recheck seeds must be a positive count or a list of distinct non-negative "
            f"integers, got {seeds!r}"
        )
    return out


def get_recheck(study: Any) -> dict[str, Any] | None:
    """The re-check stored with the study, or ``None``."""
    rc = study.user_attrs.get(RECHECK_KEY)
    return dict(rc) if isinstance(rc, Mapping) and rc.get("trials") is not None else None


@dataclass(frozen=True)
class _SeededCall:
    """A picklable ``(params, ctx) -> metrics`` running the objective with a fresh seed."""

    objective: Any
    seed: int

    def __call__(self, params: dict[str, Any], ctx: TrialContext) -> Any:
        reseed = getattr(self.objective, "with_seed", None)
        obj = reseed(self.seed) if reseed is not None else self.objective
        return obj(dict(params), ctx)


def _run(call: _SeededCall, params: dict[str, Any], ctx: TrialContext,
         executor: Executor | None) -> Outcome:
    return evaluate(call, params, ctx, executor)  # the one call -> Outcome path


def _numeric(v: Any) -> float | None:
    from llmhpo.metrics import as_number

    return as_number(v)


def _summary(runs: Sequence[Mapping[str, Any]], metric: str) -> tuple[dict, dict]:
    done = [r["metrics"] for r in runs if r.get("state") == "complete"]
    keys = [k for k in (done[0] if done else {}) if all(_numeric(d.get(k)) is not None
                                                         for d in done)]
    mean = {k: statistics.fmean(float(d[k]) for d in done) for k in keys}
    std = {k: statistics.stdev(float(d[k]) for d in done) if len(done) > 1 else 0.0
           for k in keys}
    return mean, std


def _error_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = text.strip().splitlines()
    return lines[-1] if lines else text


def run_recheck(
    study: Any,
    objective: Any,
    *,
    top_k: int = 2,
    seeds: int | Sequence[int] = 2,
    executor: Executor | None = None,
    workdir: str | Path | None = None,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Re-run the ``top_k`` best trials with each of ``seeds`` and store the result.

    Args:
        study: the :class:`~llmhpo.study.Study`.
        objective: its objective (or an ``ObjectiveSpec`` wrapping it); see the module
            docstring for how the fresh seed reaches it.
        top_k: how many of the best trials (by the study's objective) to re-check.
        seeds: how many fresh seeds (``1001, 1002, ...``) or the seeds themselves.
        executor: where to run (e.g. the study's worker pool, so the base model stays loaded);
            ``None`` runs in this process.
        workdir: parent of the runs' work directories (``recheck_<trial>_<seed>``).
        time_limit: seconds each run may take.

    Returns:
        The stored record (module docstring); trials that fail a run keep the failure as data.
    """
    from llmhpo.objectives.registry import ObjectiveSpec
    from llmhpo.study.ranking import ranked_trials

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidConfigError(f"recheck top_k must be a positive integer, got {top_k!r}")
    seed_list = recheck_seeds(seeds)
    if isinstance(objective, ObjectiveSpec):
        objective = objective.objective
    metric = study.metric or "value"
    previous = get_recheck(study) or {}
    old_runs: dict[tuple[int, int], dict[str, Any]] = {}
    for row in previous.get("trials", []):
        for r in row.get("runs", []):
            if r.get("state") == "complete":
                old_runs[(int(row["trial"]), int(r["seed"]))] = {**r, "_params": row["params"]}
    record: dict[str, Any] = {"metric": metric, "direction": study.direction, "top_k": top_k,
                              "seeds": seed_list, "winner": None, "trials": []}
    sign = 1.0 if study.direction == "minimize" else -1.0
    for rank, t in enumerate(ranked_trials(study, top_k), start=1):
        row: dict[str, Any] = {"trial": t.number, "rank": rank, "params": dict(t.params),
                               "search_value": t.value, "runs": []}
        record["trials"].append(row)
        for seed in seed_list:
            old = old_runs.get((t.number, seed))
            if old is not None and old["_params"] == row["params"]:
                row["runs"].append({k: v for k, v in old.items() if k != "_params"})
                continue
            ctx = TrialContext(
                number=t.number, seed=seed,
                workdir=None if workdir is None
                else str(Path(workdir) / f"recheck_{t.number}_{seed}"),
                time_limit=time_limit,
            )
            _logger.info("Re-checking trial %d with seed %d", t.number, seed)
            out = _run(_SeededCall(objective, seed), dict(t.params), ctx, executor)
            value = _numeric(out.metrics.get(metric)) if out.state is TrialState.COMPLETE else None
            state = out.state.value if out.state is not TrialState.COMPLETE or value is not None \
                else TrialState.FAILED.value
            row["runs"].append({
                "seed": seed, "state": state, "metrics": dict(out.metrics),
                "error": _error_line(out.error) or (
                    None if state == "complete" else f"no metric {metric!r} returned"),
                "wall_time": round(out.wall_time, 3),
            })
            _finish_row(row, metric, sign)
            study.set_user_attr(RECHECK_KEY, record)  # after each run: a kill loses nothing
        _finish_row(row, metric, sign)
    done = [r for r in record["trials"] if r["n_complete"]]
    if done:
        record["winner"] = min(done, key=lambda r: (sign * r["mean"][metric], r["rank"]))["trial"]
    study.set_user_attr(RECHECK_KEY, record)
    return record


def _finish_row(row: dict[str, Any], metric: str, sign: float) -> None:
    row["n_complete"] = sum(r.get("state") == "complete" for r in row["runs"])
    row["mean"], row["std"] = _summary(row["runs"], metric)
    m = row["mean"].get(metric)
    row["gap"] = None if m is None or row["search_value"] is None else sign * (
        m - row["search_value"])
