"""Instruction data: Alpaca-format loading, mixing by ratio, chat formatting, loss masking.

Records are ``{"instruction", "input", "output"}`` (Alpaca). Dolly's field names
(``context``, ``response``) are accepted too. Sources are local JSON / JSONL files or hub
dataset ids (through ``datasets``). Several sources are mixed by ratio *per split*, so train,
validation and test carry the same mix (Tribes et al. 2023: 70% Alpaca, 30% Dolly).

Prompts are formatted with the tokenizer's chat template (a plain Alpaca template when it has
none); the loss is on response tokens only: prompt and padding positions get label ``-100``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.model import looks_like_path

__all__ = [
    "IGNORE_INDEX",
    "SPLITS",
    "DATA_KEYS",
    "DATA_DEFAULTS",
    "normalize_record",
    "load_records",
    "build_splits",
    "format_prompt",
    "encode_example",
    "collate",
]

IGNORE_INDEX = -100
SPLITS = ("train", "validation", "test")
#: Keys of the ``data`` section of the objective's config.
DATA_KEYS = ("source", "sources", "n_train", "n_val", "n_test", "seed", "families")
#: Defaults of the ``data`` config (the objective's and :func:`build_splits`').
DATA_DEFAULTS: dict[str, Any] = {"source": "builtin", "n_train": 256, "n_val": 32, "n_test": 32,
                                 "seed": 0}
_ALIASES = {"input": ("input", "context"), "output": ("output", "response")}

_ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task{ctx}. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n{input_block}### Response:\n"
)


def normalize_record(rec: Mapping[str, Any]) -> dict[str, str]:
    """An Alpaca record ``{"instruction", "input", "output"}`` from Alpaca or Dolly fields."""
    if "instruction" not in rec:
        raise InvalidConfigError(
            f"an instruction record needs an 'instruction' field, got keys {sorted(rec)}"
        )
    out = {"instruction": str(rec["instruction"])}
    for key, names in _ALIASES.items():
        val = next((rec[n] for n in names if n in rec and rec[n] is not None), None)
        if val is None and key == "output":
            raise InvalidConfigError(
                f"an instruction record needs one of the fields {list(names)}, got {sorted(rec)}"
            )
        out[key] = "" if val is None else str(val)
    if "family" in rec:
        out["family"] = str(rec["family"])
    return out


def load_records(path: str, split: str = "train") -> list[dict[str, str]]:
    """Alpaca records from a local ``.json`` / ``.jsonl`` file or a hub dataset id."""
    p = Path(path).expanduser()
    if p.is_file():
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
            if isinstance(rows, Mapping):  # {"train": [...], ...} or {"data": [...]}
                rows = rows.get(split) or rows.get("data") or []
        if not isinstance(rows, list):
            raise InvalidConfigError(f"{path}: expected a list of records, got {type(rows)}")
    elif p.suffix in (".json", ".jsonl") or looks_like_path(path):  # not a hub id
        raise InvalidConfigError(f"data file {path!r} does not exist")
    else:
        import datasets

        try:
            rows = list(datasets.load_dataset(path, split=split))
        except (OSError, ValueError) as exc:  # no such dataset or split, no network or cache
            reason = " ".join(str(exc).split())
            raise InvalidConfigError(
                f"data source {path!r} (split {split!r}): cannot load it from the Hugging Face "
                f"hub or its cache: {reason}"
            ) from exc
    return [normalize_record(r) for r in rows]


def _take(records: list[dict[str, str]], counts: Sequence[int]) -> list[list[dict[str, str]]]:
    out, i = [], 0
    for c in counts:
        out.append(records[i:i + c])
        i += c
    return out


def build_splits(cfg: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Train / validation / test records from a ``data`` config (see docs/lora.md).

    ``{"source": "builtin", n_train, n_val, n_test, seed, families}`` generates the built-in
    dataset; ``{"sources": [{"path": ..., "ratio": 0.7, "split": "train"}, ...], n_train,
    n_val, n_test, seed}`` loads and mixes Alpaca-format sources, each shuffled with ``seed``
    and cut into its own disjoint train / validation / test parts, ``round(ratio * n)`` of each
    split from each source.
    """
    bad = set(cfg) - set(DATA_KEYS)
    if bad:
        raise InvalidConfigError(
            f"unknown data keys {sorted(bad)}, expected some of {sorted(DATA_KEYS)}"
        )
    n = {"train": cfg.get("n_train", DATA_DEFAULTS["n_train"]),
         "validation": cfg.get("n_val", DATA_DEFAULTS["n_val"]),
         "test": cfg.get("n_test", DATA_DEFAULTS["n_test"])}
    for split, v in n.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidConfigError(
                f"data size of split {split!r} must be a non-negative integer, got {v!r}"
            )
    seed = int(cfg.get("seed", 0))
    sources = cfg.get("sources")
    if sources is None:
        if cfg.get("source", "builtin") != "builtin":
            sources = [{"path": cfg["source"], "ratio": 1.0}]
        else:
            from llmhpo.objectives.lora.tasks import generate_splits

            return generate_splits(n["train"], n["validation"], n["test"], seed,
                                   cfg.get("families"))
    if not isinstance(sources, list) or not sources:
        raise InvalidConfigError(f"data.sources must be a non-empty list, got {sources!r}")
    ratios = [float(s.get("ratio", 1.0)) if isinstance(s, Mapping) else -1.0 for s in sources]
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise InvalidConfigError(
            f"data.sources must be mappings {{path, ratio}} with ratios >= 0 and a positive "
            f"sum, got {sources!r}"
        )
    ratios = [r / sum(ratios) for r in ratios]
    out: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    for k, (src, ratio) in enumerate(zip(sources, ratios, strict=True)):
        if not isinstance(src, Mapping) or "path" not in src:
            raise InvalidConfigError(f"data source {src!r} has no 'path'")
        recs = load_records(src["path"], src.get("split", "train"))
        random.Random(seed + k).shuffle(recs)
        counts = [round(ratio * n[s]) for s in SPLITS]
        if sum(counts) > len(recs):
            raise InvalidConfigError(
                f"data source {src['path']!r} has {len(recs)} records, "
                f"the splits need {sum(counts)}"
            )
        for split, part in zip(SPLITS, _take(recs, counts), strict=True):
            out[split].extend(part)
    for i, split in enumerate(SPLITS):
        random.Random(seed + 100 + i).shuffle(out[split])
    return out


