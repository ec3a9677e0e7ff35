"""The llm suite's task: the LoRA objective on the built-in model, cut down for a benchmark."""

import importlib.util

import pytest

from llmhpo.bench.suites import get_task, suite_tasks


@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="lora extra missing")
def test_lora_task_is_the_cheap_validation_loss_objective():
    assert suite_tasks("llm") == ["lora"]
    task = get_task("lora")
    assert (task.suite, task.metric, task.optimum) == ("llm", "val_loss", 0.0)
    assert task.space.names == ["learning_rate", "lora_rank", "lora_alpha", "lora_dropout",
                                "weight_decay"]
    cfg = task.objective.config
    assert cfg["model"] == "smollm2-135m-instruct" and cfg["data"]["source"] == "builtin"
    assert cfg["train"]["steps"] == 10 and cfg["eval"]["accuracy"] == "none"
