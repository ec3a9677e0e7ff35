import csv

from reporting_helpers import ToyLoRA, loss_of, make_study
from test_plots import png_size

from llmhpo.reporting import record_references, results_table, write_report
from llmhpo.reporting.metrics import format_param, parse_metric_directions
from llmhpo.study import ranked_trials


def _rows(text):
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()]


def test_table_has_reference_rows_and_best_trials(tmp_path):
    study, _ = make_study(tmp_path, n=10, sqlite=False)
    record_references(study, ToyLoRA())
    text = results_table(study, top_k=3, metrics=["tokens_per_s"])
    rows = _rows(text)
    header = rows[0]
    assert header[:2] == ["rank", "trial"]
    assert header[2] == "val_loss"  # the objective first, then test metrics
    assert {"test_loss", "test_accuracy", "tokens_per_s", "learning_rate", "lora_rank"} <= set(
        header)
    body = rows[2:]
    assert body[0][0] == "base model (no fine-tuning)"
    assert body[0][header.index("val_loss")] == "5.000"
    assert body[0][header.index("learning_rate")] == "-"
    assert body[1][0] == "paper default (Tribes et al. 2023)"
    assert body[1][header.index("learning_rate")] == "1.00e-05"
    assert body[1][header.index("lora_rank")] == "8"
    assert float(body[1][header.index("val_loss")]) == round(loss_of({"learning_rate": 1e-5,
                                                                       "lora_rank": 8}), 2)
    best = study.best_trial
    assert body[2][:2] == ["1", str(best.number)]
    assert body[2][header.index("val_loss")] == f"{best.value:#.4g}"
    assert body[2][header.index("test_accuracy")] == f"{best.metrics['test_accuracy']:#.4g}"
    assert body[2][header.index("learning_rate")] == f"{best.params['learning_rate']:.2e}"
    # ranks follow the objective
    top = ranked_trials(study, 3)
    assert [r[1] for r in body[2:]] == [str(t.number) for t in top]
    assert [t.value for t in top] == sorted(t.value for t in top)
    assert len(body) == 5
    plain = results_table(study, top_k=1, fmt="plain")
    assert "|" not in plain and "base model (no fine-tuning)" in plain


def test_formatting_helpers():
    assert format_param("learning_rate", 0.000123456) == "1.23e-04"
    assert format_param("lora_dropout", 0.123456) == "0.123"
    assert format_param("weight_decay", 0.00123, log=True) == "1.23e-03"
    assert format_param("lora_rank", 16) == "16"
    assert parse_metric_directions("val_loss, mmlu/acc, tokens:max") == {
        "val_loss": "minimize", "mmlu/acc": "maximize", "tokens": "maximize"}


def test_write_report(tmp_path):
    study, _ = make_study(tmp_path, n=8)
    record_references(study, ToyLoRA(default_acc=0.99))
    paths = write_report(study, tmp_path / "report", top_k=3)
    assert sorted(paths) == ["history", "html", "parallel_coordinates", "results", "trials"]
    assert "<section id=\"verdict\">" in paths["html"].read_text()
    for key in ("history", "parallel_coordinates"):
        w, h = png_size(paths[key])
        assert w > 0 and h > 0
    md = paths["results"].read_text()
    assert "| base model (no fine-tuning)" in md
    assert "| 1 " in md and str(study.best_trial.number) in md
    assert "loses to it on test_accuracy" in md  # the default reference wins on accuracy
    line = next(ln for ln in md.splitlines() if ln.startswith("Pareto-optimal trials over"))
    for part in ("val_loss (min)", "test_loss (min)", "test_accuracy (max)"):
        assert part in line
    # every metric of the toy objective improves with val_loss: only the best is Pareto optimal
    assert line.count("trial ") == 1 and f"trial {study.best_trial.number} (" in line
    with paths["trials"].open() as fh:
        assert len(list(csv.DictReader(fh))) == len(study.trials)


def test_report_subcommand_prints_table_and_verdict(tmp_path, capsys):
    import argparse

    from llmhpo.cli import report

    study, _ = make_study(tmp_path, n=4)
    record_references(study, ToyLoRA())
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers())
    args = parser.parse_args(["report", str(tmp_path / "study.db"), "--out",
                              str(tmp_path / "rep"), "--test-metrics", "test_accuracy"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "base model (no fine-tuning)" in out
    assert f"VERDICT: best trial {study.best_trial.number} beats every reference" in out
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == [
        "history.png", "parallel_coordinates.png", "report.html", "results.md", "trials.csv"]
