"""Benchmark accuracy through lm-evaluation-harness (Davouse & Talbi 2025: HellaSwag objective,
MMLU test).

Tasks are named as in lm-eval (``hellaswag``, ``mmlu``, ...; those download their data from the
hub). llmhpo ships offline tasks defined on local files in ``lmeval_tasks/``, found through
``TaskManager(include_path=...)``: ``llmhpo_arith_mc``, a 4-way multiple-choice version of the
built-in arithmetic families. Results are flattened to ``"<task>/<metric>"``
(``"llmhpo_arith_mc/acc"``), plus ``"<task>/n_samples"``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmhpo._imports import require

__all__ = ["TASKS_DIR", "OFFLINE_TASKS", "run_lm_eval", "write_arith_mc"]

#: Directory of llmhpo's packaged lm-eval task definitions and data.
TASKS_DIR = Path(__file__).with_name("lmeval_tasks")

#: The packaged tasks that need no network.
OFFLINE_TASKS = ("llmhpo_arith_mc",)

#: Seed of the packaged ``llmhpo_arith_mc`` data (distinct from the default data seed 0).
ARITH_MC_SEED = 1234


def write_arith_mc(path: str | Path, n: int = 100, seed: int = ARITH_MC_SEED) -> Path:
    """Generate the ``llmhpo_arith_mc`` data: ``n`` questions of the built-in ``add``, ``sub``
    and ``mul`` families, each with 4 choices of which exactly one is the answer.

    Each line is ``{"a", "op", "b", "choices": [4 numbers as text], "label": index}``; the
    distractors are the answer shifted by distinct small nonzero offsets.
    """
    from llmhpo.objectives.lora.tasks import generate_examples

    r = random.Random(seed)
    rows = []
    for ex in generate_examples(n, seed, ["add", "sub", "mul"]):
        a, op, b = ex["input"].split()
        answer = int(ex["output"])
        choices = [answer] + [answer + d for d in r.sample([-10, -2, -1, 1, 2, 10], 3)]
        r.shuffle(choices)
        rows.append({"a": int(a), "op": op, "b": int(b), "choices": [str(c) for c in choices],
                     "label": choices.index(answer)})
    path = Path(path)
    path.write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
    return path


def run_lm_eval(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str],
    *,
    limit: int | float | None = None,
    batch_size: int = 8,
    num_fewshot: int | None = None,
) -> dict[str, float]:
    """Evaluate an in-memory model on lm-eval ``tasks``; returns ``{"<task>/<metric>": value}``.

    Args:
        model: a causal LM; a PEFT model is evaluated with its adapter.
        tokenizer: its tokenizer.
        tasks: lm-eval task names; llmhpo's packaged offline tasks are always available.
        limit: evaluate only this many documents (or this fraction) per task.
        batch_size: lm-eval's batch size.
        num_fewshot: few-shot examples (``None``: the task's default).
    """
    if not tasks:
        return {}
    lm_eval = require("lm_eval", feature="lm-eval tasks")
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    res = lm_eval.simple_evaluate(
        model=lm,
        tasks=list(tasks),
        limit=limit,
        num_fewshot=num_fewshot,
        # indexing lm-eval's thousands of built-in task files takes seconds: skip it when only
        # llmhpo's own offline tasks are asked for
        task_manager=TaskManager(include_path=str(TASKS_DIR),
                                 include_defaults=not set(tasks) <= set(OFFLINE_TASKS)),
        log_samples=False,
        bootstrap_iters=0,
        verbosity="ERROR",
    )
    out: dict[str, float] = {}
    for task, metrics in (res or {}).get("results", {}).items():
        for key, val in metrics.items():
            name = key.partition(",")[0]  # "acc,none" -> "acc"
            if name.endswith("_stderr") or name in ("alias", "sample_len") or isinstance(
                    val, bool):
                continue
            if isinstance(val, (int, float)):
                out[f"{task}/{name}"] = float(val)
    for task, n in (res or {}).get("n-samples", {}).items():
        out[f"{task}/n_samples"] = float(n.get("effective", n.get("original", 0)))
    return out
