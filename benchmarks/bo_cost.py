"""Cost per suggestion of our BO-GP against Optuna's GPSampler, and where our time goes.

Runs each optimizer sequentially to ``--trials`` on a synthetic task, timing every ask
(``ask`` only, the objective is free), and profiles our BO's asks into model fitting
(``fit_gpytorch_mll``), acquisition optimization (``optimize_acqf``) and the rest (Python
overhead: encoding, deduplication, BoTorch object construction). One BLAS/torch thread, as
in ``llmhpo bench``'s workers.

    OMP_NUM_THREADS=1 python benchmarks/bo_cost.py --tasks hartmann6,branin --trials 50 --seeds 3

Contenders: ``bo`` (default: hyperparameters re-optimized when the successes grew by a fifth),
``bo-cold`` (``refit_schedule=False``: a full fit every step, the behaviour before) and
``optuna-gp`` (Optuna's GPSampler, default settings).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path


def _run(contender: str, task: str, trials: int, seed: int, **extra: object) -> list[float]:
    from llmhpo.bench.peers import make_contender
    from llmhpo.bench.suites import get_task

    t = get_task(task)
    run = make_contender(contender, t.space, seed, trials)
    if extra and hasattr(run, "opt"):
        for k, v in extra.items():
            setattr(run.opt, k, v)
    times, best = [], float("inf")
    for _ in range(trials):
        # CPU time of this process (one thread): on a shared, loaded machine wall time
        # measures the other users as much as the optimizer
        t0 = time.process_time()
        params = run.ask()
        times.append(time.process_time() - t0)
        value = float(t.objective(params))
        best = min(best, value)
        run.tell(value)
    times.append(best)  # last entry: the best value found
    return times


def _profile_split(task: str, trials: int, seed: int) -> dict[str, float]:
    prof = cProfile.Profile()
    prof.enable()
    _run("bo", task, trials, seed, refit_schedule=False)
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[3] for k, v in stats.stats.items() if k[2] == "_ask")  # type: ignore[attr-defined]
    fit = sum(v[3] for k, v in stats.stats.items()  # type: ignore[attr-defined]
              if k[2] == "fit_gpytorch_mll")
    acq = sum(v[3] for k, v in stats.stats.items()  # type: ignore[attr-defined]
              if k[2] == "optimize_acqf")
    return {"ask_total_s": total, "fit_s": fit, "optimize_acqf_s": acq,
            "other_s": total - fit - acq}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="hartmann6,branin")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/bo_cost.json")
    ap.add_argument("--profile", action="store_true", help="also profile bo-cold's asks")
    ap.add_argument("--contenders", default="bo,bo-cold,optuna-gp")
    args = ap.parse_args()
    result: dict[str, object] = {"trials": args.trials, "seeds": args.seeds, "runs": [],
                                 "time": "CPU seconds of ask (time.process_time)"}
    runs: list[dict[str, object]] = result["runs"]  # type: ignore[assignment]
    for task in args.tasks.split(","):
        for seed in range(args.seeds):
            for name, contender, extra in (("bo", "bo", {}),
                                           ("bo-cold", "bo", {"refit_schedule": False}),
                                           ("optuna-gp", "optuna-gp", {})):
                if name not in args.contenders.split(","):
                    continue
                r = _run(contender, task, args.trials, seed, **extra)
                asks, best = r[:-1], r[-1]
                row: dict[str, object] = {"task": task, "seed": seed, "contender": name,
                                          "best": best, "ask_s_total": sum(asks)}
                for n in (50, 100):
                    if n <= args.trials:
                        row[f"ask_s_at_{n}"] = sum(asks[n - 5:n]) / 5
                runs.append(row)
                print(json.dumps(row), flush=True)
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                Path(args.out).write_text(json.dumps(result, indent=2))
    if args.profile:
        result["bo_cold_profile"] = _profile_split(args.tasks.split(",")[0],
                                                   min(args.trials, 50), 0)
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
