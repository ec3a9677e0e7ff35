"""Run assembly: a run configuration becomes (space, optimizer, objective, executor, study).

This is the one place that turns a :class:`~llmhpo.config.RunConfig` into live objects and
runs it; ``llmhpo run`` only parses its arguments, calls :func:`assemble` and :func:`run`, and
prints the results. ``assess``, ``report``, ``status``/``best``/``export`` and the Python API
go through it too:

* :func:`assemble` builds the objective (``objective`` section), the space (the config's, else
  the objective's), the metric and direction, checks everything every trial would fail on
  before the storage is touched (so a bad config creates nothing), and creates or resumes the
  study (the optimizer is built by :func:`~llmhpo.study.create_study`, which gives it the
  study budget when it declares it takes one);
* :func:`run` runs an assembled study: warm start, reference rows, trials, re-check and
  sample answers, on the configured executor;
* :func:`open_study` opens the study a config or a storage names, read-only by default (no
  optimizer is built, so ``llmhpo status`` on a MADS study needs no PyNomad).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from llmhpo.config import ExecutionConfig, RunConfig, load_config
from llmhpo.exceptions import InvalidConfigError, StudyNotFoundError

__all__ = [
    "Assembly",
    "assemble",
    "run",
    "open_study",
    "study_names",
    "build_executor",
    "executor_name",
    "apply_objective_settings",
    "optimizer_kwargs",
    "auto_time_limit",
    "has_reference_rows",
]

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")

#: ``trial_timeout: auto``: this many times the wall time of the default-hyperparameter
#: reference row (a full training run measured on this machine, under its current load)
AUTO_TIME_LIMIT_FACTOR = 3.0
AUTO_TIME_LIMIT_MIN_S = 60.0


@dataclass
class Assembly:
    """What :func:`assemble` built from a config.

    Attributes:
        config: the run configuration.
        spec: the objective with what it implies (:class:`~llmhpo.objectives.registry.
            ObjectiveSpec`).
        study: the created or resumed study (its ``space`` and ``optimizer``).
        warm_rows: the warm-start CSV's rows, read and checked before the study was created
            (``None``: no CSV, or read again by :func:`run`).
        preflighted: the objective's ``check_space`` and ``preflight`` already ran (before the
            study was created); :func:`run` does not run them again.
    """

    config: RunConfig
    spec: Any
    study: Any
    warm_rows: list[Any] | None = None
    preflighted: bool = False

    @property
    def objective(self) -> Any:
        """The objective in the mode the optimizer asks for (:func:`apply_objective_settings`);
        :attr:`plain_objective` is the one the reference rows use."""
        return apply_objective_settings(self.spec.objective, self.study.optimizer)

    @property
    def plain_objective(self) -> Any:
        return self.spec.objective

    @property
    def space(self) -> Any:
        return self.study.space

    def executor(self) -> Any:
        """A new executor as the config's ``execution`` section says (:func:`executor_name`),
        with no more workers than trials left to run (the caller shuts it down)."""
        ex_cfg = self.config.execution
        left = (self.study.budget or ex_cfg.n_workers) - self.study.n_finished
        return build_executor(ex_cfg, name=executor_name(ex_cfg, self.plain_objective),
                              n_workers=max(1, min(ex_cfg.n_workers, left)))


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


def executor_name(ex_cfg: ExecutionConfig, objective: Any) -> str:
    """The executor to use: the configured one, else inline for one worker without a time
    limit, else the process pool (it can stop a trial at its limit and survives a crash).

    The inline executor cannot stop a running call: with a time limit it is accepted only for
    objectives that stop themselves at ``ctx.time_left()`` (``honours_time_limit = True``,
    e.g. LoRA fine-tuning).
    """
    name = ex_cfg.executor
    honours = getattr(objective, "honours_time_limit", False)
    if name is None:
        if ex_cfg.n_workers == 1 and (ex_cfg.trial_timeout is None or honours):
            return "inline"
        return "process"
    if name == "inline" and ex_cfg.n_workers != 1:
        raise InvalidConfigError(
            f"config key 'execution.n_workers': got {ex_cfg.n_workers}, expected 1 with the "
            "inline executor (it runs one trial at a time); use executor: process"
        )
    if name == "inline" and ex_cfg.trial_timeout is not None and not honours:
        raise InvalidConfigError(
            f"config key 'execution.trial_timeout': got {ex_cfg.trial_timeout}, expected none "
            "with executor: inline (it cannot stop a running trial, and a crash of the "
            "objective kills the driver); use executor: process, or drop the executor key "
            "(process is then the default)"
        )
    return name


def build_executor(
    cfg: RunConfig | ExecutionConfig, name: str | None = None, n_workers: int | None = None
) -> Any:
    """The executor of a run config (or of its ``execution`` section), with its per-trial
    resources.

    ``name`` and ``n_workers`` (default: the section's; inline for one worker, else the
    process pool) let :meth:`Assembly.executor` pass the executor chosen by
    :func:`executor_name` and a pool capped at the trials left. Ray reserves
    ``resources_per_trial`` for each actor (``cpu``, ``gpu`` and custom resources); the process
    pool gives worker ``i`` GPUs ``i*gpu ... i*gpu+gpu-1`` (``CUDA_VISIBLE_DEVICES``) and
    ``cpu`` threads.
    """
    import os

    from llmhpo.executors import make_executor

    ex_cfg = cfg.execution if isinstance(cfg, RunConfig) else cfg
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
            "retries": ex_cfg.retries,
        }
        if ex_cfg.ray_address:
            kwargs["address"] = ex_cfg.ray_address
        return make_executor(name, ex_cfg.n_workers, **kwargs)
    if name == "process" and res:
        gpu, cpu = int(res.get("gpu", 0)), res.get("cpu")
        workers = ex_cfg.n_workers

        def worker_env(i: int) -> dict[str, str]:
            env = {}
            if gpu:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i * gpu + k) for k in range(gpu))
            threads = int(cpu) if cpu else (os.cpu_count() or 1) // workers
            env["OMP_NUM_THREADS"] = str(max(1, threads))
            return env

        return make_executor(name, ex_cfg.n_workers, worker_env=worker_env,
                             retries=ex_cfg.retries)
    if name == "process":
        return make_executor(name, ex_cfg.n_workers, retries=ex_cfg.retries)
    return make_executor(name, ex_cfg.n_workers)


def optimizer_kwargs(cfg: RunConfig, spec: Any = None) -> dict[str, Any]:
    """The optimizer's own parameters from the config, plus what the task is for an LLM
    optimizer (``task``) or an LLM-initialized BO/TPE (``llm``: task and budget).

    The study budget is not added here: :func:`~llmhpo.study.create_study` gives it to an
    optimizer that declares it takes it (``capabilities.budget_param``).
    """
    from llmhpo.optimizers import optimizer_parameters

    kwargs = {k: v for k, v in cfg.optimizer.items() if k != "name"}
    params = optimizer_parameters(cfg.optimizer["name"])
    if "task" in params and not kwargs.get("task"):  # the LLM optimizer's task description
        kwargs["task"] = _task_text(cfg, spec)
    if "llm" in params and kwargs.get("init") == "llm":  # an LLM-initialized BO/TPE
        llm = dict(kwargs.get("llm") or {})
        llm.setdefault("task", _task_text(cfg, spec))
        llm.setdefault("budget", cfg.budget)
        kwargs["llm"] = llm
    return kwargs


def _task_text(cfg: RunConfig, spec: Any) -> str:
    """What is being tuned, in words, for an LLM optimizer's prompt: the objective's own
    ``description`` if it has one, else its type and name from the config."""
    text = getattr(spec.objective, "description", None) if spec is not None else None
    if isinstance(text, str) and text.strip():
        return text.strip()
    obj = cfg.objective
    what = obj.get("name") or obj.get("task") or obj.get("target") or obj.get("model")
    return f"a {obj['type']} objective" + (f" ({what})" if what else "")


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


def _space(cfg: RunConfig, spec: Any) -> Any:
    """The config's space, else the objective's own; neither is a config error."""
    space = cfg.build_space() or spec.space
    if space is None:
        raise InvalidConfigError(
            f"objective type {cfg.objective['type']!r} has no search space of its own: "
            "give one under 'space' (a preset name or {var: {type: ..., ...}})"
        )
    return space


def _read_warm_start(cfg: RunConfig, space: Any) -> list[Any] | None:
    """Read and check a warm-start CSV (or a warm-start study's storage URL) before anything
    is created; returns the CSV's rows."""
    ws = cfg.warm_start
    if isinstance(ws, dict):
        from llmhpo.validation import check_storage_url

        check_storage_url(ws.get("storage", cfg.storage), key="warm_start.storage",
                          must_exist=True)
    if ws is None or isinstance(ws, dict):
        return None
    from llmhpo.study import read_warm_start_csv

    return read_warm_start_csv(Path(ws), space)


def _stored_remaining(cfg: RunConfig) -> int:
    """Trials still to run: the budget minus those a stored study of that name finished (read
    without creating a database or a study)."""
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


def _check_objective(objective: Any, space: Any) -> None:
    """The objective's ``check_space`` and ``preflight``: a config every trial would fail on is
    one error, not a study of failed trials."""
    if hasattr(objective, "check_space"):
        objective.check_space(space)
    if hasattr(objective, "preflight"):
        objective.preflight()


def assemble(
    cfg: RunConfig, *, switch_optimizer: bool = False, preflight: bool = False
) -> Assembly:
    """Build the objective and space of ``cfg``, check them, and create (or resume) its study.

    Before the storage is touched: the space against the objective (``check_space``), the
    optimizer's parameters and the objective mode it asks for, the executor, the warm-start
    file, and with ``preflight`` (as :func:`run` asks, when trials remain) the objective's
    ``preflight``; so a bad config creates nothing.

    Raises:
        InvalidConfigError: no search space, a check above, or a resumed study that was
            created differently (space, direction, optimizer; see
            :func:`~llmhpo.study.create_study`).
    """
    from llmhpo.objectives.registry import build_objective
    from llmhpo.optimizers import make_optimizer
    from llmhpo.study import create_study
    from llmhpo.study.ranking import infer_direction

    spec = build_objective(cfg.objective)
    space = _space(cfg, spec)
    if hasattr(spec.objective, "check_space"):
        spec.objective.check_space(space)
    kwargs = optimizer_kwargs(cfg, spec)
    probe = make_optimizer(cfg.optimizer["name"], space, seed=cfg.seed,
                           study_budget=cfg.budget, **kwargs)
    apply_objective_settings(spec.objective, probe)  # an optimizer the objective cannot serve
    executor_name(cfg.execution, spec.objective)
    warm_rows = _read_warm_start(cfg, space)
    if preflight and _stored_remaining(cfg) > 0:
        _check_objective(spec.objective, space)
    metric = cfg.metric if cfg.metric is not None else spec.metric
    # the objective's direction belongs to its own metric; another metric's is read off its name
    implied = spec.direction if metric == spec.metric else infer_direction(metric or "")
    _ensure_sqlite_dir(cfg.storage)
    study = create_study(
        space,
        optimizer=cfg.optimizer["name"],
        optimizer_kwargs=kwargs,
        direction=cfg.direction or implied or "minimize",
        metric=metric,
        budget=cfg.budget,
        storage=cfg.storage,
        study_name=cfg.study_name,
        seed=cfg.seed,
        switch_optimizer=switch_optimizer,
    )
    return Assembly(cfg, spec, study, warm_rows=warm_rows, preflighted=preflight)


def run(
    cfg: RunConfig | Assembly,
    *,
    show_progress: bool = False,
    log: TextIO | None = None,
    switch_optimizer: bool = False,
) -> Any:
    """Run the study of ``cfg`` to its budget and return it (``llmhpo run`` is this, then the
    results printed).

    In order, when trials remain the objective's ``check_space``/``preflight`` (once: in
    :func:`assemble` before the study is created, or here for an assembly built without
    them); the warm start (``warm_start``); the reproducibility record; the reference rows not
    stored yet (the objective's ``references()``, the space's default point, the config's
    ``references:``; evaluated on the run's executor); the trials (``trial_timeout: auto``
    measured on the reference rows; the objective's ``study_callbacks`` and MLflow after each);
    the re-check of the top trials (``recheck:``); sample answers for the report. Progress
    notes go to ``log`` (default stderr).
    """
    log = log or sys.stderr
    a = cfg if isinstance(cfg, Assembly) else assemble(
        cfg, switch_optimizer=switch_optimizer, preflight=True)
    cfg, study, plain = a.config, a.study, a.plain_objective
    if not a.preflighted and study.n_finished < study.budget:
        _check_objective(plain, a.space)  # before the reference rows: one error line
    _warm_start(a, log)
    ex_cfg = cfg.execution
    executor = a.executor()
    # the trials run in the optimizer's mode; the reference rows, the repro record and the
    # sample answers use the plain objective (e.g. standard fine-tuning, no fusion)
    objective = a.objective
    callbacks = _callbacks(a, objective)
    _record_repro(study, cfg, plain)
    extra = _extra_references(cfg, a.space, plain)
    try:
        if hasattr(plain, "references") or extra:
            _reference_rows(study, plain, executor, ex_cfg.workdir, show_progress, extra, log)
        time_limit = ex_cfg.trial_timeout
        if time_limit == "auto":
            time_limit = auto_time_limit(study, log)
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
            preflight_objective=False,
        )
        _recheck(study, cfg, objective, executor, time_limit, log)
    finally:
        executor.shutdown()
    if hasattr(plain, "sample_answers") and ex_cfg.workdir is not None:
        _sample_answers(study, plain, ex_cfg.workdir, show_progress, log)
    return study


