"""SWA fusion of LoRA checkpoints and the inner loop of Bilevel-BO-SWA (Bao et al. 2025)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from lora_tiny import PARAMS, tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.fusion import (
    CheckpointRecorder,
    FusionCache,
    average_states,
    check_fusion_config,
    inner_search,
    select_checkpoints,
)
from llmhpo.objectives.lora.objective import LoRAObjective
from llmhpo.study.outcome import TrialContext

FUSION = {"enabled": True, "checkpoint_every": 1, "inner_budget": 4, "inner_n_init": 2,
          "train_subset": 8}


def test_select_checkpoints_start_stride_and_decay():
    steps = [2, 4, 6, 8, 10]
    idx, w = select_checkpoints(steps, 10, {"swa_start": 0.0, "stride": 1, "decay": 1.0})
    assert idx == [0, 1, 2, 3, 4] and w == pytest.approx([0.2] * 5)  # plain SWA
    idx, w = select_checkpoints(steps, 10, {"swa_start": 0.5, "stride": 2, "decay": 0.5})
    assert idx == [2, 4]  # steps 6 and 10: from step 5 on, every 2nd back from the last
    assert w == pytest.approx([1 / 3, 2 / 3])  # the last weighs 1, the one before 0.5
    idx, _ = select_checkpoints(steps, 10, {"swa_start": 0.9, "stride": 1, "decay": 1.0})
    assert idx == [4]  # only the last checkpoint is at or after step 9


def test_average_states_is_the_weighted_mean():
    g = torch.Generator().manual_seed(0)
    states = [{"a.lora_A": torch.randn(3, 4, generator=g), "b.lora_B": torch.randn(5, generator=g)}
              for _ in range(4)]
    weights = [0.1, 0.2, 0.3, 0.4]
    avg = average_states(states, weights)
    for name in states[0]:
        expected = sum(w * s[name].double() for w, s in zip(weights, states, strict=True))
        assert torch.allclose(avg[name], expected, atol=1e-12)
    uniform = average_states(states, [0.25] * 4)
    assert torch.allclose(uniform["a.lora_A"],
                          torch.stack([s["a.lora_A"].double() for s in states]).mean(0))


def test_inner_search_replays_history_without_re_evaluating():
    calls = []

    def f(p):
        calls.append(p)
        return (p["swa_start"] - 0.3) ** 2 + 0.1 * p["stride"] + (1 - p["decay"])

    best, recs = inner_search(f, acq="ucb", budget=5, n_init=3, seed=0)
    assert len(calls) == 5 and [r["phase"] for r in recs] == ["init"] * 3 + ["bo"] * 2
    assert recs[-1]["attrs"]["acquisition"] == "UCB"
    assert best == min(recs, key=lambda r: r["train_loss"])["params"]
    calls.clear()
    best2, recs2 = inner_search(f, acq="ucb", budget=5, n_init=3, seed=0, history=recs[:3])
    assert len(calls) == 2  # the 3 finished inner evaluations are replayed, not redone
    assert [r["replayed"] for r in recs2] == [True] * 3 + [False] * 2
    assert [r["params"] for r in recs2] == [r["params"] for r in recs]  # same continuation


@pytest.mark.parametrize("bad", [
    {"inner_acq": "pi"}, {"inner_budget": -1}, {"checkpoint_every": 0}, {"enabled": "yes"},
    {"typo": 1}, {"inner_budget": 0}, {"fixed": {"swa_start": 2.0, "stride": 1, "decay": 1.0}},
])
def test_bad_fusion_configs_are_errors(bad):
    with pytest.raises(InvalidConfigError, match="fusion"):
        check_fusion_config(bad)


def _lora_tensors(adapter_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(adapter_dir / "adapter_model.safetensors"))


def test_fused_adapter_is_the_average_of_the_chosen_checkpoints(tiny_model_dir, tmp_path):  # noqa: F811
    """The trial's saved adapter equals the weighted average of the checkpoints its best
    fusion chose, recomputed from an independent identical training run."""
    from llmhpo.objectives.lora.train import lora_adapter, train_lora

    cfg = tiny_config(tiny_model_dir, train={"steps": 6}, fusion=FUSION)
    obj = LoRAObjective(cfg)
    m = obj(PARAMS, TrialContext(0, workdir=str(tmp_path / "trial_0")))
    assert len(m["inner_evaluations"]) == 4 and m["inner_evaluated"] == 4
    assert [r["phase"] for r in m["inner_evaluations"]] == ["init", "init", "bo", "bo"]
    assert m["train_loss_fused"] == pytest.approx(
        min(r["train_loss"] for r in m["inner_evaluations"]))
    assert abs(sum(m["fusion_weights"]) - 1) < 1e-12 and "val_loss_unfused" in m
    assert not list((tmp_path / "fusion_cache").iterdir())  # the cache goes with the trial

    # the same run again, recording every checkpoint
    model, tok, _ = obj.model()
    tc = obj.train_config
    rec = CheckpointRecorder(1, 6)
    with lora_adapter(model, PARAMS, tc.target_modules, tc.seed) as pm:
        train_lora(pm, tok, obj.splits()["train"], PARAMS, tc, None, on_step=rec)
    by_step = dict(zip(rec.steps, rec.states, strict=True))
    saved = _lora_tensors(Path(m["adapter_path"]))
    checked = 0
    for name, value in saved.items():
        key = next(k for k in rec.states[0] if k.replace(".default", "").endswith(
            name.replace("base_model.model.", "")))
        expected = sum(w * by_step[s][key].double()
                       for s, w in zip(m["fusion_steps"], m["fusion_weights"], strict=True))
        assert torch.allclose(value.double(), expected, atol=1e-6), name
        checked += 1
    assert checked == len(rec.states[0])


def test_fixed_fusion_is_swa_alone_without_inner_loop(tiny_model_dir):  # noqa: F811
    cfg = tiny_config(tiny_model_dir, train={"steps": 4}, fusion={
        "enabled": True, "checkpoint_every": 1, "inner_budget": 0,
        "fixed": {"swa_start": 0.5, "stride": 1, "decay": 1.0}})
    m = LoRAObjective(cfg)(PARAMS, TrialContext(0))
    assert m["fusion_steps"] == [2, 3, 4] and m["inner_evaluations"] == []
    assert m["fusion_weights"] == pytest.approx([1 / 3] * 3)


def test_bilevel_bo_runs_both_loops_through_llmhpo_run(tiny_model_dir, tmp_path):  # noqa: F811
    from llmhpo.assembly import run
    from llmhpo.config import ExecutionConfig, RunConfig

    cfg = RunConfig(
        objective={"type": "lora", **tiny_config(tiny_model_dir, train={"steps": 4},
                                                 eval={"accuracy": "forced"})},
        study_name="bilevel", storage=f"sqlite:///{tmp_path}/s.db", budget=3,
        optimizer={"name": "bilevel_bo", "outer_acq": "ucb", "inner_acq": "ei",
                   "inner_budget": 3, "inner_n_init": 2, "checkpoint_every": 1,
                   "train_subset": 8, "n_init": 2},
        execution=ExecutionConfig(workdir=str(tmp_path / "work")),
        report=str(tmp_path / "report"),
    )
    study = run(cfg)
    assert study.n_finished == 3
    for t in study.trials:
        inner = t.metrics["inner_evaluations"]
        assert len(inner) == 3 and [r["phase"] for r in inner] == ["init", "init", "bo"]
        assert inner[-1]["attrs"]["acquisition"] == "LogEI"  # inner EI
        assert t.value == t.metrics["val_loss"]  # the outer metric is the fused adapter's
    assert study.trials[-1].attrs["acquisition"] == "UCB"  # outer UCB after 2 init points


def test_packaged_bilevel_config_runs_on_the_tiny_model(tiny_model_dir, tmp_path):  # noqa: F811
    """``configs/lora_bilevel.yaml`` (the main job with Bilevel-BO-SWA, EI outer / UCB inner):
    its optimizer and fusion settings, run with the tiny model in place of SmolLM2."""
    from dataclasses import replace

    from llmhpo.assembly import run
    from llmhpo.config import ExecutionConfig, default_config_path, load_config

    cfg = load_config(default_config_path().with_name("lora_bilevel.yaml"))
    opt = cfg.optimizer
    assert (opt["name"], opt["outer_acq"], opt["inner_acq"]) == ("bilevel_bo", "ei", "ucb")
    tiny = tiny_config(tiny_model_dir, train={"steps": 4}, eval={"accuracy": "forced"})
    cfg = replace(
        cfg, objective={**cfg.objective, **tiny, "type": "lora"}, budget=2, recheck=None,
        storage=f"sqlite:///{tmp_path}/b.db", report=str(tmp_path / "report"),
        optimizer={**opt, "n_init": 2, "inner_budget": 4, "train_subset": 8},
        execution=ExecutionConfig(workdir=str(tmp_path / "work")),
    )
    study = run(cfg)
    assert study.n_finished == 2
    for t in study.trials:
        inner = t.metrics["inner_evaluations"]
        assert len(inner) == 4 and inner[-1]["attrs"]["acquisition"] == "UCB"
        assert t.metrics["fusion_steps"][-1] == 4  # checkpoint_every 4 keeps the last step


def test_a_fixed_objective_refuses_bilevel_bo(tmp_path):
    from llmhpo.assembly import run
    from llmhpo.config import RunConfig

    cfg = RunConfig(objective={"type": "synthetic", "name": "branin"}, study_name="b",
                    storage=f"sqlite:///{tmp_path}/s.db", budget=2,
                    optimizer={"name": "bilevel_bo"})
    with pytest.raises(InvalidConfigError, match="bilevel_bo"):
        run(cfg)


def test_resume_after_kill_replays_inner_evaluations(tiny_model_dir, tmp_path, cli_env):  # noqa: F811
    """kill -9 in the middle of an outer trial's inner loop; the re-run trains nothing again
    and redoes none of the inner evaluations that had finished."""
    obj_cfg = tiny_config(tiny_model_dir, train={"steps": 4}, eval={"accuracy": "forced"})
    cfg = {
        "study_name": "bilevel-kill", "storage": f"sqlite:///{tmp_path}/s.db", "budget": 1,
        "optimizer": {"name": "bilevel_bo", "inner_budget": 30, "inner_n_init": 30,
                      "checkpoint_every": 1, "train_subset": 8},
        "objective": {"type": "lora", **obj_cfg},
        "execution": {"workdir": str(tmp_path / "work")},
        "report": str(tmp_path / "report"),
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "llmhpo.cli.main", "run", str(path)]
    proc = subprocess.Popen(cmd, env=cli_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    cache_root = tmp_path / "work" / "fusion_cache"
    try:
        while time.monotonic() < deadline:
            logs = list(cache_root.glob("*/inner.jsonl"))
            if logs and len(logs[0].read_text().splitlines()) >= 2:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no inner evaluation was written in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(FusionCache(logs[0].parent).inner_history())
    assert done_before >= 2
    subprocess.run(cmd, env=cli_env, cwd=tmp_path, check=True, capture_output=True, timeout=600)
    from llmhpo.study import load_study

    study = load_study("bilevel-kill", f"sqlite:///{tmp_path}/s.db")
    (trial,) = [t for t in study.trials if t.state.name == "COMPLETE"]
    m = trial.metrics
    assert m["resumed_training"] is True
    assert m["inner_replayed"] == done_before and m["inner_evaluated"] == 30 - done_before
    assert len(m["inner_evaluations"]) == 30
    assert json.dumps(m["fusion_params"])  # recorded with the trial
