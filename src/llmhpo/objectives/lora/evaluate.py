"""Evaluation: response-token loss and exact-match accuracy of greedy answers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "response_scores",
    "example_scores",
    "exact_match_flags",
    "response_loss",
    "generate_answers",
    "normalize_answer",
    "exact_match",
    "peak_memory_mb",
]


def example_scores(
    model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    max_seq_len: int = 128,
    batch_size: int = 16,
    system: str | None = None,
) -> tuple[list[float], list[int], list[bool]]:
    """Per record: summed response-token cross-entropy, number of response tokens, and whether
    greedy decoding would produce the gold answer (see :func:`response_scores`); one
    teacher-forced forward pass per batch. These are what bootstrap intervals resample."""
    import torch

    from llmhpo.objectives.lora.data import IGNORE_INDEX, collate, encode_example

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    enc = [encode_example(tokenizer, r, max_seq_len, system) for r in records]
    sums: list[float] = []
    counts: list[int] = []
    hits: list[bool] = []
    with torch.no_grad():
        for i in range(0, len(enc), batch_size):
            b = {k: v.to(device) for k, v in collate(enc[i:i + batch_size], pad).items()}
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            logits, labels = logits[:, :-1].float(), b["labels"][:, 1:]
            tok_loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                ignore_index=IGNORE_INDEX, reduction="none",
            ).reshape(labels.shape)
            scored = labels != IGNORE_INDEX
            pred = logits.argmax(-1)
            for row in range(labels.shape[0]):
                sums.append(float(tok_loss[row][scored[row]].sum()))
                counts.append(int(scored[row].sum()))
                pos = scored[row].nonzero().flatten().tolist()
                hit = False
                if pos:
                    body, end = pos[:-1], pos[-1]  # answer tokens, then the end-of-turn label
                    if bool((pred[row, body] == labels[row, body]).all()):
                        hit = _ends_answer(tokenizer, int(pred[row, end]), int(labels[row, end]))
                hits.append(bool(hit))
    return sums, counts, hits


def response_scores(
    model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    max_seq_len: int = 128,
    batch_size: int = 16,
    system: str | None = None,
) -> tuple[float, float]:
    """``(loss, forced_exact_match)`` from one teacher-forced forward pass per batch.

    ``loss`` is the mean cross-entropy per response token (prompt tokens excluded), weighted by
    tokens: Tribes et al.'s validation loss. ``forced_exact_match`` is the fraction of records
    where greedy decoding would generate the gold answer token for token and then end it:
    every answer token is the model's argmax given the gold prefix, and the argmax after the
    answer is the end-of-turn token, a newline or a period (what :func:`normalize_answer` cuts
    off). It costs nothing beyond the loss pass; it is a little stricter than
    :func:`exact_match` on generated text, which also forgives case, quotes and whitespace.
    """
    if not records:
        return float("nan"), float("nan")
    sums, counts, hits = example_scores(model, tokenizer, records, max_seq_len, batch_size,
                                        system)
    return sum(sums) / max(sum(counts), 1), sum(hits) / len(hits)


def response_loss(
    model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    max_seq_len: int = 128,
    batch_size: int = 16,
    system: str | None = None,
) -> float:
    """Mean cross-entropy per response token (prompt tokens excluded), token-weighted."""
    return response_scores(model, tokenizer, records, max_seq_len, batch_size, system)[0]


def _ends_answer(tokenizer: Any, token: int, end_label: int) -> bool:
    """Whether generating ``token`` right after the answer ends it as normalize_answer sees it."""
    if token == end_label or token == tokenizer.eos_token_id:
        return True
    text = tokenizer.decode([token])
    return text.startswith("\n") or text.strip() == "."


def generate_answers(
    model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    max_new_tokens: int = 16,
    batch_size: int = 16,
    system: str | None = None,
) -> list[str]:
    """Greedy answers to the prompts of ``records`` (left-padded batches)."""
    import torch

    from llmhpo.objectives.lora.data import format_prompt

    device = next(model.parameters()).device
    out: list[str] = []
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for i in range(0, len(records), batch_size):
            prompts = [format_prompt(tokenizer, r, system) for r in records[i:i + batch_size]]
            enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.no_grad():
                gen = model.generate(
                    **enc,
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            out.extend(tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:],
                                              skip_special_tokens=True))
    finally:
        tokenizer.padding_side = old_side
    return out


def normalize_answer(text: str, ignore_case: bool = True) -> str:
    """The first non-empty line without surrounding whitespace, quotes or a final period,
    inner whitespace collapsed, lower-cased unless ``ignore_case`` is false."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    s = lines[0].strip() if lines else ""
    s = s.strip("\"'` ")
    s = s[:-1] if s.endswith(".") else s
    s = re.sub(r"\s+", " ", s).strip()
    return s.lower() if ignore_case else s


def exact_match_flags(
    predictions: Sequence[str],
    references: Sequence[str],
    ignore_case: bool | Sequence[bool] = True,
) -> list[bool]:
    """Per pair: the prediction equals its reference after :func:`normalize_answer`.

    ``ignore_case`` is one flag for all pairs or one per pair (e.g. false for the built-in
    ``uppercase`` family, whose answers are all about case).
    """
    n = len(references)
    flags = [ignore_case] * n if isinstance(ignore_case, bool) else list(ignore_case)
    if len(predictions) != n or len(flags) != n:
        raise ValueError(
            f"{len(predictions)} predictions and {len(flags)} case flags for {n} references; "
            "expected equal lengths"
        )
    return [
        normalize_answer(p, f) == normalize_answer(r, f)
        for p, r, f in zip(predictions, references, flags, strict=True)
    ]


def exact_match(
    predictions: Sequence[str],
    references: Sequence[str],
    ignore_case: bool | Sequence[bool] = True,
) -> float:
    """Fraction of predictions equal to their reference (:func:`exact_match_flags`)."""
    flags = exact_match_flags(predictions, references, ignore_case)
    return sum(flags) / len(flags) if flags else float("nan")


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process: CUDA allocator peak on GPU, peak RSS on CPU (MiB)."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