def _user_text(rec: Mapping[str, str]) -> str:
    return rec["instruction"] + (f"\n\n{rec['input']}" if rec.get("input") else "")


def format_prompt(tokenizer: Any, rec: Mapping[str, str], system: str | None = None) -> str:
    """The prompt text of ``rec`` up to where the answer starts (chat template if any).

    ``system`` is a system message; ``None`` leaves the template's default (if it has one).
    """
    if getattr(tokenizer, "chat_template", None):
        msgs = [] if system is None else [{"role": "system", "content": system}]
        return tokenizer.apply_chat_template(
            msgs + [{"role": "user", "content": _user_text(rec)}],
            tokenize=False,
            add_generation_prompt=True,
        )
    inp = rec.get("input") or ""
    return _ALPACA_TEMPLATE.format(
        ctx=", paired with an input that provides further context" if inp else "",
        instruction=rec["instruction"],
        input_block=f"### Input:\n{inp}\n\n" if inp else "",
    )


def encode_example(
    tokenizer: Any, rec: Mapping[str, str], max_len: int, system: str | None = None
) -> dict[str, list[int]]:
    """Token ids of prompt + answer + end-of-turn, labels ``-100`` on the prompt.

    Sequences longer than ``max_len`` are cut from the left of the prompt, so the answer (what
    the loss is about) is kept whole when it fits.
    """
    text = format_prompt(tokenizer, rec, system)
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    answer = tokenizer(rec["output"], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        answer = answer + [tokenizer.eos_token_id]
    answer = answer[:max_len]
    prompt = prompt[max(0, len(prompt) + len(answer) - max_len):]
    return {"input_ids": prompt + answer, "labels": [IGNORE_INDEX] * len(prompt) + answer}


def collate(batch: Sequence[Mapping[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors ``input_ids``, ``attention_mask``, ``labels`` (-100 on padding)."""
    import torch

    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        labels[i, :n] = torch.tensor(b["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
