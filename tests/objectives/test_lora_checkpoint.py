"""Checkpoints of the LoRA training loop: a run stopped and continued from its checkpoint has
exactly the learning curve of a run that never stopped."""

import pytest
from lora_tiny import make_tiny_llama, tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401

from llmhpo.exceptions import TrialPruned
from llmhpo.objectives.lora.checkpoint import latest_checkpoint, list_checkpoints
from llmhpo.objectives.lora.evaluate import response_loss
from llmhpo.objectives.lora.tasks import generate_splits
from llmhpo.objectives.lora.train import TrainConfig, lora_adapter, train_lora

# dropout > 0 so that the RNG state is part of what must be restored
HP = {"learning_rate": 1e-2, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.1,
      "weight_decay": 0.01}
CFG = TrainConfig(steps=8, batch_size=4, max_seq_len=64, warmup_steps=2, eval_every=2)


class Ctx:
    """A trial context that records reports and asks to stop after step ``stop_after``."""

    def __init__(self, stop_after=None):
        self.reports, self.stop_after = [], stop_after

    def time_left(self):
        return float("inf")

    def report(self, step, metrics):
        self.reports.append((step, dict(metrics)))

    def should_stop(self):
        return self.stop_after is not None and self.reports[-1][0] >= self.stop_after


@pytest.fixture(scope="module")
def data():
    sp = generate_splits(12, 4, 0, families=["add"])
    return sp["train"], sp["validation"]


def _run(tok, data, workdir=None, cfg=CFG, **kw):
    train, val = data
    model = make_tiny_llama(tok)
    with lora_adapter(model, HP, cfg.target_modules, cfg.seed) as pm:
        return train_lora(pm, tok, train, HP, cfg,
                          evaluate=lambda m: {"val_loss": response_loss(m, tok, val, 64)},
                          workdir=workdir, **kw)


def test_stopped_and_continued_run_equals_uninterrupted(tiny_tokenizer, data, tmp_path):  # noqa: F811
    full_ctx = Ctx()
    full = _run(tiny_tokenizer, data, ctx=full_ctx)
    assert [s for s, _ in full["learning_curve"]] == [2, 4, 6, 8]
    assert full_ctx.reports == [tuple(c) for c in full["learning_curve"]]
    assert full["resumed_from_step"] == 0

    # first segment: a scheduler stops the trial after step 4 (checkpoint kept)
    ctx = Ctx(stop_after=4)
    with pytest.raises(TrialPruned) as info:
        _run(tiny_tokenizer, data, tmp_path, ctx=ctx)
    assert info.value.metrics["steps"] == 4
    assert info.value.metrics["val_loss"] == full["learning_curve"][1][1]["val_loss"]
    assert latest_checkpoint(tmp_path).step == 4
    # second segment, in a fresh model: continues from step 4 to a fidelity of 6 steps
    mid = _run(tiny_tokenizer, data, tmp_path, ctx=Ctx(), stop_at=6)
    assert mid["resumed_from_step"] == 4 and mid["steps"] == 6
    # third segment: to the end
    rest = _run(tiny_tokenizer, data, tmp_path, ctx=Ctx())
    assert rest["resumed_from_step"] == 6
    assert rest["learning_curve"] == full["learning_curve"]  # bitwise equal floats
    for key in ("train_loss", "train_loss_first", "train_tokens", "steps", "val_loss"):
        assert rest[key] == full[key], key
    assert [c.step for c in list_checkpoints(tmp_path)] == [8]  # keep_checkpoints=1


def test_all_checkpoints_kept_on_request_and_foreign_ones_ignored(tiny_tokenizer, data, tmp_path):  # noqa: F811
    from dataclasses import replace

    cfg = replace(CFG, keep_checkpoints=None, steps=4)
    _run(tiny_tokenizer, data, tmp_path, cfg=cfg)
    ckpts = list_checkpoints(tmp_path)
    assert [c.step for c in ckpts] == [2, 4]
    assert (ckpts[0].adapter_path / "adapter_model.safetensors").is_file()
    assert ckpts[0].state().fingerprint["params"]["learning_rate"] == HP["learning_rate"]
    # another run (other batch size) in the same directory starts from step 0
    other = _run(tiny_tokenizer, data, tmp_path, cfg=replace(cfg, batch_size=2))
    assert other["resumed_from_step"] == 0


def test_lora_study_records_curves_and_a_pruned_trial(tiny_model_dir, tmp_path):  # noqa: F811
    """Through the study: curves in the storage, the median rule stops the hopeless trial."""
    from llmhpo.objectives.lora.objective import LoRAObjective
    from llmhpo.space import Categorical, SearchSpace
    from llmhpo.study import TrialState, create_study

    obj = LoRAObjective(tiny_config(tiny_model_dir, train={"steps": 4, "eval_every": 1},
                                    eval={"accuracy": "none"}))
    space = SearchSpace([Categorical("learning_rate", [0.01, 1e-6])])
    study = create_study(space, optimizer="random", seed=1,  # seed 1: 0.01 first, then 1e-6
                         metric="val_loss",
                         storage=f"sqlite:///{tmp_path / 's.db'}", study_name="lora", budget=2)
    study.optimize(obj, workdir=tmp_path / "work",
                   scheduler={"name": "median", "n_startup_trials": 1})
    good, bad = study.trials
    assert (good.state, bad.state) == (TrialState.COMPLETE, TrialState.PRUNED)
    assert good.params["learning_rate"] == 0.01 and sorted(good.intermediate) == [1, 2, 3, 4]
    assert good.value == good.intermediate[4] == good.metrics["val_loss"]
    assert bad.metrics["steps"] == 1 and bad.value == bad.intermediate[1] > good.intermediate[1]
    assert latest_checkpoint(tmp_path / "work" / "trial_1").step == 1
    assert study.best_trial.number == 0
