"""Evaluation: exact match on hand-made cases, the response loss by its definition, and the
teacher-forced accuracy against real greedy decoding."""

import math

import pytest
import torch
from lora_tiny import make_tiny_llama, tiny_tokenizer  # noqa: F401 - fixture

from llmhpo.objectives.lora.data import encode_example, format_prompt
from llmhpo.objectives.lora.evaluate import (
    exact_match,
    generate_answers,
    normalize_answer,
    response_loss,
    response_scores,
)
from llmhpo.objectives.lora.train import TrainConfig, lora_adapter, train_lora


def test_normalize_answer():
    assert normalize_answer("  95.\nBecause 37 + 58 = 95") == "95"
    assert normalize_answer('"Hello   World"') == "hello world"
    assert normalize_answer('"Hello   World"', ignore_case=False) == "Hello World"
    assert normalize_answer("") == ""


def test_exact_match_counts_a_hand_made_case():
    preds = ["95", " 95.", "The answer is 95", "hello", "HELLO", "1, 2,3"]
    golds = ["95", "95", "95", "HELLO", "HELLO", "1, 2, 3"]
    assert exact_match(preds, golds) == pytest.approx(4 / 6)  # 0, 1, 3, 4 match
    flags = [True, True, True, False, False, True]  # case-sensitive pairs: only "HELLO" hits
    assert exact_match(preds, golds, flags) == pytest.approx(3 / 6)
    assert math.isnan(exact_match([], []))
    with pytest.raises(ValueError, match="2 predictions and 1 case flags for 1 references"):
        exact_match(["a", "b"], ["a"])


def test_response_loss_is_the_token_mean_over_answers(tiny_tokenizer):  # noqa: F811
    model = make_tiny_llama(tiny_tokenizer)
    recs = [{"instruction": "x", "input": "", "output": "12"},
            {"instruction": "yy", "input": "z", "output": "345"}]
    total, count = 0.0, 0  # by definition: sum of -log p(answer token) / number of them
    for r in recs:
        e = encode_example(tiny_tokenizer, r, 128)
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([e["input_ids"]])).logits[0].log_softmax(-1)
        for pos, lab in enumerate(e["labels"]):
            if lab != -100:
                total -= float(logp[pos - 1, lab])
                count += 1
    assert count == 3 + 4  # answers + end-of-turn tokens
    assert response_loss(model, tiny_tokenizer, recs, 128, batch_size=2) == pytest.approx(
        total / count, rel=1e-4)


def test_forced_exact_match_equals_greedy_token_match(tiny_tokenizer):  # noqa: F811
    """Teacher-forced match == greedy decoding reproduces the answer and then ends it."""
    tok = tiny_tokenizer
    model = make_tiny_llama(tok, seed=1)
    special = set(tok.all_special_ids)
    recs, expected = [], []
    for i in range(40):  # answers = the model's own greedy continuation (plain characters)
        rec = {"instruction": f"q{i}", "input": "", "output": ""}
        ids = tok(format_prompt(tok, rec), add_special_tokens=False)["input_ids"]
        greedy = []
        with torch.no_grad():
            for _ in range(3):
                greedy.append(int(model(input_ids=torch.tensor([ids + greedy])).logits[0, -1]
                                  .argmax()))
        if special & set(greedy[:2]):
            continue
        recs.append({**rec, "output": tok.decode(greedy[:2])})
        end = greedy[2]
        expected.append(end == tok.eos_token_id or tok.decode([end]) in ("\n", "."))
    assert len(recs) >= 3
    _, forced = response_scores(model, tok, recs, 64, batch_size=8)
    assert forced == pytest.approx(sum(expected) / len(recs))
    wrong = [{**r, "output": r["output"][::-1] + "x"} for r in recs]  # never counts
    assert response_scores(model, tok, wrong, 64, batch_size=8)[1] == 0.0


def test_forced_and_generated_accuracy_agree_after_learning(tiny_tokenizer):  # noqa: F811
    model = make_tiny_llama(tiny_tokenizer)
    recs = [{"instruction": f"q{i}", "input": "", "output": "ab"} for i in range(8)]
    params = {"learning_rate": 3e-2, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0}
    cfg = TrainConfig(steps=40, batch_size=8, max_seq_len=64)
    with lora_adapter(model, params, cfg.target_modules) as pm:
        assert response_scores(pm, tiny_tokenizer, recs, 64)[1] == 0.0
        assert exact_match(generate_answers(pm, tiny_tokenizer, recs, 4), ["ab"] * 8) == 0.0
        train_lora(pm, tiny_tokenizer, recs, params, cfg)
        _, forced = response_scores(pm, tiny_tokenizer, recs, 64)
        answers = generate_answers(pm, tiny_tokenizer, recs, max_new_tokens=4)
    assert exact_match(answers, ["ab"] * 8) == 1.0  # the answer was learnt
    assert forced == 1.0
