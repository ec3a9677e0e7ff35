"""`llmhpo run` with `optimizer: llm` against a real OpenAI-compatible server on 127.0.0.1:
proposals recorded, the API key nowhere in storage or exports, kill -9 then resume replays the
stored conversation without asking the server again and without diverging."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import llmhpo_cmd

from llmhpo.study import TrialState, load_study

pytest.importorskip("openai")

from llm_server import MODEL, ScriptedLLMServer  # noqa: E402

SECRET = "sk-test-0123456789-do-not-store"
BUDGET = 6


def _config(tmp_path: Path, url: str, name: str) -> Path:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"""
study_name: {name}
storage: sqlite:///{tmp_path / (name + '.db')}
budget: {BUDGET}
seed: 0
optimizer:
  name: llm
  mode: chat
  backend: openai
  model: {MODEL}
  base_url: {url}
  api_key_env: LLMHPO_TEST_LLM_KEY
  price_input: 1.0
  price_output: 2.0
space:
  x: {{type: float, low: 0.0, high: 1.0, description: the only knob}}
objective: {{type: python, target: "helper_objectives:slow"}}
""")
    return cfg


def _n_completed(db: Path) -> int:
    """Completed trials, 0 unless a trial is running now (its query is stored by then: the kill
    must land while the objective runs, not between a query and the write of its trial)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            query = "SELECT COUNT(*) FROM trials WHERE state = '{}'"
            if not con.execute(query.format("RUNNING")).fetchone()[0]:
                return 0
            return con.execute(query.format("COMPLETE")).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_llm_study_kill_9_resume_replays_without_new_queries(tmp_path, cli_env):
    env = {**cli_env, "LLMHPO_TEST_LLM_KEY": SECRET}
    with ScriptedLLMServer() as server:
        cfg = _config(tmp_path, server.url, "llm")
        proc = subprocess.Popen([*llmhpo_cmd(), "run", str(cfg), "--quiet"], env=env,
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while _n_completed(tmp_path / "llm.db") < 2:
                assert proc.poll() is None, "llmhpo run ended before it could be killed"
                assert time.monotonic() < deadline, "no progress within 300 s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        rerun = subprocess.run([*llmhpo_cmd(), "run", str(cfg), "--quiet"], env=env,
                               cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr

        study = load_study("llm", f"sqlite:///{tmp_path / 'llm.db'}")
        trials = study.trials
        complete = [t for t in trials if t.state is TrialState.COMPLETE]
        assert len(complete) == BUDGET
        assert all(t.attrs["proposal"] in ("llm", "repaired") for t in complete)
        # every query the server got is accounted for by exactly one trial, and no prompt was
        # sent twice: the trial running at the kill was answered from the stored exchange
        requests = server.chat_requests
        assert len(requests) == sum(t.attrs.get("llm_queries", 0) for t in trials)
        prompts = [json.dumps(r["body"]["messages"]) for r in requests]
        assert len(set(prompts)) == len(prompts)
        interrupted = [t for t in trials if t.state is TrialState.INTERRUPTED]
        if interrupted:
            replayed = [t for t in complete if any(e.get("replayed") for e in t.attrs["llm_log"])]
            assert replayed and replayed[0].params == interrupted[0].params
        # the key went to the server, never into the database
        auth = [{k.lower(): v for k, v in r["headers"].items()}.get("authorization")
                for r in requests]
        assert auth == [f"Bearer {SECRET}"] * len(requests)
        assert SECRET.encode() not in (tmp_path / "llm.db").read_bytes()

        # the same study without the kill: the same configurations in the same order
        ref_cfg = _config(tmp_path, server.url, "ref")
        ref = subprocess.run([*llmhpo_cmd(), "run", str(ref_cfg), "--quiet"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert ref.returncode == 0, ref.stderr
    ref_trials = load_study("ref", f"sqlite:///{tmp_path / 'ref.db'}").trials
    assert [t.params for t in complete] == [t.params for t in ref_trials]

    # status sums the LLM usage; export dumps the conversation; neither shows the key
    status = subprocess.run([*llmhpo_cmd(), "status", str(cfg)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    assert "LLM " in status.stdout and "tokens in/out" in status.stdout and "$" in status.stdout
    conv = subprocess.run([*llmhpo_cmd(), "export", str(cfg), "--conversation"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert conv.returncode == 0, conv.stderr
    lines = [json.loads(line) for line in conv.stdout.splitlines()]
    assert len(lines) >= BUDGET
    first = lines[0]
    assert first["trial"] == 0 and first["messages"][0]["role"] == "system"
    assert "x, the only knob. Type: UniformFloat" in first["messages"][1]["content"]
    csv = subprocess.run([*llmhpo_cmd(), "export", str(cfg)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert "attr:proposal" in csv.stdout and "llm_log" not in csv.stdout
    for text in (status.stdout, conv.stdout, csv.stdout, rerun.stdout, rerun.stderr):
        assert SECRET not in text
    assert os.environ.get("LLMHPO_TEST_LLM_KEY") is None


def test_unreachable_server_is_one_error_line(tmp_path, cli_env):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    cfg = _config(tmp_path, f"http://127.0.0.1:{port}/v1", "down")
    res = subprocess.run([*llmhpo_cmd(), "run", str(cfg), "--quiet"], env=cli_env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.startswith("llmhpo: error: optimizer.base_url: cannot reach")
    assert "Traceback" not in res.stderr
    con = sqlite3.connect(tmp_path / "down.db")
    assert con.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0
