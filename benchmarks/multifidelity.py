"""Multi-fidelity schedulers against full-fidelity optimizers at equal total compute.

Every contender gets the same compute budget, counted in the task's resource (epochs of the
partial_fit MLP, training steps of LoRA): ``--budget`` full-fidelity trials' worth. A
full-fidelity contender (``tpe``, ``bo``, ``random``) spends it on ``--budget`` complete
trials; a multi-fidelity one (ASHA, Hyperband, TPE + Hyperband = BOHB-style, BO-GP + ASHA) on
more trials, most of them stopped early; Optuna's TPESampler + HyperbandPruner is the peer,
run through Optuna's own ``study.optimize`` loop. The anytime curve of a run is the best
full-fidelity value (only COMPLETE trials count: a pruned trial's low-fidelity value is never
a result) against the compute spent so far.

    python benchmarks/multifidelity.py --suite ml --seeds 5 --budget 20
    python benchmarks/multifidelity.py --suite lora --seeds 1 --budget 4 --contenders tpe,tpe+asha

Writes ``benchmarks/results/multifidelity_<suite>.json`` (every trial of every run) and
``multifidelity_<suite>.png`` (mean anytime curves), and prints the summary table that
docs/multifidelity.md quotes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per run: runs go in parallel instead

#: name -> (optimizer, scheduler name or None)
CONTENDERS: dict[str, tuple[str, str | None]] = {
    "random": ("random", None),
    "tpe": ("tpe", None),
    "bo": ("bo", None),
    "random+asha": ("random", "asha"),
    "random+hyperband": ("random", "hyperband"),
    "tpe+hyperband": ("tpe", "hyperband"),  # BOHB-style: TPE proposes, Hyperband allocates
    "bo+asha": ("bo", "asha"),
    "optuna-tpe+hyperband": ("optuna", "hyperband"),
}


def _task(suite: str) -> dict[str, Any]:
    """The objective, its space and metric, the full fidelity R and the first rung."""
    if suite == "ml":
        from llmhpo.bench.curve_tasks import PartialFitTask

        t = PartialFitTask("digits", max_epochs=27)
        return {"objective": t, "space": t.space(), "metric": "val_error", "R": 27, "r0": 1,
                "unit": "epochs", "eta": 3}
    if suite == "lora":
        from llmhpo.bench.suites import LORA_TASK_CONFIG
        from llmhpo.objectives.registry import build_objective

        cfg = json.loads(json.dumps(LORA_TASK_CONFIG))
        # scaled to a shared 2-core CPU: 8 steps of 4 sequences, curve and val_loss on the
        # same 16 validation records (so a COMPLETE trial's value is its curve's last point)
        cfg["train"].update(steps=8, eval_every=2, warmup_steps=0, threads=1, batch_size=4,
                            max_seq_len=96)
        cfg["eval"].update(curve_val_size=16, val_size=16, test_size=0)
        cfg["artifacts"] = {"save_adapters": False}
        spec = build_objective(cfg)
        return {"objective": spec.objective, "space": spec.space, "metric": "val_loss", "R": 8,
                "r0": 2, "unit": "steps", "eta": 3}
    raise SystemExit(f"unknown suite {suite!r}")


def _scheduler(name: str | None, task: dict[str, Any]) -> dict[str, Any] | None:
    if name is None:
        return None
    return {"name": name, "min_resource": task["r0"], "max_resource": task["R"],
            "reduction_factor": task["eta"]}


def run_ours(name: str, seed: int, budget: int, task: dict[str, Any]) -> list[dict]:
    """One run of an llmhpo optimizer (+ scheduler) to ``budget * R`` compute."""
    from llmhpo.bench.peers import initial_design_size
    from llmhpo.study import create_study

    opt, sched = CONTENDERS[name]
    n0 = initial_design_size(budget)
    kw = {"bo": {"n_init": n0}, "tpe": {"n_startup_trials": n0}}.get(opt, {})
    study = create_study(task["space"], optimizer=opt, optimizer_kwargs=kw, seed=seed,
                         metric=task["metric"], study_name=f"{name}-{seed}")
    study.optimize(task["objective"], compute_budget=budget * task["R"],
                   scheduler=_scheduler(sched, task))
    return [{"number": t.number, "state": t.state.value, "value": t.value,
             "fidelity": max(t.intermediate) if t.intermediate else None,
             "wall_time": t.metrics.get("wall_time")} for t in study.trials]


def run_optuna(name: str, seed: int, budget: int, task: dict[str, Any]) -> list[dict]:
    """Optuna's TPESampler + HyperbandPruner through its own loop, to the same compute."""
    import optuna

    from llmhpo.bench.peers import initial_design_size

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    R, space = task["R"], task["space"]
    dists = space.optuna_distributions()
    pruner = optuna.pruners.HyperbandPruner(min_resource=task["r0"], max_resource=R,
                                            reduction_factor=task["eta"])
    sampler = optuna.samplers.TPESampler(seed=seed,
                                         n_startup_trials=initial_design_size(budget))
    study = optuna.create_study(sampler=sampler, pruner=pruner)
    spent = [0.0]

    class Ctx:
        def __init__(self, trial: Any) -> None:
            self.trial, self.number, self.workdir = trial, trial.number, None

        def time_left(self) -> float:
            return math.inf

        def report(self, step: int, metrics: dict) -> None:
            self.trial.report(metrics[task["metric"]], step)

        def should_stop(self) -> bool:
            return self.trial.should_prune()

    def objective(trial: Any) -> float:
        params = {n: trial._suggest(n, d) for n, d in dists.items()}
        ctx = Ctx(trial)
        try:
            out = task["objective"](params, ctx)
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # our objectives raise TrialPruned
            if type(exc).__name__ == "TrialPruned":
                raise optuna.TrialPruned() from exc
            raise
        return float(out[task["metric"]])

    def stop(study: Any, trial: Any) -> None:
        spent[0] += max(trial.intermediate_values, default=R)
        if spent[0] >= budget * R:
            study.stop()

    study.optimize(objective, callbacks=[stop], catch=(Exception,))
    return [{"number": t.number, "state": {"COMPLETE": "complete", "PRUNED": "pruned"}.get(
                t.state.name, "failed"),
             "value": t.value if t.state.name == "COMPLETE" else (
                 t.intermediate_values[t.last_step] if t.last_step is not None else None),
             "fidelity": t.last_step, "wall_time": (t.duration.total_seconds()
                                                    if t.duration else None)}
            for t in study.trials]


