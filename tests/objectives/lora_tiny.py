"""Support of the tests/objectives/test_lora_*.py files: a tiny random LLaMA and a
character-level tokenizer with a chat template, built in well under a second."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#: Hyperparameters at which the tiny model learns in a few steps.
PARAMS = {"learning_rate": 1e-2, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0}


def make_tokenizer():
    """A character-level tokenizer (one token per printable character) with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<|im_start|>", "<|im_end|>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + list(string.printable))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = _CHAT_TEMPLATE
    return tok


def make_tiny_llama(tok, seed: int = 0):
    """A random 2-layer LLaMA (hidden size 32) over ``tok``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(cfg).eval()


def tiny_config(model_dir, **sections):
    """An objective config on the tiny model: 3 steps, 24/6/6 examples; ``sections`` update
    the sections (``train={...}``) or set top-level keys."""
    cfg = {
        "model": str(model_dir),
        "device": "cpu",
        "data": {"n_train": 24, "n_val": 6, "n_test": 6, "seed": 0},
        "train": {"steps": 3, "batch_size": 4, "max_seq_len": 96},
        "eval": {"max_new_tokens": 4, "batch_size": 8},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A tiny LLaMA saved with ``save_pretrained`` (loadable by path like any HF model)."""
    d = tmp_path_factory.mktemp("tiny_llama")
    make_tiny_llama(tiny_tokenizer).save_pretrained(str(d))
    tiny_tokenizer.save_pretrained(str(d))
    return d
