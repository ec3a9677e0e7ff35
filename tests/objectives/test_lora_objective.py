"""The LoRA objective on a tiny LLaMA: config, metrics, the per-process model cache,
references, and failures classified by the study's run_objective."""

import math
import pickle

import pytest
import torch
from lora_tiny import PARAMS, tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.base import TrialContext, run_objective
from llmhpo.objectives.lora import model as model_mod
from llmhpo.objectives.lora.objective import (
    LORA_RECIPE,
    PAPER_DEFAULTS,
    LoRAObjective,
    from_config,
)
from llmhpo.objectives.registry import build_objective
from llmhpo.study.trial import TrialState


def test_registry_builds_the_objective_with_its_space(tiny_model_dir):  # noqa: F811
    spec = build_objective({"type": "lora", **tiny_config(tiny_model_dir)})
    assert isinstance(spec.objective, LoRAObjective)
    assert spec.metric == "val_loss" and spec.direction == "minimize"
    assert set(spec.space.names) == {"learning_rate", "lora_rank", "lora_alpha",
                                     "lora_dropout", "weight_decay"}
    for metric in ("val_accuracy", "test_accuracy", "llmhpo_arith_mc/acc"):
        assert from_config(tiny_config(tiny_model_dir, metric=metric)).direction == "maximize"
    obj = pickle.loads(pickle.dumps(spec.objective))
    assert obj.config == spec.objective.config


def test_unknown_keys_and_bad_values_are_named():
    with pytest.raises(InvalidConfigError, match="unknown lora objective keys.*'steps'"):
        LoRAObjective({"steps": 3})  # belongs in the train section
    with pytest.raises(InvalidConfigError, match="unknown train keys.*'stepz'"):
        LoRAObjective({"train": {"stepz": 3}})
    with pytest.raises(InvalidConfigError, match="train.batch_size must be a positive integer"):
        LoRAObjective({"train": {"batch_size": 0}})
    with pytest.raises(InvalidConfigError, match="eval.accuracy must be one of"):
        LoRAObjective({"eval": {"accuracy": "maybe"}})
    with pytest.raises(InvalidConfigError, match="unknown data keys.*'n_trian'"):
        LoRAObjective({"data": {"n_trian": 5}})
    with pytest.raises(InvalidConfigError, match="lm_eval_tasks must be a list"):
        LoRAObjective({"eval": {"lm_eval_tasks": "hellaswag"}})


def test_trial_metrics_process_cache_and_untouched_base(tiny_model_dir, tmp_path):  # noqa: F811
    obj = LoRAObjective(tiny_config(tiny_model_dir))
    base, _ = model_mod.get_model(str(tiny_model_dir), "cpu")
    loads = model_mod.load_count(str(tiny_model_dir), "cpu")
    assert loads == 1
    before = {k: v.clone() for k, v in base.state_dict().items()}
    m = obj(PARAMS, TrialContext(0, workdir=str(tmp_path / "trial_0")))
    for key in ("val_loss", "test_loss", "val_accuracy", "test_accuracy", "tokens_per_s",
                "train_time_s", "eval_time_s", "peak_memory_mb", "n_trainable_params"):
        assert key in m and math.isfinite(m[key]), key
    assert 0.0 <= m["val_accuracy"] <= 1.0 and m["val_accuracy"] * 6 == round(m["val_accuracy"]
                                                                               * 6)
    assert m["steps"] == 3 and m["n_trainable_params"] > 0 and m["peak_memory_mb"] > 10
    assert m["model_load_s"] == 0.0  # the model was already loaded in this process
    assert (tmp_path / "trial_0" / "adapter" / "adapter_config.json").is_file()
    m2 = obj({**PARAMS, "learning_rate": 1e-3}, TrialContext(1))
    assert "adapter_path" not in m2  # no workdir, nothing saved
    assert model_mod.load_count(str(tiny_model_dir), "cpu") == loads  # never reloaded
    assert model_mod.get_model(str(tiny_model_dir), "cpu")[0] is base
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    # every trial uses the same seed: the same hyperparameters give the same result
    assert obj(PARAMS, TrialContext(7))["val_loss"] == m["val_loss"]


def test_references_evaluate_the_base_model_and_the_defaults(tiny_model_dir):  # noqa: F811
    obj = LoRAObjective(tiny_config(tiny_model_dir))
    refs = obj.references()
    assert refs == {"base": None, "paper_default": PAPER_DEFAULTS, "lora_recipe": LORA_RECIPE}
    assert PAPER_DEFAULTS == {"lora_rank": 8, "lora_alpha": 32, "lora_dropout": 0.1,
                              "learning_rate": 1e-5, "weight_decay": 0.0}
    assert LORA_RECIPE == {"lora_rank": 16, "lora_alpha": 32, "lora_dropout": 0.05,
                           "learning_rate": 2e-4, "weight_decay": 0.0}
    base = obj.evaluate_reference(None, TrialContext(-1))
    assert base["train_time_s"] == 0.0 and base["n_trainable_params"] == 0
    assert math.isfinite(base["val_loss"]) and 0.0 <= base["test_accuracy"] <= 1.0
    assert obj.evaluate_reference(None, TrialContext(-1))["val_loss"] == base["val_loss"]
    peft = obj.evaluate_reference(PAPER_DEFAULTS, TrialContext(-2))
    assert peft["steps"] == 3 and peft["n_trainable_params"] > 0
    assert peft["val_loss"] != base["val_loss"]


