"""Sample answers on the tiny LLaMA: `llmhpo run` stores them for its HTML report: the base
model, the trained reference rows (their saved adapters) and the best trials (kept adapter
used, the other one retrained); `llmhpo compare CONFIG --no-serve` reuses them."""

from lora_tiny import tiny_config, tiny_model_dir, tiny_tokenizer  # noqa: F401 - fixtures


def test_run_stores_answers_of_the_kept_adapters_and_compare_reuses_them(
    tiny_model_dir, tmp_path, monkeypatch, capsys  # noqa: F811
):
    import yaml

    from llmhpo.cli.main import main
    from llmhpo.compare.store import get_answers
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
    # the run itself stored answers (5 prompts, the 2 best trials) for its report
    study = load_study("tiny-compare", "sqlite:///s.db")
    ans = get_answers(study)
    best = study.best_trial.number
    other = next(t.number for t in study.trials if t.number != best)
    assert list(ans["candidates"]) == ["base", "paper_default", "lora_recipe", f"trial_{best}",
                                       f"trial_{other}"]
    assert len(ans["prompts"]) == 5 and all(p["prompt"] for p in ans["prompts"])
    c = ans["candidates"]
    assert c[f"trial_{best}"]["adapter_source"] == "saved"  # keep_best_k = 1
    assert c[f"trial_{other}"]["adapter_source"] == "retrained"
    assert c["base"]["adapter_source"] == "base"
    assert c["paper_default"]["adapter_source"] == "saved"  # saved by the reference row
    assert c["lora_recipe"]["adapter_source"] == "saved"
    assert all(len(x["answers"]) == 5 and all(isinstance(a, str) for a in x["answers"])
               for x in c.values())
    page = (tmp_path / "tiny-compare-report" / "report.html").read_text()
    assert page.count('class="prompt"') == 5 and f"trial {best} (rank 1)" in page
    # `llmhpo compare CONFIG` reuses what is stored, generates nothing
    assert main(["compare", "run.yaml", "--no-serve", "--top-k", "2"]) == 0
    err = capsys.readouterr().err
    assert "answers 1/5" not in err and "5 candidates, 5 prompts" in err
    assert get_answers(load_study("tiny-compare", "sqlite:///s.db")) == ans
