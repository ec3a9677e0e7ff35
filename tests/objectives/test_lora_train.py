"""The training loop on a tiny random LLaMA: learning, adapter removal, schedule, failures."""

import pytest
import torch
from lora_tiny import PARAMS, make_tiny_llama, tiny_tokenizer  # noqa: F401 - fixture

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.base import TrialContext
from llmhpo.objectives.lora.data import encode_example
from llmhpo.objectives.lora.evaluate import response_loss
from llmhpo.objectives.lora.tasks import generate_splits
from llmhpo.objectives.lora.train import TrainConfig, lora_adapter, train_lora


@pytest.fixture()
def model(tiny_tokenizer):  # noqa: F811
    return make_tiny_llama(tiny_tokenizer)


def test_a_few_steps_lower_the_loss_at_a_reasonable_lr(model, tiny_tokenizer):  # noqa: F811
    recs = generate_splits(16, 0, 0, families=["add"])["train"]
    cfg = TrainConfig(steps=16, batch_size=8, max_seq_len=96)
    with lora_adapter(model, PARAMS, cfg.target_modules) as pm:
        before = response_loss(pm, tiny_tokenizer, recs, 96)
        out = train_lora(pm, tiny_tokenizer, recs, PARAMS, cfg)
        after = response_loss(pm, tiny_tokenizer, recs, 96)
    assert out["steps"] == 16 and out["tokens_per_s"] > 0
    n_tokens = sum(len(encode_example(tiny_tokenizer, r, 96)["input_ids"]) for r in recs)
    assert out["train_tokens"] == 8 * n_tokens  # 16 batches of 8 = 8 epochs; pads not counted
    assert after < before - 0.1
    assert out["train_loss"] < out["train_loss_first"]


def test_base_weights_are_bitwise_unchanged_after_trials(model, tiny_tokenizer):  # noqa: F811
    recs = generate_splits(16, 0, 0)["train"]
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=3, batch_size=4, max_seq_len=96)
    for _ in range(2):
        with lora_adapter(model, PARAMS, cfg.target_modules) as pm:
            train_lora(pm, tiny_tokenizer, recs, PARAMS, cfg)
            assert any("lora_" in n for n, _ in pm.named_parameters())
    after = model.state_dict()
    assert set(after) == set(before)  # no LoRA layers left behind
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.requires_grad for p in model.parameters())
    assert not hasattr(model, "peft_config")


def test_lora_targets_only_the_configured_modules(model):
    with lora_adapter(model, PARAMS, ["q_proj", "v_proj"]) as pm:
        names = {n.split(".")[-4] for n, p in pm.named_parameters() if p.requires_grad}
        n_trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    assert names == {"q_proj", "v_proj"}
    c = model.config
    kv = c.num_key_value_heads * (c.hidden_size // c.num_attention_heads)
    r = PARAMS["lora_rank"]  # A: r x in, B: out x r, per layer; q: h -> h, v: h -> kv
    assert n_trainable == c.num_hidden_layers * (r * c.hidden_size + c.hidden_size * r
                                                 + r * c.hidden_size + kv * r)


def test_schedule_is_transformers_linear_with_warmup(model, tiny_tokenizer):  # noqa: F811
    from transformers import get_linear_schedule_with_warmup

    recs = generate_splits(8, 0, 0)["train"]
    cfg = TrainConfig(steps=6, batch_size=4, warmup_steps=2, max_seq_len=64)
    seen = []
    orig = torch.optim.AdamW.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)

    torch.optim.AdamW.step = spy
    try:
        with lora_adapter(model, PARAMS, cfg.target_modules) as pm:
            train_lora(pm, tiny_tokenizer, recs, PARAMS, cfg)
    finally:
        torch.optim.AdamW.step = orig
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=PARAMS["learning_rate"])
    sched = get_linear_schedule_with_warmup(opt, 2, 6)
    expected = []
    for _ in range(6):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx(expected)


def test_time_limit_and_nan_raise_with_progress(model, tiny_tokenizer):  # noqa: F811
    recs = generate_splits(8, 0, 0)["train"]
    cfg = TrainConfig(steps=3, batch_size=4, max_seq_len=64)
    with lora_adapter(model, PARAMS, cfg.target_modules) as pm:
        with pytest.raises(TimeoutError, match="0 of 3 steps") as info:
            train_lora(pm, tiny_tokenizer, recs, PARAMS, cfg, TrialContext(0, time_limit=-1.0))
    assert info.value.metrics["steps"] == 0
    bad = {**PARAMS, "learning_rate": 1e30}
    with lora_adapter(model, bad, cfg.target_modules) as pm:
        with pytest.raises(FloatingPointError, match="training loss is nan"):
            train_lora(pm, tiny_tokenizer, recs, bad, cfg)


def test_epochs_grad_accum_and_bad_settings(model, tiny_tokenizer):  # noqa: F811
    recs = generate_splits(12, 0, 0)["train"]
    cfg = TrainConfig(epochs=2, batch_size=2, grad_accum=3, max_seq_len=64)
    assert cfg.n_steps(len(recs)) == 4  # 2 passes x 12 examples / (2 x 3) per step
    with lora_adapter(model, PARAMS, cfg.target_modules) as pm:
        assert train_lora(pm, tiny_tokenizer, recs, PARAMS, cfg)["steps"] == 4
    with pytest.raises(InvalidConfigError, match="train.batch_size must be a positive integer"):
        TrainConfig.from_mapping({"batch_size": 0})
    with pytest.raises(InvalidConfigError, match="unknown train keys"):
        TrainConfig.from_mapping({"stepz": 3})
    with pytest.raises(InvalidConfigError, match="lora_rank must be >= 1"):
        with lora_adapter(model, {"lora_rank": 0}, cfg.target_modules):
            pass
