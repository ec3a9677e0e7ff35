"""A small real study with everything the report can show: references, phases (TPE startup
then model-based), failures, learning curves, an assessment, sample answers and votes."""

from __future__ import annotations

import math
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

import llmhpo
from llmhpo import Float, Int, SearchSpace

SPACE = SearchSpace([Float("learning_rate", 1e-6, 1e-2, log=True), Int("lora_rank", 2, 64),
                     Float("lora_dropout", 0.0, 0.2)])


def loss_of(p: dict[str, Any]) -> float:
    return (1.0 + (math.log10(p["learning_rate"]) + 3.0) ** 2
            + ((p["lora_rank"] - 16) / 16) ** 2 + p["lora_dropout"])


class Toy:
    def references(self):
        return {"base": None, "peft_default": {"learning_rate": 1e-5, "lora_rank": 8,
                                               "lora_dropout": 0.05}}

    def evaluate_reference(self, params, ctx):
        if params is None:
            return {"val_loss": 5.0, "test_loss": 5.1, "test_accuracy": 0.02}
        v = loss_of(params)
        return {"val_loss": v, "test_loss": v + 0.1, "test_accuracy": 1 / (1 + v)}

    def assess(self, params, ctx, tasks=None):
        out = self.evaluate_reference(params, ctx)
        out["tokens_per_s"] = 500.0 if params is None else 2000.0 / params["lora_rank"] ** 0.5
        return out


def build_study(path: Path, *, n: int = 12, curves: bool = True) -> Any:
    """The study in ``path/study.db``; trials report learning curves as Optuna intermediate
    values (written through the storage while the trial runs, as a pruning-aware objective
    does)."""
    from llmhpo.compare.store import add_vote, set_answers
    from llmhpo.reporting import assess, record_references

    study = llmhpo.create_study(SPACE, optimizer="tpe", optimizer_kwargs={"n_startup_trials": 5},
                                metric="val_loss", storage=f"sqlite:///{path / 'study.db'}",
                                study_name="demo", budget=n, seed=1)
    record_references(study, Toy())
    storage = study._records.storage
    for i in range(n):
        (p,) = study.ask()
        if i == 3:
            study.tell(p, None, state=llmhpo.TrialState.INFEASIBLE, error="CUDA out of memory")
            continue
        v = loss_of(p.params)
        if curves:
            for step in range(0, 50, 5):
                curve = v + 3.0 * math.exp(-step / 12)
                storage.set_trial_intermediate_value(p.trial_id, step, curve)
        study.tell(p, {"val_loss": v, "test_loss": v + 0.1, "test_accuracy": 1 / (1 + v)})
    assess(study, Toy(), metrics="val_loss,tokens_per_s", top_k=4)
    best = study.best_trial
    set_answers(study, {
        "prompts": [{"prompt": "What is 17 + 25?", "expected": "42"},
                    {"prompt": "Reverse the word 'lamp'.", "expected": "pmal"},
                    {"prompt": "Convert 3 km to m.", "expected": "3000"}],
        "candidates": {
            "base": {"label": "base model (no fine-tuning)", "kind": "reference", "trial": None,
                     "answers": ["17 + 25 is a sum.", "lamp", "3 km"]},
            "peft_default": {"label": "default hyperparameters (PEFT)", "kind": "reference",
                             "trial": None, "answers": ["41", "plam", "300"]},
            f"trial_{best.number}": {"label": f"trial {best.number} (rank 1)", "kind": "trial",
                                     "trial": best.number, "answers": ["42", "pmal", "3000"]},
        },
    })
    rng = random.Random(0)
    keys = ["base", "peft_default", f"trial_{best.number}"]
    for i in range(12):
        a, b = rng.sample(keys, 2)
        add_vote(study, prompt=i % 3, a=a, b=b,
                 outcome="a" if keys.index(a) > keys.index(b) else "b")
    return study


def screenshot(page, tmp_path: Path, name: str, **kw) -> Path:
    """Take a screenshot into ``tmp_path`` (and ``$LLMHPO_SCREENSHOTS`` when set)."""
    path = tmp_path / name
    page.screenshot(path=str(path), **kw)
    assert path.stat().st_size > 10_000
    dest = os.environ.get("LLMHPO_SCREENSHOTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(dest) / name)
    return path


def missing(why: str) -> None:
    """Skip a browser test whose tool is missing; under CI (``CI`` set) fail instead: CI
    installs every tool (``.ci/run``), so a missing one is a broken setup, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)
