"""Run the benchmark: every (task, contender, seed) once, in-process, through ask/tell.

Protocol. Each run goes to the largest budget once; smaller budgets are read off its incumbent
curve (the best value after ``b`` evaluations, "anytime" evaluation). Optimizers whose design
depends on the budget (LHS, SOO, MADS...) are built for the largest budget, so at smaller
budgets they are judged mid-run, as a user stopping early would see them. Wall time per
suggestion counts ``ask`` only (the optimizer's own overhead), not the objective.

Runs are independent jobs in a process pool; each finished run is appended to the CSV at once,
so a killed benchmark resumes where it stopped (runs already in the CSV are skipped; runs that
ended in an error are tried again).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import math
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RUN_FIELDS", "Job", "run_one", "read_runs", "run_benchmark", "finished_keys"]

logger = logging.getLogger("llmhpo.bench")

RUN_FIELDS: list[str] = [
    "suite", "task", "contender", "seed", "budget", "status", "error", "n_evals",
    "final_best", "best_at", "curve", "values", "ask_ms_mean", "ask_ms", "eval_s", "wall_s",
]
DONE_STATUSES = ("ok", "exhausted")


@dataclass(frozen=True)
class Job:
    """One run: ``contender`` on ``task`` with ``seed`` for ``budget`` evaluations."""

    suite: str
    task: str
    contender: str
    seed: int
    budget: int

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.task, self.contender, self.seed, self.budget)


@functools.lru_cache(maxsize=64)
def _task(name: str, seed: int) -> Any:
    """The task of a run: its seed's instance in a per-seed suite, else the fixed task."""
    from llmhpo.bench.suites import PER_SEED_SUITES, get_task, suite_of

    return get_task(name, seed if suite_of(name) in PER_SEED_SUITES else None)


