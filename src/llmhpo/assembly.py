"""Run assembly: a run configuration becomes (space, optimizer, objective, executor, study).

This is the one place that turns a :class:`~llmhpo.config.RunConfig` into live objects;
``llmhpo run``, ``assess``, ``report``, ``status``/``best``/``export`` and the Python API all go
through it:

* :func:`assemble` builds the objective (``objective`` section), the space (the config's, else
  the objective's), the metric and direction, and creates or resumes the study (the optimizer
  is built by :func:`~llmhpo.study.create_study`, which gives it the study budget when it
  declares it takes one);
* :func:`run` runs an assembled study: preflight, reference rows, trials, on the configured
  executor;
* :func:`open_study` opens the study a config or a storage names, read-only by default (no
  optimizer is built, so ``llmhpo status`` on a MADS study needs no PyNomad).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from llmhpo.config import RunConfig, load_config
from llmhpo.exceptions import InvalidConfigError, StudyNotFoundError

__all__ = [
    "Assembly",
    "assemble",
    "run",
    "open_study",
    "study_names",
    "build_executor",
    "apply_objective_settings",
]

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Assembly:
    """What :func:`assemble` built from a config.

    Attributes:
        config: the run configuration.
        spec: the objective with what it implies (:class:`~llmhpo.objectives.registry.
            ObjectiveSpec`).
        study: the created or resumed study (its ``space`` and ``optimizer``).
    """

    config: RunConfig
    spec: Any
    study: Any

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
        """A new executor as the config's ``execution`` section says (the caller shuts it
        down)."""
        return build_executor(self.config)


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


def build_executor(cfg: RunConfig | Any) -> Any:
    """The executor of a run config (or of its ``execution`` section): ``execution.executor``,
    else inline for one worker and a process pool for several, with its per-trial resources.

    Ray reserves ``resources_per_trial`` for each actor (``cpu``, ``gpu`` and custom resources);
    the process pool gives worker ``i`` GPUs ``i*gpu ... i*gpu+gpu-1`` (``CUDA_VISIBLE_DEVICES``)
    and ``cpu`` threads.
    """
    import os

    from llmhpo.executors import make_executor

    ex_cfg = cfg.execution if isinstance(cfg, RunConfig) else cfg
    name = ex_cfg.executor or ("inline" if ex_cfg.n_workers == 1 else "process")
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


def assemble(cfg: RunConfig, *, switch_optimizer: bool = False) -> Assembly:
    """Build the objective and space of ``cfg`` and create (or resume) its study.

    Raises:
        InvalidConfigError: no search space, or a resumed study that was created differently
            (space, direction, optimizer; see :func:`~llmhpo.study.create_study`).
    """
    from llmhpo.objectives.registry import build_objective
    from llmhpo.study import create_study
    from llmhpo.study.ranking import infer_direction

    spec = build_objective(cfg.objective)
    space = cfg.build_space() or spec.space
    if space is None:
        raise InvalidConfigError(
            f"objective type {cfg.objective['type']!r} has no search space of its own: "
            "give one under 'space' (a preset name or {var: {type: ..., ...}})"
        )
    metric = cfg.metric if cfg.metric is not None else spec.metric
    # the objective's direction belongs to its own metric; another metric's is read off its name
    implied = spec.direction if metric == spec.metric else infer_direction(metric or "")
    _ensure_sqlite_dir(cfg.storage)
    study = create_study(
        space,
        optimizer=cfg.optimizer["name"],
        optimizer_kwargs={k: v for k, v in cfg.optimizer.items() if k != "name"},
        direction=cfg.direction or implied or "minimize",
        metric=metric,
        budget=cfg.budget,
        storage=cfg.storage,
        study_name=cfg.study_name,
        seed=cfg.seed,
        switch_optimizer=switch_optimizer,
    )
    return Assembly(cfg, spec, study)


def run(
    cfg: RunConfig | Assembly,
    *,
    show_progress: bool = False,
    log: TextIO | None = None,
    switch_optimizer: bool = False,
) -> Any:
    """Run the study of ``cfg`` to its budget and return it.

    In order: warm start (``warm_start``); then, when trials remain, the objective's
    ``check_space``/``preflight`` (in :meth:`Study.optimize`, the one place they run), the
    reproducibility record and the reference rows (the objective's ``references()``, the space's
    default point, the config's ``references:``; evaluated once, on the study's executor); the
    trials (the objective's ``study_callbacks`` and MLflow after each); the re-check of the top
    trials (``recheck:``); sample answers for the report. Progress notes go to ``log``.
    """
    from llmhpo.study import load_study

    log = log or sys.stderr
    a = cfg if isinstance(cfg, Assembly) else assemble(cfg, switch_optimizer=switch_optimizer)
    cfg, study, objective = a.config, a.study, a.objective
    ex_cfg = cfg.execution
    if cfg.warm_start is not None:
        ws = cfg.warm_start
        source = (
            load_study(ws["study"], ws.get("storage", cfg.storage), read_only=True)
            if isinstance(ws, dict) else ws
        )
        n = study.warm_start(source)
        if n:
            print(f"[llmhpo] warm start: imported {n} evaluated points", file=log)
    # the reference rows are the plain objective (e.g. standard fine-tuning, no fusion)
    plain = a.plain_objective
    callbacks = (
        list(objective.study_callbacks(study)) if hasattr(objective, "study_callbacks") else []
    )
    from llmhpo.tracking import mlflow_callback_from_config

    tracker = mlflow_callback_from_config(cfg.mlflow)
    if tracker is not None:
        # after KeepBestAdapters: an adapter it deletes is not logged
        callbacks.append(tracker)
    extra = _extra_references(cfg, a.space, plain)

    def _before(study: Any, executor: Any) -> None:
        _record_repro(study, cfg, plain)
        if hasattr(plain, "references") or extra:
            _reference_rows(study, plain, executor, ex_cfg.workdir, show_progress, extra, log)

    executor = a.executor()
    try:
        study.optimize(
            objective,
            executor=executor,
            trial_timeout=ex_cfg.trial_timeout,
            workdir=ex_cfg.workdir,
            callbacks=callbacks,
            show_progress=show_progress,
            heartbeat_interval=ex_cfg.heartbeat_interval,
            grace_period=ex_cfg.grace_period,
            before_trials=[_before],
        )
        if cfg.recheck is not None and study.best_trial is not None:
            from llmhpo.evaluation.recheck import recheck_seeds, run_recheck

            rc = cfg.recheck
            print(
                f"[llmhpo] re-checking the top {rc['top_k']} trials with fresh training seeds "
                f"{recheck_seeds(rc['seeds'])}",
                file=log,
            )
            run_recheck(study, objective, top_k=rc["top_k"], seeds=rc["seeds"],
                        executor=executor, workdir=ex_cfg.workdir,
                        time_limit=ex_cfg.trial_timeout)
    finally:
        executor.shutdown()
    if hasattr(plain, "sample_answers") and ex_cfg.workdir is not None:
        _sample_answers(study, plain, ex_cfg.workdir, show_progress, log)
    return study


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
