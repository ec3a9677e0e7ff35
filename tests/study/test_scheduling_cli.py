"""`llmhpo run` with a scheduler: kill -9 in the middle of a trial, run again — the trial
continues from its checkpoint; `llmhpo status` shows the compute spent."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

from cli_helpers import llmhpo_cmd

from llmhpo.study import TrialState, load_study


def _steps_reported(db_path: str) -> int:
    """Intermediate values in the database while `llmhpo run` writes it (read-only)."""
    if not os.path.exists(db_path):
        return 0
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trial_intermediate_values").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_trial_then_rerun_continues_it(tmp_path, cli_env):
    db = tmp_path / "curve.db"
    cfg = tmp_path / "curve.yaml"
    cfg.write_text(f"""
study_name: curve
storage: sqlite:///{db}
budget: 4
optimizer: lhs
space: {{x: {{type: float, low: 0.0, high: 1.0}}}}
objective: {{type: python, target: "helper_objectives:curve"}}
scheduler: {{name: asha, min_resource: 1, reduction_factor: 3}}
compute_budget: 1000
execution: {{workdir: {tmp_path / "work"}}}
""")
    env = {**cli_env, "LLMHPO_TEST_STEP_SLEEP": "0.1"}
    proc = subprocess.Popen([*llmhpo_cmd(), "run", str(cfg), "--quiet"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180  # generous: the start of `llmhpo run` on a busy machine
        while _steps_reported(str(db)) < 3:  # inside the first trial
            assert proc.poll() is None, "llmhpo run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress within 180 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = load_study("curve", f"sqlite:///{db}").trials
    assert killed[-1].state is TrialState.RUNNING
    reached = max(killed[-1].intermediate)
    assert 3 <= reached < 9

    subprocess.run([*llmhpo_cmd(), "run", str(cfg), "--quiet"], env=env, cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    trials = load_study("curve", f"sqlite:///{db}").trials
    orphan = trials[len(killed) - 1]
    assert orphan.state is TrialState.INTERRUPTED
    cont = trials[len(killed)]
    assert cont.attrs["resumed_from_trial"] == orphan.number
    assert cont.params == orphan.params
    assert cont.metrics["started_at"] >= reached  # from its checkpoint, not from step 0
    assert sorted(cont.intermediate) == list(range(1, max(cont.intermediate) + 1))
    counted = [t for t in trials if t.state is not TrialState.INTERRUPTED]
    assert len(counted) == 4
    assert {t.state for t in counted} <= {TrialState.COMPLETE, TrialState.PRUNED}

    out = subprocess.run([*llmhpo_cmd(), "status", "--storage", f"sqlite:///{db}"], env=env,
                         capture_output=True, text=True, check=True).stdout
    spent = sum(max(t.intermediate) for t in trials) - cont.attrs["resumed_from_step"]
    assert f"compute {spent:g}/1000 steps (scheduler asha)" in out