def run_one(job: Job, checkpoints: Sequence[int] = ()) -> dict[str, Any]:
    """Run ``job`` and return its CSV row; a contender that raises gives ``status="error"``.

    An objective that raises counts as a failed evaluation (told as ``None``), not an error.
    On a noisy task (``task.true_value``), the curve is the noise-free value of the
    contender's incumbent after each evaluation: its ``recommend()`` where it has one (a
    noise-aware model's choice), else the configuration of lowest observed loss; it is not a
    running minimum (a lucky draw can replace a better incumbent).
    """
    from llmhpo.bench.peers import make_contender
    from llmhpo.objectives.base import TrialContext

    t_start = time.perf_counter()
    values: list[float | None] = []
    ask_ms: list[float] = []
    eval_s = 0.0
    status, error = "ok", ""
    true_curve: list[float] = []
    run: Any = None
    # Numerical warnings of GP fits and capped sklearn fits would drown the progress log;
    # the outcome of every run is in its row.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            task = _task(job.task, job.seed)
            run = make_contender(job.contender, task.space, job.seed, job.budget,
                                 noisy=task.true_value is not None, task=job.task)
            incumbent = _Incumbent(task.true_value) if task.true_value is not None else None
            while len(values) < job.budget:
                t0 = time.perf_counter()
                params = run.ask()
                ask_ms.append(1e3 * (time.perf_counter() - t0))
                if params is None:
                    status = "exhausted"
                    break
                t0 = time.perf_counter()
                try:
                    ctx = TrialContext(number=len(values), seed=job.seed)
                    value: float | None = _value(task.objective(params, ctx), task.metric)
                    if value is not None and not math.isfinite(value):
                        value = None
                except Exception:  # noqa: BLE001 - a failed evaluation is data, not a crash
                    logger.debug("evaluation failed on %s: %s", job.task, traceback.format_exc())
                    value = None
                eval_s += time.perf_counter() - t0
                values.append(value)
                run.tell(value)
                if incumbent is not None:
                    true_curve.append(incumbent.update(run, params, value))
        except Exception as exc:  # noqa: BLE001 - record the error and go on with the others
            status, error = "error", f"{type(exc).__name__}: {exc}"[:500]
        finally:
            close = getattr(run, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
    if status == "error":
        curve: list[float] = []
    elif true_curve:
        curve = true_curve + [true_curve[-1]] * (job.budget - len(true_curve))
    else:
        curve = incumbent_curve(values, job.budget)
    best_at = {str(b): curve[b - 1] for b in checkpoints if curve and b <= len(curve)}
    return {
        "suite": job.suite, "task": job.task, "contender": job.contender, "seed": job.seed,
        "budget": job.budget, "status": status, "error": error, "n_evals": len(values),
        "final_best": curve[-1] if curve else float("nan"),
        "best_at": json.dumps(best_at), "curve": json.dumps(curve),
        "values": json.dumps(values),
        "ask_ms_mean": float(sum(ask_ms) / len(ask_ms)) if ask_ms else float("nan"),
        "ask_ms": json.dumps([round(t, 3) for t in ask_ms]),
        "eval_s": round(eval_s, 4), "wall_s": round(time.perf_counter() - t_start, 4),
    }


class _Incumbent:
    """The noise-free value of a run's incumbent on a noisy task (cached per configuration)."""

    def __init__(self, true_value: Callable[..., float]) -> None:
        self._true_value = true_value
        self._cache: dict[str, float] = {}
        self._best: tuple[float, dict[str, Any]] | None = None

    def update(self, run: Any, params: dict[str, Any], value: float | None) -> float:
        if value is not None and (self._best is None or value < self._best[0]):
            self._best = (value, params)
        rec = run.recommend() if hasattr(run, "recommend") else None
        if rec is None:
            rec = None if self._best is None else self._best[1]
        if rec is None:
            return math.nan
        key = json.dumps(rec, sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = float(self._true_value(rec))
        return self._cache[key]


def _value(result: Any, metric: str | None) -> float | None:
    """The loss in an objective's result: the number, or ``result[metric]`` of a dict."""
    if isinstance(result, Mapping):
        if metric is None or metric not in result:
            raise KeyError(f"objective returned {sorted(result)}, expected the metric {metric!r}")
        result = result[metric]
    return None if result is None else float(result)


def _error_row(job: Job, error: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RUN_FIELDS, "")
    row.update(suite=job.suite, task=job.task, contender=job.contender, seed=job.seed,
               budget=job.budget, status="error", error=error[:500], n_evals=0)
    return row


def incumbent_curve(values: Sequence[float | None], budget: int) -> list[float]:
    """Best value after 1..budget evaluations; NaN before the first success.

    A run that stopped early (an exhausted optimizer) keeps its last incumbent to ``budget``.
    """
    out: list[float] = []
    best = math.nan
    for v in values:
        if v is not None and (math.isnan(best) or v < best):
            best = float(v)
        out.append(best)
    if out:
        out += [out[-1]] * (budget - len(out))
    return out


def read_runs(path: str | Path) -> list[dict[str, str]]:
    """Rows of a runs CSV; for a run recorded twice (an error, then a retry) the last wins."""
    p = Path(path)
    if not p.exists():
        return []
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    latest: dict[tuple[str, str, int, int], dict[str, str]] = {}
    for r in rows:
        try:
            key = (r["task"], r["contender"], int(r["seed"]), int(r["budget"]))
        except (KeyError, TypeError, ValueError):
            continue  # a torn last line of a killed run
        latest[key] = r
    return list(latest.values())


def finished_keys(path: str | Path) -> set[tuple[str, str, int, int]]:
    """Keys ``(task, contender, seed, budget)`` of the runs that finished without error."""
    return {
        (r["task"], r["contender"], int(r["seed"]), int(r["budget"]))
        for r in read_runs(path)
        if r["status"] in DONE_STATUSES
    }


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=RUN_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    # One BLAS/torch thread per worker: the pool already uses every core it is given.
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for n, v in old.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def run_benchmark(
    jobs: Sequence[Job],
    csv_path: str | Path,
    *,
    checkpoints: Sequence[int] = (),
    workers: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run the ``jobs`` not yet finished in ``csv_path``, appending each row as it finishes.

    Args:
        jobs: the runs to do.
        csv_path: the runs CSV (created if missing; finished runs in it are skipped).
        checkpoints: budgets whose incumbent is also stored in the ``best_at`` column.
        workers: processes (1 runs in this process).
        on_done: called with every new row (progress display).

    Returns:
        The number of runs done now.
    """
    path = Path(csv_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = finished_keys(path)
    todo = [j for j in jobs if j.key not in done]
    if len(todo) < len(jobs):
        logger.info(
            "resuming: %d of %d runs already in %s", len(jobs) - len(todo), len(jobs), path
        )
    if workers <= 1:
        for job in todo:
            row = run_one(job, checkpoints)
            _append(path, row)
            if on_done:
                on_done(row)
        return len(todo)

    import concurrent.futures as cf
    import multiprocessing as mp

    with _single_threaded_children(), cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn")
    ) as pool:
        futures = {pool.submit(run_one, job, tuple(checkpoints)): job for job in todo}
        for fut in cf.as_completed(futures):
            try:
                row = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                row = _error_row(futures[fut], f"{type(exc).__name__}: {exc}")
            _append(path, row)
            if on_done:
                on_done(row)
    return len(todo)
