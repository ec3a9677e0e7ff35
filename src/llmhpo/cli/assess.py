"""``llmhpo assess``: re-evaluate the best trials on further metrics, list the Pareto-optimal.

Usage::

    llmhpo assess run.yaml --top-k 10 --metrics val_loss,test_accuracy,mmlu/acc --tasks mmlu
    llmhpo assess study.db --study-name lora --metrics val_loss,test_accuracy  # stored only

With a run configuration (the YAML given to ``llmhpo run``) the objective is rebuilt from its
``objective`` section and the candidates are evaluated again; with a storage alone (a SQLite
file or database URL) only the metrics stored with the trials are compared.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from llmhpo.config import RunConfig
from llmhpo.exceptions import InvalidConfigError

__all__ = ["register", "load_objective"]

def load_objective(spec: str | None, cfg: RunConfig | None) -> Any | None:
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
    if cfg is not None:
        from llmhpo.objectives.registry import build_objective

        return build_objective(cfg.objective).objective
    return None


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _run(args: argparse.Namespace) -> int:
    from llmhpo.assembly import open_study
    from llmhpo.evaluation.assess import assess
    from llmhpo.reporting.table import test_metric_names

    study, cfg = open_study(args.target, args.study_name)
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
        workdir = cfg.execution.workdir
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
    p.add_argument("--study-name", dest="study_name",
                   help="study name (default: the config's, or the only one stored)")
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
