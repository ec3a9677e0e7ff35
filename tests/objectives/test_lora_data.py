"""Alpaca-format data: field mapping, loss masking, truncation, padding, mixing by ratio."""

import json

import pytest
from lora_tiny import tiny_tokenizer  # noqa: F401 - fixture

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.data import (
    IGNORE_INDEX,
    build_splits,
    collate,
    encode_example,
    format_prompt,
    load_records,
    normalize_record,
)

REC = {"instruction": "Compute the sum.", "input": "2 + 3", "output": "5"}


def test_dolly_fields_are_mapped_to_alpaca():
    r = normalize_record({"instruction": "Q", "context": "C", "response": "A", "category": "x"})
    assert r == {"instruction": "Q", "input": "C", "output": "A"}
    with pytest.raises(InvalidConfigError, match="output"):
        normalize_record({"instruction": "Q"})


def test_loss_is_masked_on_the_prompt(tiny_tokenizer):  # noqa: F811
    enc = encode_example(tiny_tokenizer, REC, max_len=256)
    prompt = tiny_tokenizer(format_prompt(tiny_tokenizer, REC), add_special_tokens=False)
    n_prompt = len(prompt["input_ids"])
    assert n_prompt > 10
    assert enc["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    answer = enc["labels"][n_prompt:]
    assert IGNORE_INDEX not in answer
    assert tiny_tokenizer.decode(answer) == "5<|im_end|>"  # the answer and the end of turn
    assert enc["input_ids"][n_prompt:] == answer


def test_truncation_cuts_the_prompt_and_keeps_the_answer(tiny_tokenizer):  # noqa: F811
    enc = encode_example(tiny_tokenizer, {**REC, "output": "12345"}, max_len=10)
    assert len(enc["input_ids"]) == len(enc["labels"]) == 10
    answer = [t for t in enc["labels"] if t != IGNORE_INDEX]
    assert tiny_tokenizer.decode(answer) == "12345<|im_end|>"
    assert enc["labels"][:4] == [IGNORE_INDEX] * 4  # the last 4 prompt tokens are kept


def test_chat_template_system_prompt_and_fallback(tiny_tokenizer):  # noqa: F811
    text = format_prompt(tiny_tokenizer, REC)
    assert text.startswith("<|im_start|>user\nCompute the sum.\n\n2 + 3<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    assert format_prompt(tiny_tokenizer, REC, "Be brief.").startswith(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user")

    class NoTemplate:
        chat_template = None

    plain = format_prompt(NoTemplate(), REC)
    assert "### Instruction:\nCompute the sum." in plain and "### Input:\n2 + 3" in plain
    assert plain.endswith("### Response:\n")


def test_collate_pads_right_and_masks_padding():
    a = {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}
    b = {"input_ids": [8], "labels": [8]}
    out = collate([a, b], pad_id=0)
    assert out["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert out["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def _write(path, n, tag, jsonl=True):
    rows = [{"instruction": f"{tag} {i}", "input": "", "output": str(i)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) if jsonl else json.dumps(rows))
    return str(path)


def test_local_files_are_mixed_by_ratio_in_every_split(tmp_path):
    alpaca = _write(tmp_path / "alpaca.jsonl", 200, "alpaca")
    dolly = _write(tmp_path / "dolly.json", 100, "dolly", jsonl=False)
    assert len(load_records(dolly)) == 100
    cfg = {"sources": [{"path": alpaca, "ratio": 0.7}, {"path": dolly, "ratio": 0.3}],
           "n_train": 100, "n_val": 20, "n_test": 10, "seed": 0}
    s = build_splits(cfg)
    for split, n in (("train", 100), ("validation", 20), ("test", 10)):
        assert len(s[split]) == n
        share = sum(r["instruction"].startswith("alpaca") for r in s[split]) / n
        assert share == pytest.approx(0.7)  # Tribes et al. 2023's 70/30 mix in every split
    seen = [{r["instruction"] for r in s[k]} for k in s]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert build_splits(cfg) == s
    one = build_splits({"source": alpaca, "n_train": 5, "n_val": 2, "n_test": 0})
    assert [len(one[k]) for k in ("train", "validation", "test")] == [5, 2, 0]


def test_builtin_source_is_the_generated_dataset():
    s = build_splits({"source": "builtin", "n_train": 12, "n_val": 3, "n_test": 3,
                      "families": ["add"]})
    assert [len(s[k]) for k in ("train", "validation", "test")] == [12, 3, 3]
    assert {r["family"] for r in s["train"]} == {"add"}


def test_bad_data_config_names_the_problem(tmp_path):
    with pytest.raises(InvalidConfigError, match="does not exist"):
        load_records(str(tmp_path / "missing.jsonl"))
    with pytest.raises(InvalidConfigError, match="data file './data/train' does not exist"):
        load_records("./data/train")  # a path, not a hub id: no hub request
    with pytest.raises(InvalidConfigError, match="bogus"):
        build_splits({"bogus": 1})
    with pytest.raises(InvalidConfigError, match="'train' must be a non-negative integer"):
        build_splits({"n_train": "ten"})
    small = _write(tmp_path / "s.jsonl", 5, "s")
    with pytest.raises(InvalidConfigError, match="5 records"):
        build_splits({"sources": [{"path": small}], "n_train": 10})
    with pytest.raises(InvalidConfigError, match="ratios"):
        build_splits({"sources": [{"path": small, "ratio": -1}]})
