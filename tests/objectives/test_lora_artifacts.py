"""Adapters: saved per trial, best k kept within a disk budget, exported and merged."""

import json
from pathlib import Path

import pytest
import torch
from lora_tiny import tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401 - fixtures

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.artifacts import KeepBestAdapters, dir_size_mb, export_adapter
from llmhpo.objectives.lora.objective import LoRAObjective
from llmhpo.space import SearchSpace
from llmhpo.space.variables import Float
from llmhpo.study import create_study


class _FakeAdapterObjective:
    """Writes a 100 kB 'adapter' and returns x as the value (the keeper only sees files)."""

    def __call__(self, params, ctx):
        d = ctx.path() / "adapter"
        d.mkdir(parents=True, exist_ok=True)
        (d / "w.bin").write_bytes(b"\0" * 100_000)
        if params["x"] > 0.9:
            raise RuntimeError("a failed trial leaves its adapter behind")
        return {"value": params["x"], "adapter_path": str(d)}


def _study(tmp_path, n, direction="minimize"):
    return create_study(SearchSpace([Float("x", 0.0, 1.0)]), optimizer="random", budget=n,
                        seed=0, metric="value", direction=direction,
                        storage=f"sqlite:///{tmp_path}/s.db", study_name="keep")


def _kept(study):
    return sorted(t.value for t in study.trials
                  if t.value is not None and Path(t.metrics["adapter_path"]).is_dir())


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_keeper_keeps_the_best_k_within_the_disk_budget(tmp_path, direction):
    study = _study(tmp_path, 8, direction)
    study.optimize(_FakeAdapterObjective(), workdir=tmp_path / "w",
                   callbacks=[KeepBestAdapters(3)])
    values = sorted(t.value for t in study.trials if t.value is not None)
    best3 = values[:3] if direction == "minimize" else values[-3:]
    assert _kept(study) == sorted(best3)
    assert sum(1 for _ in (tmp_path / "w").glob("trial_*/adapter")) == 3  # failed ones gone
    KeepBestAdapters(3, max_disk_mb=0.2)(study, study.trials[-1])  # 2 x 0.095 MiB fit
    best2 = values[:2] if direction == "minimize" else values[-2:]
    assert _kept(study) == sorted(best2)
    assert sum(dir_size_mb(p) for p in (tmp_path / "w").glob("trial_*/adapter")) <= 0.2
    with pytest.raises(InvalidConfigError, match="keep_best_k must be a non-negative integer"):
        KeepBestAdapters(-1)


def test_export_copies_and_merges_with_the_same_logits(tiny_model_dir, tmp_path):  # noqa: F811
    obj = LoRAObjective(tiny_config(tiny_model_dir, train={"steps": 4}))
    space = SearchSpace([Float("learning_rate", 1e-2, 2e-2, log=True)])
    study = create_study(space, optimizer="random", budget=2, seed=0, metric="val_loss",
                         storage=f"sqlite:///{tmp_path}/e.db", study_name="exp")
    study.optimize(obj, workdir=tmp_path / "w", callbacks=obj.study_callbacks(study))
    best = study.best_trial
    assert Path(best.metrics["adapter_path"]).is_dir()
    plain = export_adapter(study, None, tmp_path / "adapter")
    assert json.loads((plain / "llmhpo_adapter.json").read_text())["model"] == str(tiny_model_dir)
    with pytest.raises(InvalidConfigError, match="already exists"):
        export_adapter(study, None, plain)
    with pytest.raises(InvalidConfigError, match="no trial 7"):
        export_adapter(study, 7, tmp_path / "x")

    merged_dir = export_adapter(study, best.number, tmp_path / "merged", merge=True)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    ids = torch.tensor([[5, 17, 40, 41, 42, 60, 7]])
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
        peft_logits = PeftModel.from_pretrained(base, str(plain)).eval()(input_ids=ids).logits
        merged = AutoModelForCausalLM.from_pretrained(str(merged_dir)).eval()
        merged_logits = merged(input_ids=ids).logits
    assert not torch.allclose(peft_logits, base_logits, atol=1e-4)  # the adapter did learn
    torch.testing.assert_close(merged_logits, peft_logits, atol=1e-4, rtol=1e-4)
    assert not any("lora_" in n for n, _ in merged.named_parameters())


def test_assess_evaluates_the_saved_adapter_without_training(tiny_model_dir, tmp_path):  # noqa: F811
    """``assess`` of a trial whose adapter is kept loads it (same metrics, no training);
    without it (deleted, or saved for another base model) the trial is trained again."""
    import shutil

    from llmhpo.objectives.base import TrialContext
    from llmhpo.objectives.lora.model import get_model
    from llmhpo.reporting import assess

    obj = LoRAObjective(tiny_config(tiny_model_dir, train={"steps": 4}))
    space = SearchSpace([Float("learning_rate", 1e-2, 2e-2, log=True)])
    study = create_study(space, optimizer="random", budget=2, seed=0, metric="val_loss",
                         storage=f"sqlite:///{tmp_path}/a.db", study_name="assess")
    work = tmp_path / "w"
    study.optimize(obj, workdir=work, callbacks=obj.study_callbacks(study))
    best = study.best_trial
    ctx = TrialContext(best.number, workdir=str(work / f"trial_{best.number}"))

    base, _ = get_model(str(tiny_model_dir), "cpu")
    ids = torch.tensor([[5, 17, 40, 41, 42]])
    with torch.no_grad():
        before = base(input_ids=ids).logits.clone()
    saved = obj.assess(best.params, ctx)
    with torch.no_grad():
        after = base(input_ids=ids).logits
    torch.testing.assert_close(after, before)  # the base model is left untouched
    assert saved["adapter_source"] == "saved" and "train_time_s" not in saved
    assert saved["val_loss"] == pytest.approx(best.metrics["val_loss"], abs=1e-5)
    assert saved["test_loss"] == pytest.approx(best.metrics["test_loss"], abs=1e-5)

    res = assess(study, obj, metrics=["val_loss", "test_loss"], top_k=2, workdir=work,
                 include_references=False)
    assert [r.metrics["adapter_source"] for r in res.rows] == ["saved", "saved"]

    meta = Path(best.metrics["adapter_path"]) / "llmhpo_adapter.json"
    meta.write_text(json.dumps({"model": "another/model"}))
    other = obj.assess(best.params, ctx)
    assert other["adapter_source"] == "retrained" and other["train_time_s"] > 0
    shutil.rmtree(best.metrics["adapter_path"])
    retrained = obj.assess(best.params, ctx)
    assert retrained["adapter_source"] == "retrained"
    assert retrained["val_loss"] == pytest.approx(best.metrics["val_loss"], abs=1e-4)
    assert not (work / f"trial_{best.number}" / "adapter").exists()  # assess saves nothing
