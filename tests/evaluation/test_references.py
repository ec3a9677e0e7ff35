from reporting_helpers import DEFAULTS, ToyLoRA, loss_of, make_study

import llmhpo
from llmhpo.evaluation import get_references, record_references
from llmhpo.executors import ProcessExecutor


def test_references_recorded_once_and_not_recomputed_on_resume(tmp_path):
    study, storage = make_study(tmp_path, n=3)
    obj = ToyLoRA()
    refs = record_references(study, obj)
    assert sorted(refs) == ["base", "peft_default"]
    assert obj.calls == [("reference", "base"), ("reference", "peft_default")]
    assert refs["base"]["metrics"] == ToyLoRA().base
    assert refs["base"]["params"] is None and refs["base"]["state"] == "complete"
    assert refs["peft_default"]["params"] == DEFAULTS
    assert refs["peft_default"]["metrics"]["val_loss"] == loss_of(DEFAULTS)

    # a resumed study (new process in real life: fresh objects from the same SQLite file)
    resumed = llmhpo.load_study("toy", storage)
    obj2 = ToyLoRA(base={"val_loss": 99.0})
    again = record_references(resumed, obj2)
    assert obj2.calls == []
    assert again == refs
    assert get_references(llmhpo.load_study("toy", storage)) == refs


def test_failed_reference_is_data_and_retried_only_on_request(tmp_path):
    study, storage = make_study(tmp_path, n=2)
    refs = record_references(study, ToyLoRA(fail=("peft_default",)))
    rec = refs["peft_default"]
    assert rec["state"] == "failed"
    assert "cannot evaluate peft_default" in rec["error"]
    assert rec["metrics"] == {}
    assert refs["base"]["state"] == "complete"

    resumed = llmhpo.load_study("toy", storage)
    obj = ToyLoRA()
    record_references(resumed, obj)
    assert obj.calls == []  # failures are not silently retried
    fixed = record_references(resumed, obj, retry_failed=True)
    assert obj.calls == [("reference", "peft_default")]
    assert fixed["peft_default"]["state"] == "complete"


def test_objective_without_references_records_nothing(tmp_path):
    study, _ = make_study(tmp_path, n=2)

    def plain(params, ctx):
        return loss_of(params)

    assert record_references(study, plain) == {}
    assert "references" not in study.user_attrs


def test_references_run_in_a_process_pool(tmp_path):
    study, _ = make_study(tmp_path, n=2)
    with ProcessExecutor(1) as ex:
        refs = record_references(study, ToyLoRA(), executor=ex, names=["base"])
    assert list(refs) == ["base"]
    assert refs["base"]["metrics"]["val_loss"] == 5.0


def test_objective_spec_from_the_registry_is_unwrapped(tmp_path):
    from llmhpo.objectives.registry import ObjectiveSpec

    study, _ = make_study(tmp_path, n=1, sqlite=False)
    obj = ToyLoRA()
    refs = record_references(study, ObjectiveSpec(obj, direction="minimize", metric="val_loss"))
    assert sorted(refs) == ["base", "peft_default"] and len(obj.calls) == 2
