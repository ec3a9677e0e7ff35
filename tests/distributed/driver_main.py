"""One driver of a shared study, as a user would start it on each machine.

Usage: python driver_main.py STORAGE_URL STUDY_NAME BUDGET N_WORKERS
"""

from __future__ import annotations

import sys

from dist_objectives import sleep_and_log

from llmhpo import create_study

SPACE = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "y": {"type": "float", "low": 0.0, "high": 1.0},
}

if __name__ == "__main__":
    url, name, budget, n_workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    study = create_study(
        SPACE, optimizer="random", storage=url, study_name=name, budget=budget, seed=0
    )
    study.optimize(sleep_and_log, n_workers=n_workers, executor="process",
                   heartbeat_interval=1.0, grace_period=10.0)
    print("driver done", study.n_finished)
