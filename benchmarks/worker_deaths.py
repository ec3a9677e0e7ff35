"""Worker deaths in the process pool, counted: a 30-trial study on 2 workers where

* ``idle``: the worker that just finished a trial (now idle) is killed with SIGKILL after each
  of the first 10 trials;
* ``busy``: each trial's first run SIGKILLs its own worker (an infrastructure failure: the
  trial itself is fine).

Prints how many of the 30 trials completed and failed. Run against a source tree to compare
(docs/reliability.md)::

    PYTHONPATH=/tmp/before/src:tests/robust python benchmarks/worker_deaths.py --label before
    PYTHONPATH=src:tests/robust python benchmarks/worker_deaths.py --label after
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

BUDGET = 30


def run(scenario: str, root: Path) -> dict[str, object]:
    from llmhpo.executors import ProcessExecutor
    from llmhpo.objectives.external import PythonObjective
    from llmhpo.space import Float, SearchSpace
    from llmhpo.study import create_study

    space = SearchSpace([Float("x", 0.0, 1.0)])
    study = create_study(space, storage=f"sqlite:///{root / scenario}.db", study_name=scenario,
                         budget=BUDGET, seed=0)
    killed: list[int] = []

    def kill_idle(st: object, trial: object) -> None:
        pid = trial.metrics.get("pid")  # type: ignore[attr-defined]
        if scenario == "idle" and len(killed) < 10 and pid and pid not in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            killed.append(pid)

    if scenario == "idle":
        obj = PythonObjective("robust_objectives:value_and_pid")
    else:
        marks = root / "marks"
        marks.mkdir(exist_ok=True)
        obj = PythonObjective("robust_objectives:killed_once", {"marker_dir": str(marks)})
    t0 = time.perf_counter()
    with ProcessExecutor(2) as ex:
        study.optimize(obj, executor=ex, callbacks=[kill_idle])
    states = Counter(t.state.value for t in study.trials)
    errors = Counter((t.error or "").strip().splitlines()[-1][:60]
                     for t in study.trials if t.error)
    return {"scenario": scenario, "trials": len(study.trials), "states": dict(states),
            "errors": dict(errors), "wall_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "worker_deaths"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("idle", "busy"):
            rows.append(run(scenario, Path(tmp)))
            print(args.label, json.dumps(rows[-1]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.label}.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
