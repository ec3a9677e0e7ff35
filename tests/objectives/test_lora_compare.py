"""`llmhpo compare CONFIG --no-serve` on the tiny LLaMA: answers of the base model, the
reference rows (paper default, LoRA recipe) and the best trials (kept adapter used, the other
one retrained), stored with the study and shown in the HTML report."""

from lora_tiny import tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401 - fixtures


def test_compare_generates_answers_with_the_kept_adapters(
    tiny_model_dir, tmp_path, monkeypatch, capsys  # noqa: F811
):
    import yaml

    from llmhpo.cli.main import main
    from llmhpo.compare.store import get_answers
    from llmhpo.reporting.html import html_report
    from llmhpo.study import load_study

    monkeypatch.chdir(tmp_path)
    cfg = {
        "study_name": "tiny-compare", "storage": "sqlite:///s.db", "budget": 2,
        "optimizer": {"name": "random"}, "execution": {"workdir": "work"},
        "objective": {"type": "lora", **tiny_config(
            tiny_model_dir, eval={"accuracy": "forced"}, artifacts={"keep_best_k": 1})},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", "run.yaml", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", "run.yaml", "--no-serve", "--top-k", "2", "--prompts", "3"]) == 0
    err = capsys.readouterr().err
    assert "answers 5/5" in err and "5 candidates, 3 prompts" in err
    study = load_study("tiny-compare", "sqlite:///s.db")
    ans = get_answers(study)
    best = study.best_trial.number
    other = next(t.number for t in study.trials if t.number != best)
    assert list(ans["candidates"]) == ["base", "paper_default", "lora_recipe", f"trial_{best}",
                                       f"trial_{other}"]
    assert len(ans["prompts"]) == 3 and all(p["prompt"] for p in ans["prompts"])
    c = ans["candidates"]
    assert c[f"trial_{best}"]["adapter_source"] == "saved"  # keep_best_k = 1
    assert c[f"trial_{other}"]["adapter_source"] == "retrained"
    assert c["base"]["adapter_source"] == "base"
    assert all(len(x["answers"]) == 3 and all(isinstance(a, str) for a in x["answers"])
               for x in c.values())
    # a second call reuses what is stored
    assert main(["compare", "run.yaml", "--no-serve", "--top-k", "2", "--prompts", "3"]) == 0
    assert "answers 1/5" not in capsys.readouterr().err
    page = html_report(study)
    assert '<section id="answers">' in page and f"trial {best} (rank 1)" in page
