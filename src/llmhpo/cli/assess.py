"""``llmhpo assess``: re-evaluate the best trials on further metrics, list the Pareto-optimal.

Usage::

    llmhpo assess run.yaml --top-k 10 --metrics val_loss,test_accuracy,mmlu/acc --tasks mmlu
    llmhpo assess study.db --study lora --metrics val_loss,test_accuracy   # stored metrics only

With a run configuration (the YAML given to ``llmhpo run``) the objective is rebuilt from its
``objective`` section and the candidates are evaluated again; with a storage alone (a SQLite
file or database URL) only the metrics stored with the trials are compared.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError, StudyNotFoundError

__all__ = ["register", "open_target", "load_objective"]

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def _read_config(path: Path) -> dict[str, Any]:
    # Minimal reader of the run configuration: only the keys assess/report need (storage,
    # study name, objective). TODO(lead): switch to llmhpo.config's loader once it exists.
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidConfigError(f"{path}: a run configuration must be a mapping, got {data!r}")
    return data


def _storage_and_name(cfg: dict[str, Any], path: Path) -> tuple[str | None, str | None]:
    study = cfg.get("study")
    storage = cfg.get("storage")
    name = cfg.get("study_name") or cfg.get("name")
    if isinstance(study, dict):
        storage = storage or study.get("storage")
        name = name or study.get("name") or study.get("study_name")
    elif isinstance(study, str):
        name = name or study
    if isinstance(storage, str) and "://" not in storage and not Path(storage).is_absolute():
        storage = str((path.parent / storage).resolve()) if not Path(storage).exists() else storage
    return storage, name


def open_target(target: str, study_name: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """Open the study named by a run configuration file or a storage (file path or URL).

    Returns:
        ``(study, config)``; ``config`` is ``None`` when ``target`` is a storage.
    """
    from llmhpo.study import load_study
    from llmhpo.study.storage import open_storage

    path = Path(target)
    cfg = None
    storage: str | None = target
    if path.suffix.lower() in _CONFIG_SUFFIXES:
        if not path.exists():
            raise InvalidConfigError(f"run configuration {target!r} does not exist")
        cfg = _read_config(path)
        storage, cfg_name = _storage_and_name(cfg, path)
        study_name = study_name or cfg_name
        if not storage:
            raise InvalidConfigError(
                f"{target}: the configuration names no storage, so its study was kept in memory "
                "and is gone; set 'storage: study.db' to keep studies"
            )
    elif "://" not in target and not path.exists():
        raise InvalidConfigError(
            f"{target!r} is neither a run configuration (.yaml) nor an existing storage file"
        )
    if study_name is None:
        names = [s.study_name for s in open_storage(storage, create=False).get_all_studies()]
        if len(names) != 1:
            raise StudyNotFoundError(
                f"{storage!r} holds {len(names)} studies {names}; choose one with --study"
            )
        study_name = names[0]
    return load_study(study_name, storage), cfg  # type: ignore[arg-type]


def load_objective(spec: str | None, cfg: dict[str, Any] | None) -> Any | None:
    """The objective from ``--objective MODULE:ATTR`` or the config's ``objective`` section."""
    if spec:
        module, _, attr = spec.partition(":")
        if not module or not attr:
            raise InvalidConfigError(f"--objective must be MODULE:ATTR, got {spec!r}")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise InvalidConfigError(f"cannot load objective {spec!r}: {exc}") from None
        return obj() if isinstance(obj, type) else obj
    if cfg is not None and cfg.get("objective") is not None:
        from llmhpo.objectives.registry import build_objective

        return build_objective(cfg["objective"])
    return None


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _run(args: argparse.Namespace) -> int:
    from llmhpo.reporting.assess import assess
    from llmhpo.reporting.table import test_metric_names

    study, cfg = open_target(args.target, args.study)
    objective = None if args.stored else load_objective(args.objective, cfg)
    metrics = _csv(args.metrics)
    if not metrics:
        metrics = [study.metric or "value"] + test_metric_names(study, with_direction=True)
    obj_metric = study.metric or "value"
    metrics = [f"{m}:{'min' if study.direction == 'minimize' else 'max'}"
               if m == obj_metric else m for m in metrics]
    tasks = _csv(args.tasks)
    if objective is None and tasks:
        raise InvalidConfigError(
            "--tasks needs the objective to evaluate them: pass the run configuration "
            "(or --objective MODULE:ATTR) instead of a storage"
        )
    workdir = args.workdir
    if workdir is None and cfg is not None:  # where `llmhpo run` saved the trials' adapters
        workdir = (cfg.get("execution") or {}).get("workdir")
    result = assess(
        study, objective, metrics=metrics, top_k=args.top_k, tasks=tasks,
        include_references=not args.no_references, workdir=workdir,
    )
    source = "stored metrics" if objective is None else "re-evaluated"
    print(f"Assessment of the top {args.top_k} trials of {study.study_name!r} ({source}); "
          "* = Pareto optimal")
    print(result.table(args.format))
    print(result.summary())
    for r in result.rows:
        if r.state != "complete":
            print(f"{r.name}: assessment {r.state}: {r.error}")
    present = {m for r in result.rows if r.state == "complete" for m in r.metrics} | {obj_metric}
    missing = [m for m in result.metrics if m not in present]
    if missing:
        hint = (
            "pass the run configuration (or --objective MODULE:ATTR) to evaluate them"
            if objective is None
            else f"the objective returned {sorted(present)}"
        )
        raise InvalidConfigError(
            f"metric(s) {missing} are in no assessed row of {study.study_name!r}; {hint}"
        )
    return 0


def register(subparsers: Any) -> None:
    """Add the ``assess`` subcommand."""
    p = subparsers.add_parser(
        "assess",
        help="re-evaluate the best trials on further metrics and list the Pareto-optimal ones",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("target", metavar="CONFIG_OR_STORAGE",
                   help="the run configuration YAML, or a storage (study.db, sqlite:///...)")
    p.add_argument("--study", help="study name (default: the config's, or the only one stored)")
    p.add_argument("--top-k", type=int, default=10, help="how many best trials (default 10)")
    p.add_argument("--metrics",
                   help="comma-separated metrics to compare, optionally with :min/:max "
                   "(default: the objective and the test metrics)")
    p.add_argument("--tasks", help="comma-separated lm-eval tasks for the objective's assess()")
    p.add_argument("--objective", metavar="MODULE:ATTR",
                   help="the objective to evaluate with, instead of the config's")
    p.add_argument("--workdir", help="the study's work directory with the trial_<n>/adapter dirs "
                   "(default: the config's execution.workdir)")
    p.add_argument("--stored", action="store_true",
                   help="compare the stored metrics only; evaluate nothing")
    p.add_argument("--no-references", action="store_true",
                   help="leave out the reference rows (base model, default hyperparameters)")
    p.add_argument("--format", choices=("markdown", "plain"), default="plain")
    p.set_defaults(func=_run)
