"""``llmhpo run [CONFIG]``: run (or resume) a study described by a YAML config."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmhpo.config import RunConfig, default_config_path, load_config
from llmhpo.executors import EXECUTORS

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
    p.add_argument("--optimizer", help="optimizer name (overrides the config; a config without "
                   "one uses auto)")
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


def run_config(
    cfg: RunConfig, *, show_progress: bool = True, out: Any = None,
    switch_optimizer: bool = False,
) -> Any:
    """Run the study of ``cfg`` (:func:`llmhpo.assembly.run`) and print its results; returns
    the study."""
    from llmhpo import assembly

    a = assembly.assemble(cfg, switch_optimizer=switch_optimizer, preflight=True)
    study = assembly.run(a, show_progress=show_progress)
    _print_results(study, cfg, assembly.has_reference_rows(a), out or sys.stdout)
    return study


def _print_results(study: Any, cfg: RunConfig, has_references: bool, out: Any) -> None:
    """The summary (and the report directory) of a study with reference rows or a ``report``
    key; else the best trial and the boundary warnings."""
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
