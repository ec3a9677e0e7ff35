"""``llmhpo bench``: our optimizers against Optuna on the synthetic, ML and LLM suites."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.validation import check_output_dir

__all__ = ["register"]

QUICK_CONTENDERS = [
    "random", "centre", "lhs", "soo", "bamsoo", "mads", "tpe", "auto", "optuna-tpe",
]


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark the optimizers against Optuna's samplers",
        description="Run every (task, contender, seed) once to the largest budget, append "
        "each run to runs.csv (resumable), then write summary.md and convergence plots.",
    )
    p.add_argument("--suite", default="all",
                   choices=["synthetic", "debiased", "noisy", "ml", "llm", "all"])
    p.add_argument("--budgets", default=None, help="checkpoints, e.g. 10,30,50 (default; "
                   "quick: 10,20); runs go to the largest")
    p.add_argument("--seeds", type=int, default=None, help="seeds per task (default 20; quick 3)")
    p.add_argument("--slow-seeds", type=int, default=None,
                   help="seeds for the slow GP-based contenders (bo, optuna-gp); "
                   "default --seeds")
    p.add_argument("--optimizers", default=None,
                   help="comma-separated contenders (default: all llmhpo optimizers and peers "
                   "but the LLM-based ones: llm, llm-compressed, llm-chat, bo-llm, tpe-llm)")
    p.add_argument("--tasks", default=None, help="comma-separated task names (default: suite)")
    p.add_argument("--out", default="bench/results", help="output directory")
    p.add_argument("--quick", action="store_true",
                   help="CI mode: few tasks, 3 seeds, budgets 10,20, no GP-based contenders")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    p.add_argument("--report-only", action="store_true", help="only rewrite the summary/plots")
    p.set_defaults(func=_main)


def _csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _record_command(path: Any, command: str) -> None:
    """Append ``command`` to the commands that filled this output directory (once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seen = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if command not in seen:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(command + "\n")


def _main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmhpo.bench.peers import SLOW_CONTENDERS, all_contenders, available
    from llmhpo.bench.report import write_report
    from llmhpo.bench.runner import Job, run_benchmark
    from llmhpo.bench.suites import suite_tasks

    try:
        budgets = sorted({int(b) for b in (args.budgets or ("10,20" if args.quick else
                                                            "10,30,50")).split(",")})
    except ValueError:
        raise InvalidConfigError(f"--budgets must be integers like 10,30,50, got "
                                 f"{args.budgets!r}") from None
    if not budgets or budgets[0] < 1:
        raise InvalidConfigError(f"--budgets must be positive, got {args.budgets!r}")
    if not 1 <= args.workers <= 256:
        raise InvalidConfigError(f"--workers: got {args.workers}, expected an integer in "
                                 "[1, 256]")
    if budgets[-1] > 100_000:
        raise InvalidConfigError(f"--budgets: got {budgets[-1]}, expected at most 100000")
    if args.seeds is not None and args.seeds > 10_000:
        raise InvalidConfigError(f"--seeds: got {args.seeds}, expected at most 10000")
    check_output_dir("--out", args.out)
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 20)
    slow_seeds = args.slow_seeds if args.slow_seeds is not None else seeds
    if seeds < 1 or slow_seeds < 0:
        raise InvalidConfigError(f"--seeds: got {seeds}, expected an integer >= 1")
    known = all_contenders()
    contenders = _csv_list(args.optimizers) or (
        [c for c in QUICK_CONTENDERS if c in known] if args.quick else
        all_contenders(opt_in=False))
    bad = [c for c in contenders if c not in known]
    if bad:
        raise InvalidConfigError(f"unknown contender(s) {bad}, expected some of {known}")
    missing = [c for c in contenders if not available(c)]
    if missing:
        print(f"llmhpo bench: note: skipping {', '.join(missing)} (package not installed; "
              "see docs/bench.md)", file=sys.stderr)
        contenders = [c for c in contenders if c not in missing]
    if "random" not in contenders:
        print("llmhpo bench: note: without 'random' the vs-random metrics are left out",
              file=sys.stderr)
    suites = (["synthetic", "debiased", "noisy", "ml", "llm"] if args.suite == "all"
              else [args.suite])
    if args.quick and args.suite == "all":
        suites = ["synthetic", "debiased", "ml"]  # noisy: see docs/bench.md (CI time)
    tasks = _csv_list(args.tasks)
    budget = budgets[-1]
    jobs: list[Job] = []
    for suite in [] if args.report_only else suites:
        names = suite_tasks(suite, tasks, quick=args.quick)
        n_seeds = 3 if suite == "llm" and args.seeds is None else seeds
        for seed in range(n_seeds):
            for task in names:
                for c in contenders:
                    if c in SLOW_CONTENDERS and seed >= min(slow_seeds, n_seeds):
                        continue
                    jobs.append(Job(suite, task, c, seed, budget))
    if not jobs and not args.report_only:
        raise InvalidConfigError(f"no runs selected (suite {args.suite}, tasks {tasks})")
    out = Path(args.out)
    csv_path = out / "runs.csv"
    command = "llmhpo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if not args.report_only:
        _record_command(out / "commands.txt", command)
        t0 = time.perf_counter()
        count = {"n": 0}

        def progress(row: dict[str, Any]) -> None:
            count["n"] += 1
            msg = f"[{count['n']}] {row['task']} {row['contender']} seed {row['seed']}: "
            msg += (f"best {row['final_best']:.4g} in {row['wall_s']:.1f}s"
                    if row["status"] != "error" else f"ERROR {row['error']}")
            print(msg, file=sys.stderr, flush=True)

        done = run_benchmark(jobs, csv_path, checkpoints=budgets, workers=args.workers,
                             on_done=progress)
        print(f"llmhpo bench: {done} new run(s) of {len(jobs)} in "
              f"{time.perf_counter() - t0:.0f}s -> {csv_path}", file=sys.stderr)
    paths = write_report(csv_path, out, budgets)
    for p in paths.values():
        print(p)
    return 0