def anytime(trials: list[dict], R: int, grid: np.ndarray) -> np.ndarray:
    """Best COMPLETE value after each amount of compute in ``grid`` (NaN before the first)."""
    spent, best, pts = 0.0, math.inf, []
    for t in sorted(trials, key=lambda t: t["number"]):
        spent += t["fidelity"] if t["fidelity"] is not None else R
        if t["state"] == "complete" and t["value"] is not None:
            best = min(best, t["value"])
        pts.append((spent, best))
    out = np.full(len(grid), np.nan)
    for i, g in enumerate(grid):
        done = [b for s, b in pts if s <= g + 1e-9]
        if done and math.isfinite(done[-1]):
            out[i] = done[-1]
    return out


def _one(args: tuple[str, int, int, str]) -> tuple[str, int, list[dict], float]:
    name, seed, budget, suite = args
    task = _task(suite)
    t0 = time.perf_counter()
    fn = run_optuna if CONTENDERS[name][0] == "optuna" else run_ours
    trials = fn(name, seed, budget, task)
    return name, seed, trials, time.perf_counter() - t0


def summarize(payload: dict[str, Any], out: Path) -> dict[str, dict[str, Any]]:
    """Summary per contender (means over seeds; ``None`` where some seed had no COMPLETE
    trial yet), printed as a table; writes ``out`` (JSON) and its ``.png`` (anytime curves)."""
    R, total, seeds = payload["R"], payload["compute_budget"], payload["seeds"]
    grid = np.linspace(0, total, 41)
    summary: dict[str, dict[str, Any]] = {}
    for name, runs in payload["runs"].items():
        curves = np.array([anytime(r["trials"], R, grid) for r in runs])
        mean = curves.mean(0)  # NaN where a seed has no complete trial yet

        def at(frac: float, mean: np.ndarray = mean) -> float | None:
            v = mean[int(round(frac * (len(grid) - 1)))]
            return float(v) if np.isfinite(v) else None

        final = curves[:, -1]
        summary[name] = {
            "best_at_25%": at(0.25), "best_at_50%": at(0.5), "best_at_100%": at(1.0),
            "best_at_100%_sd": float(np.std(final)),
            "best_at_100%_median": float(np.median(final)),
            "n_trials": float(np.mean([len(r["trials"]) for r in runs])),
            "n_complete": float(np.mean([sum(t["state"] == "complete" for t in r["trials"])
                                         for r in runs])),
            "seconds": float(np.mean([r["seconds"] for r in runs])),
            "curve": [float(v) if np.isfinite(v) else None for v in mean],
        }
    payload = {**payload, "grid": grid.tolist(), "summary": summary}
    out.write_text(json.dumps(payload, indent=1))
    print(f"{payload['suite']}: {seeds} seeds, compute budget {total} {payload['unit']} "
          f"({payload['budget_full_trials']} full trials of {R}); wall {payload['wall_s']:.0f} s")
    print(f"{'contender':24} {'best@25%':>9} {'best@50%':>9} {'best@100%':>10} {'sd':>7} "
          f"{'median':>7} {'trials':>7} {'complete':>8} {'s/run':>7}")

    def f(v: Any) -> str:
        return "-" if v is None or not math.isfinite(v) else f"{v:.4f}"

    for name, s in summary.items():
        print(f"{name:24} {f(s['best_at_25%']):>9} {f(s['best_at_50%']):>9} "
              f"{f(s['best_at_100%']):>10} {f(s['best_at_100%_sd']):>7} "
              f"{f(s['best_at_100%_median']):>7} {s['n_trials']:7.1f} "
              f"{s['n_complete']:8.1f} {s['seconds']:7.1f}")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return summary
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, s in summary.items():
        ys = [np.nan if v is None else v for v in s["curve"]]
        ax.plot(grid / R, ys, label=name,
                ls="--" if CONTENDERS.get(name, ("", None))[1] is None else "-")
    ax.set_yscale("log")
    ax.set_xlabel(f"compute spent (full-fidelity trials of {R} {payload['unit']})")
    ax.set_ylabel(f"best full-fidelity value, mean of {seeds} seeds")
    ax.set_title(f"{payload['suite']}: equal compute; a line starts once every seed has a "
                 "complete trial", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.savefig(out.with_suffix(".png"), dpi=110)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=("ml", "lora"), default="ml")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=20, help="full-fidelity trials' worth")
    ap.add_argument("--contenders", default=",".join(n for n in CONTENDERS if n != "bo+asha"))
    ap.add_argument("--workers", type=int, default=1, help="runs in parallel (processes)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--summarize", metavar="JSON", help="only re-summarize a results file")
    args = ap.parse_args(argv)
    if args.summarize:
        path = Path(args.summarize)
        summarize(json.loads(path.read_text()), Path(args.out) if args.out else path)
        return 0
    names = args.contenders.split(",")
    jobs = [(n, s, args.budget, args.suite) for s in range(args.seeds) for n in names]
    t0 = time.perf_counter()
    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_one, jobs, chunksize=1)
    else:
        results = [_one(j) for j in jobs]
    R = _task("ml")["R"] if args.suite == "ml" else 8
    runs: dict[str, list[dict]] = {}
    for name, seed, trials, secs in results:
        runs.setdefault(name, []).append({"seed": seed, "seconds": secs, "trials": trials})
    out = Path(args.out) if args.out else RESULTS / f"multifidelity_{args.suite}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"suite": args.suite, "seeds": args.seeds, "budget_full_trials": args.budget,
               "R": R, "unit": "epochs" if args.suite == "ml" else "steps",
               "compute_budget": args.budget * R, "wall_s": time.perf_counter() - t0,
               "runs": runs}
    summarize(payload, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
