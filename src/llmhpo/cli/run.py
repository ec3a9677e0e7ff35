"""``llmhpo run [CONFIG]``: run (or resume) a study described by a YAML config."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from llmhpo.config import RunConfig, default_config_path, load_config
from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors import EXECUTORS
from llmhpo.study.ranking import infer_direction

__all__ = ["register", "run_config"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run or resume a study (no CONFIG: the built-in default main job)",
        description="Run a study to its total budget; re-running resumes it.",
    )
    p.add_argument("config", nargs="?", help="run config YAML (default: the built-in main job)")
    p.add_argument("--budget", type=int, help="total number of trials (overrides the config)")
    p.add_argument("--workers", type=int, dest="n_workers", help="trials run at once")
    p.add_argument("--executor", choices=list(EXECUTORS))
    p.add_argument("--storage", help="database URL, e.g. sqlite:///runs/study.db")
    p.add_argument("--study-name", dest="study_name")
    p.add_argument("--seed", type=int)
    p.add_argument("--optimizer", help="optimizer name (overrides the config)")
    p.add_argument(
        "--switch-optimizer", action="store_true",
        help="resume an existing study with another optimizer configuration (recorded with "
        "the study); without it a different optimizer is an error",
    )
    p.add_argument("--report", help="directory of the report (plots, results table)")
    p.add_argument("--scheduler", help="early stopping: median, asha or hyperband "
                   "(overrides the config's scheduler name)")
    p.add_argument("--compute-budget", type=int, dest="compute_budget",
                   help="total training steps/epochs over all trials")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--mlflow", nargs="?", const=True, metavar="TRACKING_URI",
                   help="log the study to MLflow (default store ./mlruns; or a tracking URI)")
    p.add_argument("--no-recheck", action="store_true", dest="no_recheck",
                   help="skip the config's re-check of the top trials with fresh seeds")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config or default_config_path())
    cfg = cfg.with_overrides(
        budget=args.budget,
        n_workers=args.n_workers,
        executor=args.executor,
        storage=args.storage,
        study_name=args.study_name,
        seed=args.seed,
        report=args.report,
        mlflow=args.mlflow,
        optimizer={"name": args.optimizer} if args.optimizer else None,
        scheduler=_scheduler_override(cfg.scheduler, args.scheduler),
        compute_budget=args.compute_budget,
    )
    if args.no_recheck:
        from dataclasses import replace

        cfg = replace(cfg, recheck=None)
    study = run_config(cfg, show_progress=not args.quiet,
                       switch_optimizer=args.switch_optimizer)
    return _exit_status(study)


def _exit_status(study: Any) -> int:
    """0 when some trial completed; else 1, with the reason on stderr (one line)."""
    if study.best_trial is not None:
        return 0
    trials = [t for t in study.trials if not t.warm_start]
    if not trials:
        return 0  # nothing was left to run
    from collections import Counter

    counts = Counter(t.state.value for t in trials)
    last = next((t for t in reversed(trials) if t.error), None)
    reason = "" if last is None else (last.error or "").strip().splitlines()[-1][:300]
    print(
        f"llmhpo: error: no trial of study {study.study_name!r} completed "
        f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        + (f"; last error (trial {last.number}): {reason}" if last else ""),
        file=sys.stderr,
    )
    return 1


def _scheduler_override(configured: Any, name: str | None) -> Any:
    """``--scheduler NAME``: the config's scheduler settings with this name (None: unchanged)."""
    if name is None:
        return None
    if isinstance(configured, dict):
        return {**configured, "name": name}
    return {"name": name}


def _task_text(cfg: RunConfig, spec: Any) -> str:
    """What is being tuned, in words, for an LLM optimizer's prompt: the objective's own
    ``description`` if it has one, else its type and name from the config."""
    text = getattr(spec.objective, "description", None) if spec is not None else None
    if isinstance(text, str) and text.strip():
        return text.strip()
    obj = cfg.objective
    what = obj.get("name") or obj.get("task") or obj.get("target") or obj.get("model")
    return f"a {obj['type']} objective" + (f" ({what})" if what else "")


