"""lm-evaluation-harness through the packaged offline task, on the tiny model."""

import json

from lora_tiny import PARAMS, make_tiny_llama, tiny_tokenizer  # noqa: F401 - fixture

from llmhpo.objectives.lora.lmeval import TASKS_DIR, run_lm_eval, write_arith_mc
from llmhpo.objectives.lora.train import DEFAULT_TARGET_MODULES, lora_adapter


def test_packaged_data_matches_its_generator_and_is_correct(tmp_path):
    shipped = (TASKS_DIR / "llmhpo_arith_mc.jsonl").read_text()
    assert write_arith_mc(tmp_path / "x.jsonl").read_text() == shipped
    rows = [json.loads(line) for line in shipped.splitlines()]
    assert len(rows) == 100
    for row in rows:
        a, b = row["a"], row["b"]
        answer = {"+": a + b, "-": a - b, "*": a * b}[row["op"]]
        assert row["choices"][row["label"]] == str(answer)
        assert len(set(row["choices"])) == 4
    assert len({r["label"] for r in rows}) == 4  # the answer is not always in one place


def _check(out, n):
    assert out["llmhpo_arith_mc/n_samples"] == n
    for metric in ("acc", "acc_norm"):
        v = out[f"llmhpo_arith_mc/{metric}"]
        assert 0.0 <= v <= 1.0 and abs(v * n - round(v * n)) < 1e-9  # k right out of n


def test_offline_task_runs_on_the_tiny_model_and_its_adapter(tiny_tokenizer):  # noqa: F811
    model = make_tiny_llama(tiny_tokenizer)
    base = run_lm_eval(model, tiny_tokenizer, ["llmhpo_arith_mc"], limit=12, batch_size=4)
    _check(base, 12)
    with lora_adapter(model, PARAMS, DEFAULT_TARGET_MODULES) as pm:
        _check(run_lm_eval(pm, tiny_tokenizer, ["llmhpo_arith_mc"], limit=5, batch_size=4), 5)
    assert run_lm_eval(model, tiny_tokenizer, []) == {}