def _warm_start(a: Assembly, log: TextIO) -> None:
    """Import the config's warm-start points (a CSV's rows, or another study's trials)."""
    from llmhpo.study import load_study

    cfg, ws = a.config, a.config.warm_start
    if ws is None:
        return
    if isinstance(ws, dict):
        source: Any = load_study(ws["study"], ws.get("storage", cfg.storage), read_only=True)
    else:
        source = a.warm_rows if a.warm_rows is not None else ws
    n = a.study.warm_start(source)
    if n:
        print(f"[llmhpo] warm start: imported {n} evaluated points", file=log)


def _callbacks(a: Assembly, objective: Any) -> list[Any]:
    """After each trial: the objective's own study callbacks (e.g. keep the best adapters),
    then MLflow (after them: an adapter they delete is not logged)."""
    from llmhpo.tracking import mlflow_callback_from_config

    workdir = a.config.execution.workdir
    callbacks = (list(objective.study_callbacks(a.study, workdir=workdir))
                 if hasattr(objective, "study_callbacks") else [])
    tracker = mlflow_callback_from_config(a.config.mlflow)
    if tracker is not None:
        callbacks.append(tracker)
    return callbacks


def _recheck(
    study: Any, cfg: RunConfig, objective: Any, executor: Any, time_limit: float | None,
    log: TextIO,
) -> None:
    """Re-train the top trials with fresh seeds (``recheck:``), when some trial completed."""
    if cfg.recheck is None or study.best_trial is None:
        return
    from llmhpo.evaluation.recheck import recheck_seeds, run_recheck

    rc = cfg.recheck
    print(f"[llmhpo] re-checking the top {rc['top_k']} trials with fresh training seeds "
          f"{recheck_seeds(rc['seeds'])}", file=log)
    run_recheck(study, objective, top_k=rc["top_k"], seeds=rc["seeds"], executor=executor,
                workdir=cfg.execution.workdir, time_limit=time_limit)


