"""Overhead of one suggestion: the wall time of ``ask(1)`` with 100 observed trials.

Every registered optimizer is timed on Davouse & Talbi 2025's 5-D LoRA space (``kiwy2025_space``)
and
compared with Optuna's own ``TPESampler`` asking on the *same* history (the baseline, run side
by side). Two kinds of history:

* ``warm``: the same 100 uniform random points for every optimizer, told with
  ``tell_not_asked`` (a warm start); optimizers that cannot learn from them are skipped.
* ``run``: the optimizer's own first 100 ask/tell steps (its steady state; for MADS this is the
  cost of one exchange with the running NOMAD process, for SOO that of its tree).

The loss is a smooth bowl in the unit encoding, ``sum_i w_i (x_i - c_i)^2``. Each figure is the
median over ``--repeats`` fresh optimizers (seeds 0, 1, ...). Usage::

    python benchmarks/overhead.py                       # both histories, every optimizer
    python benchmarks/overhead.py --history warm --repeats 5 --optimizers tpe mads
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from llmhpo.exceptions import TellNotAskedNotSupportedError
from llmhpo.optimizers import OPTIMIZERS, BaseOptimizer, make_optimizer
from llmhpo.space import SearchSpace
from llmhpo.space.presets import kiwy2025_space

N_OBSERVED = 100
_CENTER = np.array([0.35, 0.6, 0.25, 0.4, 0.7])
_WEIGHTS = np.array([3.0, 1.0, 0.5, 0.2, 0.1])

# Parameters that make the optimizers comparable at 100 trials (others keep their defaults).
_KWARGS: dict[str, dict[str, Any]] = {
    "lhs": {"n_points": 200},
}


def loss(x: np.ndarray) -> float:
    """The synthetic loss of an encoded point."""
    return float(np.sum(_WEIGHTS * (np.asarray(x) - _CENTER) ** 2))


def available(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The optimizers whose module imports, and why the others were skipped."""
    ok, skipped = [], {}
    for name in names:
        module = OPTIMIZERS[name].split(":")[0]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            skipped[name] = f"not importable ({exc})"
            continue
        ok.append(name)
    return ok, skipped


def warm_history(space: SearchSpace) -> list[tuple[dict[str, Any], float]]:
    """100 uniform random points of the space and their losses (fixed seed)."""
    rng = np.random.default_rng(12345)
    out = []
    for x in rng.random((N_OBSERVED, space.dim)):
        params = space.decode(x)
        out.append((params, loss(space.encode(params))))
    return out


def own_history(
    opt: BaseOptimizer,
) -> tuple[list[tuple[dict[str, Any], float]], float, float]:
    """Run ``opt`` for 100 ask/tell steps, then ask the 101st point.

    Returns the (params, loss) pairs told, the wall time of the 101st ``ask`` and that of the
    100th ``tell`` plus the 101st ``ask`` (an optimizer may do its work in either; MADS's child
    process computes while the caller goes from one to the other).
    """
    out: list[tuple[dict[str, Any], float]] = []
    ask_time = step_time = float("nan")
    while len(out) < N_OBSERVED:
        sugg = opt.ask(1)
        if not sugg:
            break
        value = loss(sugg[0].x)
        t0 = time.perf_counter()
        opt.tell(sugg[0], value)
        out.append((dict(sugg[0].params), value))
        if len(out) == N_OBSERVED:
            t1 = time.perf_counter()
            if not opt.ask(1):
                break
            t2 = time.perf_counter()
            ask_time, step_time = t2 - t1, t2 - t0
    return out, ask_time, step_time


def time_ask(opt: BaseOptimizer) -> float:
    t0 = time.perf_counter()
    sugg = opt.ask(1)
    elapsed = time.perf_counter() - t0
    if not sugg:
        raise RuntimeError("the optimizer returned no point")
    return elapsed


def optuna_tpe_ask(
    space: SearchSpace, history: list[tuple[dict[str, Any], float]], seed: int
) -> float:
    """Wall time of Optuna's own TPESampler ``study.ask`` on ``history`` (the baseline)."""
    import optuna

    dists = {
        k: d for k, d in space.optuna_distributions().items() if k in {v.name for v in space.free}
    }
    storage = optuna.storages.InMemoryStorage()
    storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], study_name="baseline")
    study = optuna.Study(
        study_name="baseline", storage=storage, sampler=optuna.samplers.TPESampler(seed=seed)
    )
    for params, value in history:
        study.add_trial(
            optuna.trial.create_trial(
                params={k: params[k] for k in dists}, distributions=dists, value=value
            )
        )
    t0 = time.perf_counter()
    study.ask(dists)
    return time.perf_counter() - t0


def measure(
    name: str, history_kind: str, repeats: int, space: SearchSpace
) -> tuple[float, float, float] | str:
    """Median seconds of (ask, Optuna's ask, tell + ask) or the reason it was skipped."""
    times, base, steps = [], [], []
    for seed in range(repeats):
        opt = make_optimizer(name, space, seed=seed, **_KWARGS.get(name, {}))
        try:
            if history_kind == "warm":
                history = warm_history(space)
                try:
                    for params, value in history:
                        opt.tell_not_asked(params, value)
                except TellNotAskedNotSupportedError:
                    return "no warm start"
                times.append(time_ask(opt))
            else:
                history, ask_time, step = own_history(opt)
                if len(history) < N_OBSERVED or step != step:
                    return f"stopped after {len(history)} trials"
                times.append(ask_time)
                steps.append(step)
        finally:
            close: Callable[[], None] | None = getattr(opt, "close", None)
            if close is not None:
                close()
        base.append(optuna_tpe_ask(space, history, seed))
    step = statistics.median(steps) if steps else float("nan")
    return statistics.median(times), statistics.median(base), step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS), metavar="NAME")
    parser.add_argument("--history", choices=["warm", "run", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.optimizers) - set(OPTIMIZERS))
    if unknown:
        parser.error(f"unknown optimizer(s) {unknown}, expected some of {sorted(OPTIMIZERS)}")

    warnings.simplefilter("ignore")  # a benchmark script: keep the table readable
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the script's own baseline studies
    space = kiwy2025_space()
    names, skipped = available(args.optimizers)
    kinds = ["warm", "run"] if args.history == "both" else [args.history]
    print(
        f"space: kiwy2025 ({space.dim}-D), {N_OBSERVED} observed trials, "
        f"median of {args.repeats} repeats"
    )
    header = (
        f"{'optimizer':<10} {'history':<8} {'ask [ms]':>10} {'Optuna TPE [ms]':>16} "
        f"{'ratio':>8} {'tell+ask [ms]':>14}"
    )
    print(header)
    print("-" * len(header))
    for kind in kinds:
        for name in names:
            result = measure(name, kind, args.repeats, space)
            if isinstance(result, str):
                print(f"{name:<10} {kind:<8} {'-':>10} {'-':>16} {'-':>8} {'-':>14}  ({result})")
                continue
            t, b, step = result
            step_txt = "-" if step != step else f"{step * 1e3:.1f}"
            print(
                f"{name:<10} {kind:<8} {t * 1e3:>10.1f} {b * 1e3:>16.1f} {t / b:>8.2f} "
                f"{step_txt:>14}"
            )
            sys.stdout.flush()
    for name, why in skipped.items():
        print(f"{name:<10} skipped: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
