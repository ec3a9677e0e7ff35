"""`llmhpo run` with the LoRA objective on the tiny model: references, adapters, report."""

import io
from pathlib import Path

import pytest
from lora_tiny import tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401 - fixtures

from llmhpo.cli.run import run_config
from llmhpo.config import ExecutionConfig, RunConfig
from llmhpo.evaluation import get_recheck, get_repro
from llmhpo.evaluation.references import get_references


def test_run_records_references_and_keeps_the_best_adapter(tiny_model_dir, tmp_path):  # noqa: F811
    cfg = RunConfig(
        objective={"type": "lora", **tiny_config(
            tiny_model_dir, eval={"accuracy": "forced"}, artifacts={"keep_best_k": 1})},
        study_name="tiny-lora",
        storage=f"sqlite:///{tmp_path}/s.db",
        budget=3,
        optimizer={"name": "random"},
        execution=ExecutionConfig(workdir=str(tmp_path / "work")),
        report=str(tmp_path / "report"),
        references={"mine": {"learning_rate": 3e-3, "lora_rank": 4}},
        recheck={"top_k": 1, "seeds": 2},
    )
    out = io.StringIO()
    study = run_config(cfg, show_progress=False, out=out)
    assert study.n_finished == 3
    refs = get_references(study)
    assert {n: r["state"] for n, r in refs.items()} == dict.fromkeys(
        ["base", "paper_default", "lora_recipe", "space_default", "mine"], "complete")
    assert refs["base"]["metrics"]["n_trainable_params"] == 0
    assert refs["space_default"]["params"]["learning_rate"] == 1e-3  # the space's default
    # the re-check: the best trial re-trained with 2 fresh seeds, stored and shown
    rc = get_recheck(study)
    assert rc["seeds"] == [1001, 1002] and rc["winner"] == study.best_trial.number
    row = rc["trials"][0]
    assert row["n_complete"] == 2 and len({r["metrics"]["val_loss"] for r in row["runs"]}) == 2
    assert row["gap"] == pytest.approx(row["mean"]["val_loss"] - study.best_trial.value)
    text = out.getvalue()
    assert "Re-check of the top 1 trials" in text and "Winner's curse" in text
    assert "paired bootstrap intervals" in text and "common LoRA recipe" in text
    assert get_repro(study)[-1]["objective"]["train_seed"] == 0
    kept = [t for t in study.trials if Path(t.metrics["adapter_path"]).is_dir()]
    assert [t.number for t in kept] == [study.best_trial.number]  # keep_best_k = 1
    assert "base model" in out.getvalue()
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())


def test_cli_assess_uses_the_adapters_kept_in_the_configs_workdir(
    tiny_model_dir, tmp_path, monkeypatch, capsys  # noqa: F811
):
    """`llmhpo assess CONFIG` finds the run's adapters through `execution.workdir`: the kept
    best adapter is evaluated as saved, the deleted ones are trained again."""
    import yaml

    from llmhpo.cli.main import main
    from llmhpo.evaluation.assess import get_assessment
    from llmhpo.study import load_study

    monkeypatch.chdir(tmp_path)
    cfg = {
        "study_name": "tiny-assess",
        "storage": "sqlite:///s.db",
        "budget": 3,
        "optimizer": {"name": "random"},
        "execution": {"workdir": "work"},  # relative to the working directory, as in `run`
        "objective": {"type": "lora", **tiny_config(
            tiny_model_dir, eval={"accuracy": "forced"}, artifacts={"keep_best_k": 1})},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--quiet"]) == 0
    assert main(["assess", str(path), "--top-k", "2", "--no-references"]) == 0
    assert "Pareto" in capsys.readouterr().out
    study = load_study("tiny-assess", "sqlite:///s.db")
    rows = get_assessment(study).rows
    assert rows[0].trial == study.best_trial.number
    assert [r.metrics["adapter_source"] for r in rows] == ["saved", "retrained"]