def auto_time_limit(study: Any, log: TextIO | None = None) -> float | None:
    """The per-trial time limit of ``trial_timeout: auto``.

    A fixed wall-clock limit either wastes time (too long) or stops nearly finished trials on
    a busy machine (on a 2-core machine shared with another process, 4 of the main job's first
    7 trials hit a fixed 300 s at 12-19 of 20 steps). The trained reference rows (default
    hyperparameters, recipes) train the same number of steps, so their measured times scale
    with the machine's speed: the limit is ``AUTO_TIME_LIMIT_FACTOR`` times the slowest of
    them (at least ``AUTO_TIME_LIMIT_MIN_S``).
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
        f"{max(walls):.0f} s of the slowest trained reference row)",
        file=log or sys.stderr,
    )
    return limit


def has_reference_rows(a: Assembly) -> bool:
    """True when the run has reference rows (the objective's or extra points)."""
    return hasattr(a.plain_objective, "references") or bool(
        _extra_references(a.config, a.space, a.plain_objective)
    )


def _reference_rows(
    study: Any, objective: Any, executor: Any, workdir: str | None, show_progress: bool,
    extra: dict[str, dict[str, Any]] | None = None, log: TextIO | None = None,
) -> None:
    """Evaluate the reference rows the study has not stored yet (the objective's, then the
    ``extra`` points: the space's default, the config's ``references:``), one line each (with
    a live step/ETA line on a terminal while each runs)."""
    import time

    from llmhpo import _status
    from llmhpo.evaluation.references import get_references, record_references, reference_label
    from llmhpo.metrics import format_metric

    log = log or sys.stderr
    stored = get_references(study)
    declared = list(objective.references()) if hasattr(objective, "references") else []
    todo = [n for n in [*declared, *(extra or {})] if n not in stored]
    if todo:
        print(f"[llmhpo] {len(todo)} reference rows first ("
              + ", ".join(reference_label(n) for n in todo) + ")", file=log)
    metric = study.metric or "value"
    for i, name in enumerate(todo, start=1):
        label = reference_label(name)
        if show_progress and _status.enable(log):
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
              f"({time.monotonic() - t0:.0f} s)", file=log)


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