def _optimizer_kwargs(cfg: RunConfig, spec: Any = None) -> dict[str, Any]:
    """The optimizer's own parameters; budget-aware optimizers get the study budget.

    ``budget`` (SOO, BaMSOO, MADS) is the study budget. ``n_points`` (LHS) defaults to the
    study budget when the study is created; a resumed study keeps its stored value, so that a
    re-run with a larger ``--budget`` continues the same design instead of drawing a new one.
    """
    from llmhpo.optimizers import get_optimizer

    kwargs = {k: v for k, v in cfg.optimizer.items() if k != "name"}
    params = inspect.signature(get_optimizer(cfg.optimizer["name"]).__init__).parameters
    if "budget" in params and "budget" not in kwargs:
        kwargs["budget"] = cfg.budget
    if "n_points" in params and "n_points" not in kwargs:
        kwargs["n_points"] = _stored_optimizer_config(cfg).get("n_points", cfg.budget)
    if "task" in params and not kwargs.get("task"):  # the LLM optimizer's task description
        kwargs["task"] = _task_text(cfg, spec)
    if "llm" in params and kwargs.get("init") == "llm":  # an LLM-initialized BO/TPE
        llm = dict(kwargs.get("llm") or {})
        llm.setdefault("task", _task_text(cfg, spec))
        llm.setdefault("budget", cfg.budget)
        kwargs["llm"] = llm
    return kwargs


def _stored_optimizer_config(cfg: RunConfig) -> dict[str, Any]:
    """The optimizer configuration stored with an existing study of the same optimizer."""
    from llmhpo.exceptions import StudyNotFoundError
    from llmhpo.study.storage import StudyStorage, open_storage
    from llmhpo.validation import sqlite_path

    path = sqlite_path(cfg.storage)
    if path is not None and not Path(path).exists():
        return {}  # do not create an empty database just to look
    try:
        storage = open_storage(cfg.storage, create=False)
        records = StudyStorage(storage, cfg.study_name, create=False)
    except StudyNotFoundError:
        return {}
    stored = records.get_attr("optimizer") or {}
    return dict(stored) if stored.get("name") == cfg.optimizer["name"] else {}


