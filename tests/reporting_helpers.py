"""Small real objectives with the reference / assess interface, shared by the reporting tests."""

from __future__ import annotations

import math
from typing import Any

import llmhpo
from llmhpo import Float, Int, SearchSpace

SPACE = SearchSpace([Float("learning_rate", 1e-6, 1e-2, log=True), Int("lora_rank", 2, 64)])
DEFAULTS = {"learning_rate": 1e-5, "lora_rank": 8}


def loss_of(p: dict[str, Any]) -> float:
    """A smooth bowl in (log10 lr, rank) with its minimum 1.0 at lr=1e-3, rank=16."""
    return 1.0 + (math.log10(p["learning_rate"]) + 3.0) ** 2 + ((p["lora_rank"] - 16) / 16) ** 2


class ToyLoRA:
    """A deterministic stand-in for the LoRA objective: val/test loss and accuracy.

    ``base`` and ``default_acc`` set the reference results; ``fail`` names references whose
    evaluation raises. Every evaluation is appended to ``calls``.
    """

    def __init__(self, base: dict[str, float] | None = None, default_acc: float | None = None,
                 fail: tuple[str, ...] = ()) -> None:
        self.base = base or {"val_loss": 5.0, "test_loss": 5.0, "test_accuracy": 0.05}
        self.default_acc = default_acc
        self.fail = fail
        self.calls: list[Any] = []

    def __call__(self, params: dict[str, Any], ctx: Any) -> dict[str, float]:
        self.calls.append(("trial", dict(params)))
        v = loss_of(params)
        return {"val_loss": v, "test_loss": v + 0.1, "test_accuracy": 1.0 / (1.0 + v),
                "tokens_per_s": 1000.0}

    def references(self) -> dict[str, dict[str, Any] | None]:
        return {"base": None, "peft_default": dict(DEFAULTS)}

    def evaluate_reference(self, params: dict[str, Any] | None, ctx: Any) -> dict[str, float]:
        name = "base" if params is None else "peft_default"
        self.calls.append(("reference", name))
        if name in self.fail:
            raise RuntimeError(f"cannot evaluate {name} (test failure)")
        if params is None:
            return dict(self.base)
        out = self(params, ctx)
        self.calls.pop()
        if self.default_acc is not None:
            out["test_accuracy"] = self.default_acc
        return out


def make_study(tmp_path, objective=None, *, n: int = 12, name: str = "toy", sqlite: bool = True,
               **kw):
    """A real study of ``objective`` (default :class:`ToyLoRA`) with ``n`` trials, in a SQLite
    file (or in memory when ``sqlite`` is false: faster where persistence is not tested)."""
    storage = f"sqlite:///{tmp_path / 'study.db'}" if sqlite else None
    study = llmhpo.create_study(SPACE, metric=kw.pop("metric", "val_loss"), storage=storage,
                                study_name=name, budget=n, seed=kw.pop("seed", 3), **kw)
    study.optimize(objective or ToyLoRA(), show_progress=False)
    return study, storage


class NoisyToy:
    """A fast objective that reports per-example values, like the LoRA objective.

    Each of ``n_examples`` held-out examples has a fixed difficulty offset; a configuration's
    per-example loss is ``loss_of(params) + offset`` plus a small training-seed effect
    (``with_seed``), and an example is answered correctly when that loss is below 2. So the
    same configuration gives identical per-example values, and a different seed moves them.
    """

    def __init__(self, n_examples: int = 40, seed: int = 0, seed_effect: float = 0.05) -> None:
        self.n_examples = n_examples
        self.seed = seed
        self.seed_effect = seed_effect
        self.calls: list[tuple[int, dict[str, Any]]] = []

    def with_seed(self, seed: int) -> NoisyToy:
        out = NoisyToy(self.n_examples, seed, self.seed_effect)
        out.calls = self.calls  # one log for the copies
        return out

    def _metrics(self, center: float) -> dict[str, Any]:
        import numpy as np

        offsets = np.random.default_rng(123).normal(0.0, 0.5, self.n_examples)
        shift = self.seed_effect * np.random.default_rng(self.seed).normal() if self.seed else 0.0
        losses = [round(float(center + o + shift), 6) for o in offsets]
        hits = [int(x < 2.0) for x in losses]
        mean = sum(losses) / len(losses)
        return {
            "val_loss": mean, "test_loss": mean + 0.1, "test_accuracy": sum(hits) / len(hits),
            "per_example": {"val_loss": {"values": losses},
                            "test_loss": {"values": [x + 0.1 for x in losses]},
                            "test_accuracy": {"values": hits}},
        }

    def __call__(self, params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        self.calls.append((self.seed, dict(params)))
        return self._metrics(loss_of(params))

    def references(self) -> dict[str, dict[str, Any] | None]:
        return {"base": None, "peft_default": dict(DEFAULTS)}

    def evaluate_reference(self, params: dict[str, Any] | None, ctx: Any) -> dict[str, Any]:
        return self._metrics(6.0) if params is None else self._metrics(loss_of(params))
def front_by_definition(pts, signs):
    """Indices of the non-dominated points, by the definition (O(n^2)); ``signs`` +1 to
    minimize, -1 to maximize a coordinate."""
    out = []
    for i, a in enumerate(pts):
        dominated = False
        for j, b in enumerate(pts):
            if i == j:
                continue
            ge = all(s * bb <= s * aa for s, aa, bb in zip(signs, a, b, strict=True))
            gt = any(s * bb < s * aa for s, aa, bb in zip(signs, a, b, strict=True))
            dominated |= ge and gt
        if not dominated:
            out.append(i)
    return out