def _sample_answers(
    study: Any, objective: Any, workdir: str, show_progress: bool, log: TextIO
) -> None:
    """Answers of the base, default and 2 best models to 5 held-out prompts, for the report
    and ``llmhpo compare`` (kept adapters are loaded, nothing is trained again when they are
    on disk). A failure here is reported and the run still ends with its results."""
    from llmhpo.compare.answers import collect_answers

    if study.best_trial is None:
        return
    try:
        collect_answers(study, objective, top_k=2, n_prompts=5, workdir=workdir,
                        stream=log if show_progress else False)
    except Exception as exc:  # noqa: BLE001 - the study's results matter more than samples
        print(f"[llmhpo] sample answers not generated: {type(exc).__name__}: {exc}",
              file=log)


def study_names(storage: str) -> list[str]:
    """The names of the studies in ``storage`` (a missing SQLite file is an error, not an
    empty database created just to look)."""
    from llmhpo.study.storage import open_storage

    if storage.startswith("sqlite:///") and not Path(storage[len("sqlite:///") :]).exists():
        raise StudyNotFoundError(f"no database at {storage!r}")
    if "://" not in storage and not Path(storage).exists():
        raise StudyNotFoundError(f"no database at {storage!r}")
    return [s.study_name for s in open_storage(storage).get_all_studies()]