def test_nan_is_failed_and_time_limit_is_timeout(tiny_model_dir):  # noqa: F811
    obj = LoRAObjective(tiny_config(tiny_model_dir))
    nan = run_objective(obj, {**PARAMS, "learning_rate": 1e30}, TrialContext(0))
    assert nan.state is TrialState.FAILED and "FloatingPointError" in nan.error
    assert nan.metrics["n_trainable_params"] > 0
    late = run_objective(obj, PARAMS, TrialContext(1, time_limit=1e-9))
    assert late.state is TrialState.TIMEOUT and late.metrics["steps"] == 0
    ok = run_objective(obj, PARAMS, TrialContext(2))
    assert ok.state is TrialState.COMPLETE  # the failures left the base model usable


def test_out_of_memory_is_infeasible_and_the_next_trial_runs(tiny_model_dir):  # noqa: F811
    """A rank whose adapter cannot be allocated (a real allocator failure: 2**36 x 64 floats)
    is an infeasible configuration, not a crash, and leaves the base model usable."""
    obj = LoRAObjective(tiny_config(tiny_model_dir))
    huge = run_objective(obj, {**PARAMS, "lora_rank": 2**36}, TrialContext(0))
    assert huge.state is TrialState.INFEASIBLE, huge.error
    assert "allocate" in huge.error
    ok = run_objective(obj, PARAMS, TrialContext(1))
    assert ok.state is TrialState.COMPLETE


def test_injected_inf_loss_is_failed(tiny_model_dir):  # noqa: F811
    """An infinite loss from the model itself (not a huge lr) is caught the same way."""
    obj = LoRAObjective(tiny_config(tiny_model_dir))
    base, _ = model_mod.get_model(str(tiny_model_dir), "cpu")
    handle = base.lm_head.register_forward_hook(lambda mod, inp, out: out * float("inf"))
    try:
        out = run_objective(obj, PARAMS, TrialContext(0))
    finally:
        handle.remove()
    assert out.state is TrialState.FAILED and "training loss is" in out.error


def test_eval_sizes_forced_accuracy_and_lm_eval(tiny_model_dir):  # noqa: F811
    obj = LoRAObjective(tiny_config(
        tiny_model_dir, eval={"val_size": 2, "test_size": 0, "accuracy": "forced",
                              "lm_eval_tasks": ["llmhpo_arith_mc"], "lm_eval_limit": 6}))
    m = obj(PARAMS, TrialContext(0))
    assert m["val_accuracy"] in (0.0, 0.5, 1.0)  # 2 examples evaluated
    assert "test_loss" not in m and "test_accuracy" not in m
    assert m["llmhpo_arith_mc/n_samples"] == 6 and 0.0 <= m["llmhpo_arith_mc/acc"] <= 1.0
    a = obj.assess(None, TrialContext(-1), tasks=["llmhpo_arith_mc"])
    assert a["llmhpo_arith_mc/n_samples"] == 6 and a["n_trainable_params"] == 0


def test_per_example_values_reseeding_and_fingerprint(tiny_model_dir):  # noqa: F811
    """The metrics carry the per-example values their means come from (for the intervals);
    with_seed changes the training seed only; the fingerprint hashes the model and data."""
    from llmhpo.reporting.intervals import metric_interval, per_example

    obj = LoRAObjective(tiny_config(tiny_model_dir, eval={"accuracy": "forced"}))
    m = obj(PARAMS, TrialContext(0))
    for name in ("val_loss", "test_loss", "val_accuracy", "test_accuracy"):
        v, w = per_example(m, name)
        assert len(v) == 6
        assert float((v * w).sum() / w.sum()) == pytest.approx(m[name], abs=1e-4)
    iv = metric_interval([per_example(m, "test_loss")])
    assert iv.low <= m["test_loss"] <= iv.high and iv.low < iv.high
    other = obj.with_seed(5)
    assert other.train_config.seed == 5 and obj.train_config.seed == 0
    assert other.config["artifacts"]["save_adapters"] is False
    assert other(PARAMS, TrialContext(0))["val_loss"] != m["val_loss"]
    fp = obj.fingerprint()
    assert len(fp["model_sha256"]) == 64 and len(fp["data_sha256"]) == 64
    assert fp["device"] == "cpu" and fp["train_seed"] == 0
    assert fp["data_sizes"] == {"train": 24, "validation": 6, "test": 6}
    assert obj.fingerprint() == fp
