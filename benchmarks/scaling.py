"""Throughput of N parallel workers on a sleep objective: does the study scale with N?

Each configuration runs one study (random search, a SQLite file, as a user would) whose
trials each sleep ``--sleep`` seconds, with N = 1, 2, 4 workers, through

* ``process``: one driver, the process pool with N workers;
* ``ray``: one driver, the Ray executor with N actors on a local Ray instance (N logical CPUs);
* ``drivers``: N driver processes with one inline worker each, sharing the study through the
  SQLite file (the several-machines setup, on one machine).

Throughput is measured on the stored trials: finished trials divided by the span from the first
trial's start to the last trial's end (steady state: pool and driver start-up excluded; the
wall time including start-up is reported too). The target is ``>= 0.9 * N`` times the
throughput of one worker. A sleep objective uses no CPU, so N may exceed the cores; this
measures the study's own overhead (claim lock, storage writes, dispatch), not compute scaling.

Usage::

    python benchmarks/scaling.py                        # all kinds, N = 1 2 4
    python benchmarks/scaling.py --kinds process --workers 1 2 4 8 --trials-per-worker 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


def sleep_objective(params: dict[str, Any], ctx: Any) -> float:
    """Sleep ``LLMHPO_BENCH_SLEEP`` seconds, return x."""
    time.sleep(float(os.environ.get("LLMHPO_BENCH_SLEEP", "0.5")))
    return float(params["x"])


def _throughput(url: str, name: str) -> tuple[float, int]:
    from llmhpo import load_study
    from llmhpo.study import TrialState

    trials = [t for t in load_study(name, url).trials if t.state is TrialState.COMPLETE]
    start = min(t.datetime_start for t in trials)
    end = max(t.datetime_complete for t in trials)
    return len(trials) / (end - start).total_seconds(), len(trials)


def run_one(kind: str, n: int, budget: int, workdir: Path) -> dict[str, Any]:
    from llmhpo import create_study

    url = f"sqlite:///{workdir / f'{kind}-{n}.db'}"
    name = f"{kind}-{n}"
    study = create_study(SPACE, optimizer="random", storage=url, study_name=name, budget=budget)
    t0 = time.perf_counter()
    cpu0 = _driver_cpu(kind)
    if kind == "process":
        study.optimize(sleep_objective, n_workers=n, executor="process")
    elif kind == "ray":
        from llmhpo.executors.ray import RayExecutor

        ex = RayExecutor(n, num_cpus_per_trial=1)
        try:
            study.optimize(sleep_objective, executor=ex)
        finally:
            ex.shutdown()
    elif kind == "drivers":
        sleep = os.environ["LLMHPO_BENCH_SLEEP"]
        cmd = [sys.executable, __file__, "--driver", url, name, str(budget), "--sleep", sleep]
        procs = [subprocess.Popen(cmd) for _ in range(n)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise RuntimeError(f"a driver failed: exit codes {codes}")
    else:
        raise ValueError(f"unknown kind {kind!r}")
    wall = time.perf_counter() - t0
    cpu = _driver_cpu(kind) - cpu0
    rate, n_done = _throughput(url, name)
    return {
        "kind": kind, "workers": n, "trials": n_done, "trials_per_s": rate, "wall_s": wall,
        # the driver(s)' own CPU time per trial (bookkeeping: claims, storage, dispatch);
        # for `drivers` it includes each driver process's start-up (imports)
        "driver_cpu_ms_per_trial": 1000 * cpu / n_done,
    }


def _driver_cpu(kind: str) -> float:
    """CPU seconds of the driver: this process, or (``drivers``) the finished driver processes
    (the process pool's workers are children too, so they are not counted there)."""
    import resource

    who = resource.RUSAGE_CHILDREN if kind == "drivers" else resource.RUSAGE_SELF
    use = resource.getrusage(who)
    return use.ru_utime + use.ru_stime


def _driver(url: str, name: str, budget: int) -> None:
    from llmhpo import load_study

    load_study(name, url).optimize(sleep_objective, budget=budget, n_workers=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", default=["process", "ray", "drivers"])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2, 4])
    ap.add_argument("--trials-per-worker", type=int, default=12)
    ap.add_argument("--sleep", type=float, default=0.5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "scaling.json"))
    ap.add_argument("--driver", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ["LLMHPO_BENCH_SLEEP"] = str(args.sleep)
    if args.driver:
        _driver(args.driver[0], args.driver[1], int(args.driver[2]))
        return 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            if kind == "ray":  # started only now: its idle daemons would slow the other runs
                import ray

                ray.init(num_cpus=max(args.workers), include_dashboard=False,
                         log_to_driver=False)
            base = None
            for n in args.workers:
                row = run_one(kind, n, args.trials_per_worker * n, Path(tmp))
                base = row["trials_per_s"] if n == 1 else base
                if base is not None:
                    row["speedup"] = row["trials_per_s"] / base
                    row["target_0.9N"] = 0.9 * n
                    row["meets_target"] = row["speedup"] >= 0.9 * n
                row["load_average_1min"] = os.getloadavg()[0]
                rows.append(row)
                print(
                    f"{kind:8s} N={n}: {row['trials']} trials, {row['trials_per_s']:.2f} "
                    f"trials/s, speedup {row.get('speedup', float('nan')):.2f} "
                    f"(target {0.9 * n:.1f}), wall {row['wall_s']:.1f} s, driver CPU "
                    f"{row['driver_cpu_ms_per_trial']:.0f} ms/trial",
                    flush=True,
                )
            if kind == "ray":
                ray.shutdown()
    result = {
        "sleep_s": args.sleep,
        "trials_per_worker": args.trials_per_worker,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_at_end": os.getloadavg(),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