def _ensure_sqlite_dir(url: str) -> None:
    """Create the parent directory of a SQLite file (``sqlite:///dir/x.db`` or a bare path)."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
    elif "://" not in url:
        path = Path(url)
    else:
        return
    if str(path) not in ("", ":memory:"):
        path.parent.mkdir(parents=True, exist_ok=True)


def apply_objective_settings(objective: Any, optimizer: Any) -> Any:
    """The objective in the mode the optimizer asks for (``optimizer.objective_settings``,
    e.g. Bilevel-BO-SWA's checkpoint fusion); an objective that has no such mode is a config
    error naming both."""
    settings = getattr(optimizer, "objective_settings", None)
    if not settings:
        return objective
    if not hasattr(objective, "with_settings"):
        raise InvalidConfigError(
            f"optimizer {optimizer.name!r} needs an objective that supports "
            f"{sorted(settings)} (e.g. type: lora), got {objective!r}"
        )
    return objective.with_settings(settings)


def run_config(
    cfg: RunConfig, *, show_progress: bool = True, out: Any = None,
    switch_optimizer: bool = False,
) -> Any:
    """Run the study of ``cfg`` to its budget and print the results; returns the study.

    Everything that every trial would fail on is checked before the storage is touched (the
    space against the objective, the optimizer's parameters, the warm-start file, the
    objective's own ``preflight``), so a bad config creates nothing.
    """
    from llmhpo.objectives.registry import build_objective
    from llmhpo.optimizers import make_optimizer
    from llmhpo.study import create_study, load_study

    out = out or sys.stdout
    spec = build_objective(cfg.objective)
    space = cfg.build_space() or spec.space
    if space is None:
        raise InvalidConfigError(
            f"objective type {cfg.objective['type']!r} has no search space of its own: "
            "give one under 'space' (a preset name or {var: {type: ..., ...}})"
        )
    objective = spec.objective
    if hasattr(objective, "check_space"):
        objective.check_space(space)
    optimizer_kwargs = _optimizer_kwargs(cfg, spec)
    probe = make_optimizer(cfg.optimizer["name"], space, seed=cfg.seed, **optimizer_kwargs)
    apply_objective_settings(objective, probe)  # an optimizer the objective cannot serve
    ex_cfg = cfg.execution
    name = executor_name(ex_cfg, objective)
    warm_rows = _check_warm_start(cfg, space)
    remaining = _remaining_trials(cfg)
    if hasattr(objective, "preflight") and remaining > 0:
        objective.preflight()  # before the storage and the reference rows: one error line
    metric = cfg.metric if cfg.metric is not None else spec.metric
    # the objective's direction belongs to its own metric; another metric's is read off its name
    implied_direction = spec.direction if metric == spec.metric else infer_direction(metric)
    _ensure_sqlite_dir(cfg.storage)
    study = create_study(
        space,
        optimizer=cfg.optimizer["name"],
        optimizer_kwargs=optimizer_kwargs,
        direction=cfg.direction or implied_direction or "minimize",
        metric=metric,
        budget=cfg.budget,
        storage=cfg.storage,
        study_name=cfg.study_name,
        seed=cfg.seed,
        switch_optimizer=switch_optimizer,
    )
    if cfg.warm_start is not None:
        ws = cfg.warm_start
        source = (
            load_study(ws["study"], ws.get("storage", cfg.storage))
            if isinstance(ws, dict)
            else warm_rows
        )
        n = study.warm_start(source)
        if n:
            print(f"[llmhpo] warm start: imported {n} evaluated points", file=sys.stderr)
    # no more workers than trials left to run (each process worker costs a Python start-up)
    n_workers = max(1, min(ex_cfg.n_workers, study.budget - study.n_finished))
    executor = build_executor(ex_cfg, name=name, n_workers=n_workers)
    # the reference rows are the plain objective (e.g. standard fine-tuning, no fusion)
    reference_objective = spec.objective
    objective = apply_objective_settings(spec.objective, study.optimizer)
    has_references = hasattr(objective, "references")
    callbacks = (
        list(objective.study_callbacks(study, workdir=ex_cfg.workdir))
        if hasattr(objective, "study_callbacks")
        else []
    )
    from llmhpo.tracking import mlflow_callback_from_config

    tracker = mlflow_callback_from_config(cfg.mlflow)
    if tracker is not None:
        # after KeepBestAdapters: an adapter it deletes is not logged
        callbacks.append(tracker)
    _record_repro(study, cfg, reference_objective)
    extra = _extra_references(cfg, space, reference_objective)
    try:
        if has_references or extra:
            _reference_rows(study, reference_objective, executor, ex_cfg.workdir, show_progress,
                            extra)
        time_limit = ex_cfg.trial_timeout
        if time_limit == "auto":
            time_limit = auto_time_limit(study)
        study.optimize(
            objective,
            executor=executor,
            trial_timeout=time_limit,
            workdir=ex_cfg.workdir,
            callbacks=callbacks,
            show_progress=show_progress,
            heartbeat_interval=ex_cfg.heartbeat_interval,
            grace_period=ex_cfg.grace_period,
            scheduler=cfg.scheduler,
            compute_budget=cfg.compute_budget,
        )
        if cfg.recheck is not None and study.best_trial is not None:
            from llmhpo.evaluation.recheck import recheck_seeds, run_recheck

            rc = cfg.recheck
            print(
                f"[llmhpo] re-checking the top {rc['top_k']} trials with fresh training seeds "
                f"{recheck_seeds(rc['seeds'])}",
                file=sys.stderr,
            )
            run_recheck(study, objective, top_k=rc["top_k"], seeds=rc["seeds"],
                        executor=executor, workdir=ex_cfg.workdir,
                        time_limit=ex_cfg.trial_timeout)
    finally:
        executor.shutdown()
    if hasattr(reference_objective, "sample_answers") and ex_cfg.workdir is not None:
        _sample_answers(study, reference_objective, ex_cfg.workdir, show_progress)
    _print_results(study, cfg, has_references or bool(extra), out)
    return study


def _reference_rows(
    study: Any, objective: Any, executor: Any, workdir: str | None, show_progress: bool,
    extra: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Evaluate the reference rows the study has not stored yet (the objective's, then the
    ``extra`` points: the space's default, the config's ``references:``), one line each (with
    a live step/ETA line on a terminal while each runs)."""
    import time

    from llmhpo import _status
    from llmhpo.evaluation.references import get_references, record_references, reference_label
    from llmhpo.reporting.metrics import format_metric

    stored = get_references(study)
    declared = list(objective.references()) if hasattr(objective, "references") else []
    todo = [n for n in [*declared, *(extra or {})] if n not in stored]
    if todo:
        print(f"[llmhpo] {len(todo)} reference rows first ("
              + ", ".join(reference_label(n) for n in todo) + ")", file=sys.stderr)
    metric = study.metric or "value"
    for i, name in enumerate(todo, start=1):
        label = reference_label(name)
        if show_progress and _status.enable(sys.stderr):
            _status.set_study(f"reference {i}/{len(todo)}: {label}")
        t0 = time.monotonic()
        try:
            rec = record_references(study, objective, executor=executor, workdir=workdir,
                                    names=[name], extra=extra)[name]
        finally:
            _status.disable(keep=False)
        result = (f"{metric} {format_metric((rec.get('metrics') or {}).get(metric))}"
                  if rec.get("state") == "complete" else f"{rec.get('state')}: {rec.get('error')}")
        print(f"[llmhpo] reference {i}/{len(todo)} {label}: {result} "
              f"({time.monotonic() - t0:.0f} s)", file=sys.stderr)
#: ``trial_timeout: auto``: this many times the wall time of the default-hyperparameter
#: reference row (a full training run measured on this machine, under its current load)
AUTO_TIME_LIMIT_FACTOR = 3.0
AUTO_TIME_LIMIT_MIN_S = 60.0


def auto_time_limit(study: Any) -> float | None:
    """The per-trial time limit of ``trial_timeout: auto``.

    A fixed wall-clock limit either wastes time (too long) or stops nearly finished trials on
    a busy machine (on a 2-core machine shared with another process, 4 of the main job's first
    7 trials hit a fixed 300 s at 12-19 of 20 steps). The default-hyperparameter reference row
    trains the same number of steps, so its measured time scales with the machine's speed:
    the limit is ``AUTO_TIME_LIMIT_FACTOR`` times it (at least ``AUTO_TIME_LIMIT_MIN_S``).
    ``None`` (no limit) when the study has no completed reference with hyperparameters.
    """
    from llmhpo.evaluation.references import get_references

    walls = [
        r["wall_time"]
        for r in get_references(study).values()
        if r.get("params") is not None and r.get("state") == "complete" and r.get("wall_time")
    ]
    if not walls:
        return None
    limit = max(AUTO_TIME_LIMIT_MIN_S, AUTO_TIME_LIMIT_FACTOR * max(walls))
    print(
        f"[llmhpo] time limit per trial: {limit:.0f} s ({AUTO_TIME_LIMIT_FACTOR:g} x the "
        f"{max(walls):.0f} s of the default-hyperparameter reference run)",
        file=sys.stderr,
    )
    return limit


def executor_name(ex_cfg: Any, objective: Any) -> str:
    """The executor to use: the configured one, else inline for one worker without a time
    limit, else the process pool (it can stop a trial at its limit and survives a crash).

    The inline executor cannot stop a running call: with a time limit it is accepted only for
    objectives that stop themselves at ``ctx.time_left()`` (``honours_time_limit = True``,
    e.g. LoRA fine-tuning).
    """
    name = ex_cfg.executor
    if name is None:
        if ex_cfg.n_workers == 1 and (
            ex_cfg.trial_timeout is None or getattr(objective, "honours_time_limit", False)
        ):
            return "inline"
        return "process"
    if name == "inline" and ex_cfg.n_workers != 1:
        raise InvalidConfigError(
            f"config key 'execution.n_workers': got {ex_cfg.n_workers}, expected 1 with the "
            "inline executor (it runs one trial at a time); use executor: process"
        )
    if (
        name == "inline"
        and ex_cfg.trial_timeout is not None
        and not getattr(objective, "honours_time_limit", False)
    ):
        raise InvalidConfigError(
            f"config key 'execution.trial_timeout': got {ex_cfg.trial_timeout}, expected none "
            "with executor: inline (it cannot stop a running trial, and a crash of the "
            "objective kills the driver); use executor: process, or drop the executor key "
            "(process is then the default)"
        )
    return name


def _check_warm_start(cfg: RunConfig, space: Any) -> Any:
    """Read and check a warm-start CSV before anything is created; returns the rows."""
    ws = cfg.warm_start
    if ws is None or isinstance(ws, dict):
        if isinstance(ws, dict):
            from llmhpo.validation import check_storage_url

            check_storage_url(ws.get("storage", cfg.storage), key="warm_start.storage",
                              must_exist=True)
        return None
    from llmhpo.study import read_warm_start_csv

    return read_warm_start_csv(Path(ws), space)


def _remaining_trials(cfg: RunConfig) -> int:
    """Trials still to run: the budget minus those a stored study of that name finished."""
    from llmhpo.exceptions import StudyNotFoundError
    from llmhpo.study.storage import StudyStorage, open_storage
    from llmhpo.validation import sqlite_path

    path = sqlite_path(cfg.storage)
    if path is not None and not Path(path).exists():
        return cfg.budget
    try:
        records = StudyStorage(open_storage(cfg.storage, create=False), cfg.study_name,
                               create=False)
    except StudyNotFoundError:
        return cfg.budget
    done = sum(t.state.counts_against_budget() and not t.warm_start for t in records.trials())
    return max(0, cfg.budget - done)


def _record_repro(study: Any, cfg: RunConfig, objective: Any) -> None:
    """Store the reproducibility record (versions, hashes, seeds, device) with the study."""
    from llmhpo.evaluation.repro import collect_repro, record_repro

    seeds: dict[str, Any] = {"study": cfg.seed}
    if cfg.recheck is not None:
        from llmhpo.evaluation.recheck import recheck_seeds

        seeds["recheck"] = recheck_seeds(cfg.recheck["seeds"])
    record_repro(study, collect_repro(objective, seeds=seeds))


def _extra_references(cfg: RunConfig, space: Any, objective: Any) -> dict[str, dict[str, Any]]:
    """The config's named reference points, plus the search space's default point when the
    objective has reference rows, every free variable has a default, and no reference row
    is that point already."""
    extra: dict[str, dict[str, Any]] = {}
    declare = getattr(objective, "references", None)
    if declare is not None and all(v.has_default for v in space.free):
        point = space.default_params()
        names = [v.name for v in space.free]
        known = [p for p in dict(declare()).values() if p is not None]
        known += list((cfg.references or {}).values())
        if not any(all(p.get(n) == point[n] for n in names) for p in known):
            extra["space_default"] = point
    for name, params in (cfg.references or {}).items():
        extra[name] = dict(params)
    return extra


def _sample_answers(study: Any, objective: Any, workdir: str, show_progress: bool) -> None:
    """Answers of the base, default and 2 best models to 5 held-out prompts, for the report
    and ``llmhpo compare`` (kept adapters are loaded, nothing is trained again when they are
    on disk). A failure here is reported and the run still ends with its results."""
    from llmhpo.compare.answers import collect_answers

    if study.best_trial is None:
        return
    try:
        collect_answers(study, objective, top_k=2, n_prompts=5, workdir=workdir,
                        stream=sys.stderr if show_progress else False)
    except Exception as exc:  # noqa: BLE001 - the study's results matter more than samples
        print(f"[llmhpo] sample answers not generated: {type(exc).__name__}: {exc}",
              file=sys.stderr)


def _print_results(study: Any, cfg: RunConfig, has_references: bool, out: Any) -> None:
    best = study.best_trial
    print(f"\nStudy {study.study_name!r}: {study.n_finished}/{study.budget} trials", file=out)
    if best is None:
        print("No trial completed.", file=out)
        return
    if has_references or cfg.report:
        from llmhpo.reporting.report import summary_text, write_report

        text, _ = summary_text(study, fmt="markdown")
        print(text, file=out)
        from llmhpo.validation import safe_filename

        report_dir = cfg.report or f"{safe_filename(study.study_name)}-report"
        paths = write_report(study, report_dir)
        print(
            f"\nReport written to {report_dir}/: " + ", ".join(p.name for p in paths.values()),
            file=out,
        )
        print(f"Open the report: {paths['html']}", file=out)
    else:
        print(f"Best trial {best.number}: value {best.value:.6g}", file=out)
        for k, v in best.params.items():
            print(f"  {k} = {v}", file=out)
        from llmhpo.reporting.boundary import boundary_warnings

        # boundary warnings only: importance (scikit-learn's forest) is in the full summary
        warnings = [f"WARNING: {w.text}" for w in boundary_warnings(study)]
        if warnings:
            print("\n" + "\n".join(warnings), file=out)


def build_executor(ex_cfg: Any, name: str | None = None, n_workers: int | None = None) -> Any:
    """The executor of an ``execution`` config section, with its per-trial resources.

    ``name`` and ``n_workers`` (default: the section's) let ``llmhpo run`` pass the executor
    chosen by :func:`executor_name` and a pool capped at the trials left. Ray reserves
    ``resources_per_trial`` for each actor (``cpu``, ``gpu`` and custom resources); the process
    pool gives worker ``i`` GPUs ``i*gpu ... i*gpu+gpu-1`` (``CUDA_VISIBLE_DEVICES``) and
    ``cpu`` threads.
    """
    from dataclasses import replace

    from llmhpo.executors import make_executor

    if n_workers is not None:
        ex_cfg = replace(ex_cfg, n_workers=n_workers)
    name = name or ex_cfg.executor or ("inline" if ex_cfg.n_workers == 1 else "process")
    if name == "inline":
        return make_executor(name, 1)
    res = dict(ex_cfg.resources_per_trial or {})
    if name == "ray":
        kwargs: dict[str, Any] = {
            "num_cpus_per_trial": res.pop("cpu", 1),
            "num_gpus_per_trial": res.pop("gpu", 0),
            "resources": res,
        }
        if ex_cfg.ray_address:
            kwargs["address"] = ex_cfg.ray_address
        return make_executor(name, ex_cfg.n_workers, **kwargs)
    if name == "process" and res:
        gpu, cpu = int(res.get("gpu", 0)), res.get("cpu")

        def worker_env(i: int) -> dict[str, str]:
            env = {}
            if gpu:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i * gpu + k) for k in range(gpu))
            threads = int(cpu) if cpu else (os.cpu_count() or 1) // ex_cfg.n_workers
            env["OMP_NUM_THREADS"] = str(max(1, threads))
            return env

        return make_executor(name, ex_cfg.n_workers, worker_env=worker_env)
    return make_executor(name, ex_cfg.n_workers)
