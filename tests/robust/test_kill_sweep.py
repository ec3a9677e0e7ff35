"""Crash safety: ``kill -9`` of a real ``llmhpo run`` at many moments, then a re-run.

Each kill moment runs its own study in its own directory: the process is started, and killed
at a moment measured from the appearance of its database file (the creation window: tables,
study row, study attributes, first trials) or over the run. Afterwards every study must be
usable (re-running the same config finishes it to exactly its budget) and every trial that
was COMPLETE in the database at the kill must still be COMPLETE with the same parameters and
value. The moments run five at a time to keep the test short.

Measured on the shared 2-core machine (load ~40) the whole test took 21 min; on an idle
machine each `llmhpo run` is ~2 s of CPU.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import yaml

from llmhpo.assembly import run
from llmhpo.config import load_config
from llmhpo.study import TrialState, load_study

BUDGET = 10
# moments: 10 measured from the start (the database and its tables being created), 25 from the
# moment the study row appears, 10 ms apart (its attributes, the first trials: the window that
# left studies without a space), 20 spread over the run
MOMENTS = (
    [("start", 0.3 * (i + 1)) for i in range(10)]
    + [("study", 0.01 * i) for i in range(25)]
    + [("study", 0.25 + 0.08 * i) for i in range(20)]
)


def _config(root: Path) -> Path:
    cfg = {
        "study_name": "sweep",
        "storage": f"sqlite:///{root / 'sweep.db'}",
        "budget": BUDGET,
        "seed": 0,
        "optimizer": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "objective": {"type": "python", "target": "robust_objectives:sleep_then_x"},
    }
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _kill_at(root: Path, anchor: str, delay: float, env: dict[str, str]) -> str:
    """Start `llmhpo run`, kill -9 it at the moment; returns what the kill interrupted."""
    from cli_helpers import llmhpo_cmd

    cfg = _config(root)
    db = root / "sweep.db"
    proc = subprocess.Popen([*llmhpo_cmd(), "run", str(cfg), "--quiet"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    if anchor == "study":  # the study row: its attributes and trials follow
        while not _has_study(db) and proc.poll() is None and time.monotonic() - t0 < 300:
            time.sleep(0.005)
        t0 = time.monotonic()
    while time.monotonic() - t0 < delay and proc.poll() is None:
        time.sleep(0.002)
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return "finished before the kill" if finished else _state(db)


def _has_study(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
        try:
            return con.execute("SELECT 1 FROM studies WHERE study_name='sweep'").fetchone() \
                is not None
        finally:
            con.close()
    except sqlite3.Error:  # no tables yet, or locked for a moment
        return False


def _state(db: Path) -> str:
    if not db.exists():
        return "no database yet"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT study_id FROM studies WHERE study_name='sweep'").fetchone()
        if row is None:
            return "database without the study"
        keys = {k for (k,) in con.execute(
            "SELECT key FROM study_system_attributes WHERE study_id=?", row)}
        if "llmhpo:complete" not in keys:
            return "study half-created"
        n = con.execute("SELECT COUNT(*) FROM trials WHERE state='COMPLETE'").fetchone()[0]
        return "during the trials" if n < BUDGET else "all trials done"
    except sqlite3.OperationalError:
        return "database being initialised"
    finally:
        con.close()


def _completed(db: Path) -> dict[int, tuple[float, float]]:
    """number -> (x, value) of the COMPLETE trials, read-only (nothing written)."""
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT t.number, p.param_value, v.value FROM trials t "
            "JOIN studies s ON s.study_id = t.study_id "
            "JOIN trial_params p ON p.trial_id = t.trial_id AND p.param_name = 'x' "
            "JOIN trial_values v ON v.trial_id = t.trial_id "
            "WHERE s.study_name = 'sweep' AND t.state = 'COMPLETE'"
        ).fetchall()
    except sqlite3.OperationalError:  # tables not created yet: nothing completed
        return {}
    finally:
        con.close()
    return {n: (x, v) for n, x, v in rows}


def test_kill_9_sweep_leaves_no_unusable_study_and_loses_no_completed_trial(tmp_path, cli_env):
    assert len(MOMENTS) >= 50
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                      cli_env["PYTHONPATH"]])}
    roots = [tmp_path / f"m{i:02d}" for i in range(len(MOMENTS))]
    for r in roots:
        r.mkdir()
    with ThreadPoolExecutor(5) as pool:
        jobs = zip(roots, MOMENTS, strict=True)
        hits = list(pool.map(lambda a: _kill_at(a[0], *a[1], env), jobs))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    unusable, lost = [], []
    for root, hit in zip(roots, hits, strict=True):
        before = _completed(root / "sweep.db")
        try:  # the user's next step: run the same config again
            run(load_config(root / "sweep.yaml"))
            study = load_study("sweep", f"sqlite:///{root / 'sweep.db'}")
        except Exception as exc:  # noqa: BLE001 - counted and reported below
            unusable.append((root.name, hit, f"{type(exc).__name__}: {exc}"))
            continue
        after = {t.number: t for t in study.trials}
        complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
        if len(complete) != BUDGET:
            unusable.append((root.name, hit, f"{len(complete)} complete, expected {BUDGET}"))
        for number, (x, value) in before.items():
            t = after.get(number)
            if t is None or t.state is not TrialState.COMPLETE or (t.params["x"], t.value) != (
                x, value
            ):
                lost.append((root.name, number))
    summary = Counter(hits)
    print(f"\nkill -9 sweep, {len(MOMENTS)} moments: {dict(summary)}", file=sys.stderr)
    assert unusable == [], unusable
    assert lost == [], lost
    # the moments measured from the study row did land after it appeared
    assert sum(n for h, n in summary.items() if h not in ("no database yet",
                                                          "database being initialised",
                                                          "database without the study")) >= 40



def test_a_half_created_study_is_completed_by_the_next_run(tmp_path, capsys):
    """The state a kill between the study row and its attributes leaves (the row alone, as
    Optuna writes it first): `status` says so in one line, `run` completes it."""
    from llmhpo.cli.main import main

    cfg = _config(tmp_path)
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="sweep", storage=url)  # the study row, no llmhpo attributes
    assert main(["status", url]) == 0
    out = capsys.readouterr().out
    assert "interrupted while being created" in out and "llmhpo run" in out
    assert main(["best", url]) == 2
    assert "interrupted while being created" in capsys.readouterr().err
    assert main(["run", str(cfg), "--quiet"]) == 0
    study = load_study("sweep", url)
    assert study.n_finished == BUDGET and study.best_trial is not None


def test_a_half_created_study_with_another_direction_is_replaced(tmp_path):
    cfg = _config(tmp_path)
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="sweep", storage=url, direction="maximize")
    run(load_config(cfg))
    study = load_study("sweep", url)
    assert study.direction == "minimize" and study.n_finished == BUDGET