def _config_storage(cfg: RunConfig, path: Path) -> str:
    """The config's storage; a relative SQLite path missing from here is looked up next to
    the config file."""
    storage = cfg.storage
    file = storage[len("sqlite:///"):] if storage.startswith("sqlite:///") else (
        storage if "://" not in storage else None
    )
    if file and not Path(file).is_absolute() and not Path(file).exists():
        near = (path.parent / file).resolve()
        if near.exists():
            return f"sqlite:///{near}"
    return storage


def open_study(
    target: str | Path | RunConfig | None = None,
    study_name: str | None = None,
    *,
    storage: str | None = None,
    read_only: bool = True,
) -> tuple[Any, RunConfig | None]:
    """Open the study a run config or a storage names.

    Args:
        target: a run config (YAML path or :class:`RunConfig`), a storage (database URL or
            SQLite file path), or ``None`` for ``storage`` (default ``sqlite:///llmhpo.db``).
        study_name: the study (default: the config's, else the only study in the storage).
        storage: the storage, when ``target`` is not one.
        read_only: open without building the optimizer (reading needs none of its extras).

    Returns:
        ``(study, config)``; ``config`` is ``None`` when ``target`` is a storage.

    Raises:
        InvalidConfigError: a config file that does not exist or does not load.
        StudyNotFoundError: no such database or study, or several studies and no name.
    """
    from llmhpo.study import load_study

    cfg: RunConfig | None = None
    if isinstance(target, RunConfig):
        cfg = target
    elif target is not None and Path(target).suffix.lower() in _CONFIG_SUFFIXES:
        if not Path(target).is_file():
            raise InvalidConfigError(f"run configuration {str(target)!r} does not exist")
        cfg = load_config(target)
    elif target is not None:
        storage = storage or str(target)
    if cfg is not None:
        where = Path(cfg.source) if cfg.source else Path.cwd() / "config.yaml"
        storage = storage or _config_storage(cfg, where)
        study_name = study_name or cfg.study_name
    storage = storage or "sqlite:///llmhpo.db"
    names = study_names(storage)
    if study_name is None:
        if len(names) != 1:
            raise StudyNotFoundError(
                f"{storage!r} holds {len(names)} studies {names}; choose one with --study-name"
            )
        study_name = names[0]
    if study_name not in names:
        raise StudyNotFoundError(f"no study named {study_name!r} in {storage!r}; studies: {names}")
    return load_study(study_name, storage, read_only=read_only), cfg
