import pytest
from reporting_helpers import SPACE, ToyLoRA, make_study

import llmhpo
from llmhpo.exceptions import InvalidConfigError
from llmhpo.reporting import make_verdict, record_references
from llmhpo.reporting.verdict import _fmt_pair


def _refs(base, default):
    return {
        "base": {"params": None, "state": "complete", "metrics": base},
        "peft_default": {"params": {"learning_rate": 1e-5, "lora_rank": 8}, "state": "complete",
                         "metrics": default},
    }


def test_beats_both_references(tmp_path):
    study, _ = make_study(tmp_path, n=10, sqlite=False)
    record_references(study, ToyLoRA())
    v = make_verdict(study, test_metrics=["test_accuracy"])
    best = study.best_trial
    assert v.best_trial == best.number
    assert v.beats_all and v.beats("base") and v.beats("peft_default")
    assert not v.suspicious
    assert f"Best trial {best.number} beats the base model" in v.text
    assert "does NOT" not in v.text
    c = next(c for c in v.comparisons if c.reference == "base" and c.metric == "val_loss")
    assert c.best == best.value and c.ref == 5.0
    assert c.margin == pytest.approx(5.0 - best.value)


def test_reference_better_on_test_metric_says_does_not_beat(tmp_path):
    study, _ = make_study(tmp_path, n=10, sqlite=False)
    record_references(study, ToyLoRA(default_acc=0.99))
    v = make_verdict(study, test_metrics={"test_accuracy": "maximize"})
    assert v.beats("peft_default", "val_loss")
    assert not v.beats("peft_default", "test_accuracy")
    assert not v.beats_all
    assert "loses to it on test_accuracy" in v.text
    assert "vs 0.9900" in v.text
    assert v.text.startswith(f"VERDICT: best trial {v.best_trial} does NOT beat every reference")
    c = next(c for c in v.comparisons
             if c.reference == "peft_default" and c.metric == "test_accuracy")
    assert c.margin < 0


def test_directions_of_objective_and_test_metric_are_respected(tmp_path):
    # maximize accuracy on validation; judge the test loss (minimize)
    def obj(params, ctx):
        acc = params["lora_rank"] / 64
        return {"val_accuracy": acc, "test_loss": 1.0 - acc}

    study = llmhpo.create_study(SPACE, metric="val_accuracy", direction="maximize",
                                study_name="max", budget=8)
    study.optimize(obj, show_progress=False)
    best = study.best_trial
    assert best.value == max(t.value for t in study.trials)
    acc = best.value
    refs = _refs({"val_accuracy": acc - 0.1, "test_loss": 1.0 - acc + 0.1},  # worse on both
                 {"val_accuracy": acc + 0.1, "test_loss": 1.0 - acc - 0.1})  # better on both
    v = make_verdict(study, references=refs, test_metrics="test_loss")  # direction inferred
    assert v.beats("base", "val_accuracy") and v.beats("base", "test_loss")
    assert not v.beats("peft_default", "val_accuracy")
    assert not v.beats("peft_default", "test_loss")
    assert "loses to the paper default (Tribes et al. 2023) on val_accuracy" in v.text
    # the same numbers judged with the test metric to be maximized flip that comparison
    v2 = make_verdict(study, references=refs, test_metrics={"test_loss": "maximize"})
    assert not v2.beats("base", "test_loss") and v2.beats("peft_default", "test_loss")


def test_best_equal_to_base_model_is_flagged(tmp_path):
    study, _ = make_study(tmp_path, n=6, sqlite=False)
    best = study.best_trial
    base = {"val_loss": best.value, "test_accuracy": best.metrics["test_accuracy"] * (1 + 1e-4)}
    v = make_verdict(study, references=_refs(base, {"val_loss": 100.0, "test_accuracy": 0.0}),
                     test_metrics=["test_accuracy"])
    assert v.indistinguishable_from_base and v.suspicious
    assert not v.beats("base")
    assert v.beats("peft_default")
    assert "indistinguishable from the base model" in v.text
    assert "within the tolerance" in v.text


def test_tiny_learning_rate_is_flagged(tmp_path):
    def obj(params, ctx):  # the smallest learning rate wins, as in the Kiwy3 runs
        return {"val_loss": params["learning_rate"]}

    study = llmhpo.create_study(
        llmhpo.SearchSpace([llmhpo.Float("learning_rate", 1e-10, 1e-1, log=True)]),
        metric="val_loss", study_name="lr", budget=40)
    study.optimize(obj, show_progress=False)
    assert study.best_trial.params["learning_rate"] < 1e-7
    v = make_verdict(study, references=_refs({"val_loss": 1.0}, {"val_loss": 1.0}))
    assert v.tiny_learning_rate and v.suspicious
    assert "barely moves" in v.text


def test_failed_reference_cannot_be_compared(tmp_path):
    study, _ = make_study(tmp_path, n=4)
    record_references(study, ToyLoRA(fail=("base",)))
    v = make_verdict(study, test_metrics=["test_accuracy"])
    base = [c for c in v.comparisons if c.reference == "base"]
    assert base and all(c.beats is None for c in base)
    assert not v.beats_all
    assert "Cannot compare with the base model (no fine-tuning)" in v.text
    assert "test failure" in v.text


def test_no_references_and_no_trials(tmp_path):
    study, _ = make_study(tmp_path, n=2, sqlite=False)
    v = make_verdict(study)
    assert not v.beats_all and "No reference evaluations" in v.text
    empty = llmhpo.create_study(SPACE, study_name="e")
    assert make_verdict(empty).best_trial is None


def test_unknown_test_metric_direction_is_an_error(tmp_path):
    study, _ = make_study(tmp_path, n=2, sqlite=False)
    with pytest.raises(InvalidConfigError, match="test_widgets"):
        make_verdict(study, test_metrics=["test_widgets"])


def test_numbers_are_shown_with_enough_digits_to_differ():
    assert _fmt_pair(1.23456, 1.23461) == ("1.23456", "1.23461")
    assert _fmt_pair(0.5, 0.25) == ("0.5000", "0.2500")


def test_auto_detected_test_metrics_skip_names_without_a_direction(tmp_path):
    def obj(params, ctx):
        return {"val_loss": params["lora_rank"], "test_widgets": 3.0, "test_accuracy": 0.5}

    study = llmhpo.create_study(SPACE, metric="val_loss", study_name="w", budget=3)
    study.optimize(obj, show_progress=False)
    v = make_verdict(study, references=_refs({"val_loss": 100.0, "test_accuracy": 0.1},
                                             {"val_loss": 100.0, "test_accuracy": 0.1}))
    assert {c.metric for c in v.comparisons} == {"val_loss", "test_accuracy"}
    assert v.beats_all
