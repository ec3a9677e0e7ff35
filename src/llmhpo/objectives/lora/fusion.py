"""SWA model fusion of LoRA checkpoints and the inner loop of Bilevel-BO-SWA (Bao et al. 2025).

A training run records the LoRA weights every ``checkpoint_every`` optimizer steps
(:class:`CheckpointRecorder`). The *fusion* of a run is a weighted average of some of those
checkpoints — stochastic weight averaging (SWA, Izmailov et al. 2018) along the run — chosen by
three fusion hyperparameters (:func:`fusion_space`):

- ``swa_start``: the fraction of the run from which checkpoints are averaged (0 = all of them);
- ``stride``: average every ``stride``-th checkpoint, counting back from the last one;
- ``decay``: weight of the checkpoint ``k`` places before the last is ``decay**k``
  (1 = plain SWA, equal weights; < 1 leans towards the end of the run).

The inner loop (:func:`inner_search`) searches these with our BO-GP (EI or UCB acquisition),
scoring each fusion by the training loss of the fused adapter on a fixed subset of the training
split; the outer trial then reports the validation metric of the best fusion. Averaging uses
``torch.optim.swa_utils.AveragedModel`` over a module that holds only the LoRA tensors (the
base model is never copied). PEFT's ``add_weighted_adapter`` is not used: its ``linear``
combination scales A and B by ``sqrt(weight)`` each, which is not an average of the weights.
SWA's learning-rate schedule (``SWALR``) is not used either: the inner loop only re-weights
checkpoints of one run, and a different learning-rate schedule would need a new run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = [
    "FUSION_DEFAULTS",
    "ACQ_NAMES",
    "CheckpointRecorder",
    "fusion_space",
    "select_checkpoints",
    "average_states",
    "load_state",
    "inner_search",
    "FusionCache",
]

#: The ``fusion`` section of the LoRA objective's config and its defaults.
FUSION_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "checkpoint_every": 2,
    "inner_acq": "ucb",
    "inner_budget": 8,
    "inner_n_init": 3,
    "train_subset": 64,
    "fixed": None,
}

#: The acquisition names of Bao et al. (2025) -> our BO-GP's ``acquisition``.
ACQ_NAMES: dict[str, str] = {"ei": "logei", "ucb": "ucb"}


def check_fusion_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``cfg`` with :data:`FUSION_DEFAULTS` and validate it."""
    if not isinstance(cfg, Mapping):
        raise InvalidConfigError(f"fusion: got {cfg!r}, expected a mapping")
    unknown = set(cfg) - set(FUSION_DEFAULTS)
    if unknown:
        raise InvalidConfigError(
            f"fusion: unknown keys {sorted(unknown)}, expected some of {sorted(FUSION_DEFAULTS)}"
        )
    out = {**FUSION_DEFAULTS, **cfg}
    if not isinstance(out["enabled"], bool):
        raise InvalidConfigError(f"fusion.enabled: got {out['enabled']!r}, expected true/false")
    for key, low in (("checkpoint_every", 1), ("inner_budget", 0), ("inner_n_init", 1),
                     ("train_subset", 1)):
        v = out[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise InvalidConfigError(f"fusion.{key}: got {v!r}, expected an integer >= {low}")
    if out["inner_acq"] not in ACQ_NAMES:
        raise InvalidConfigError(
            f"fusion.inner_acq: got {out['inner_acq']!r}, expected one of {list(ACQ_NAMES)}"
        )
    if out["fixed"] is not None:
        out["fixed"] = _check_fixed(out["fixed"])
    elif out["inner_budget"] == 0:
        raise InvalidConfigError(
            "fusion.inner_budget: got 0 and no fusion.fixed, expected an inner budget >= 1 "
            "or fixed fusion values (e.g. {swa_start: 0.5, stride: 1, decay: 1.0})"
        )
    return out


def fusion_space() -> Any:
    """The inner loop's search space (see the module docstring)."""
    from llmhpo.space import Float, Int, SearchSpace

    return SearchSpace([
        Float("swa_start", 0.0, 0.9, default=0.5),
        Int("stride", 1, 4, default=1),
        Float("decay", 0.5, 1.0, default=1.0),
    ])


class CheckpointRecorder:
    """Keeps a CPU copy of the trainable (LoRA) tensors every ``every`` optimizer steps.

    Call it after each optimizer step as ``recorder(step, peft_model)`` with ``step`` counted
    from 1; the last step of the run is always recorded (``final_step``).
    """

    def __init__(self, every: int, final_step: int) -> None:
        self.every = int(every)
        self.final_step = int(final_step)
        self.steps: list[int] = []
        self.states: list[dict[str, Any]] = []

    def __call__(self, step: int, peft_model: Any) -> None:
        if step % self.every and step != self.final_step:
            return
        self.steps.append(int(step))
        self.states.append({n: p.detach().to("cpu", copy=True)
                            for n, p in peft_model.named_parameters() if p.requires_grad})

    def save(self, path: Path) -> None:
        """Write the checkpoints to ``path`` (one ``torch.save`` file, atomically)."""
        import torch

        tmp = path.with_suffix(".tmp")
        torch.save({"steps": self.steps, "states": self.states}, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, every: int, final_step: int) -> CheckpointRecorder:
        import torch

        data = torch.load(path, weights_only=True)
        rec = cls(every, final_step)
        rec.steps, rec.states = list(data["steps"]), list(data["states"])
        return rec


def select_checkpoints(
    steps: Sequence[int], n_steps: int, fusion: Mapping[str, Any]
) -> tuple[list[int], list[float]]:
    """Indices into ``steps`` of the checkpoints a fusion averages, and their weights (sum 1).

    The last checkpoint is always included; going back from it every ``stride``-th
    checkpoint at or after step ``swa_start * n_steps`` is added, the ``k``-th one before the
    last with weight ``decay**k``.
    """
    if not steps:
        raise ValueError("no checkpoints were recorded")
    start = float(fusion["swa_start"]) * n_steps
    stride, decay = int(fusion["stride"]), float(fusion["decay"])
    chosen = [i for i in range(len(steps) - 1, -1, -stride) if steps[i] >= start]
    chosen = chosen or [len(steps) - 1]
    raw = [decay**k for k in range(len(chosen))]
    total = sum(raw)
    return chosen[::-1], [w / total for w in raw[::-1]]


def average_states(states: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict:
    """The weighted average of LoRA states, through ``torch.optim.swa_utils.AveragedModel``.

    ``AveragedModel`` keeps a running average; with weights ``w_k`` the running update is
    ``avg += (w_k / W_k) (x_k - avg)`` with ``W_k`` the cumulative weight, which equals the
    weighted mean once every state is in (with equal weights it is SWA's running mean).
    """
    from torch.optim.swa_utils import AveragedModel

    if len(states) != len(weights) or not states:
        raise ValueError(f"got {len(states)} states and {len(weights)} weights")
    names = list(states[0])
    holder = _Holder(states[0], names)
    cum = [sum(weights[: i + 1]) for i in range(len(weights))]

    def avg_fn(avg: Any, current: Any, num_averaged: Any) -> Any:
        k = int(num_averaged)
        return avg + (current - avg) * (weights[k] / cum[k])

    averaged = AveragedModel(holder, avg_fn=avg_fn, use_buffers=False)
    # AveragedModel copies the first update verbatim; weights[0] / cum[0] == 1 says the same.
    for state in states:
        holder.assign(state)
        averaged.update_parameters(holder)
    module = averaged.module
    return {n: module.tensors[str(i)].detach().clone() for i, n in enumerate(names)}


class _Holder:
    """A torch module holding one tensor per LoRA parameter (keys are indices: parameter
    names contain dots, which ``ParameterDict`` refuses)."""

    def __new__(cls, state: Mapping[str, Any], names: Sequence[str]) -> Any:
        import torch

        class Holder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.tensors = torch.nn.ParameterDict({
                    str(i): torch.nn.Parameter(state[n].detach().clone().double(),
                                               requires_grad=False)
                    for i, n in enumerate(names)
                })

            def assign(self, new: Mapping[str, Any]) -> None:
                with torch.no_grad():
                    for i, n in enumerate(names):
                        self.tensors[str(i)].copy_(new[n])

        return Holder()


def load_state(peft_model: Any, state: Mapping[str, Any]) -> None:
    """Copy a LoRA state (as recorded) into the trainable tensors of ``peft_model``."""
    import torch

    params = dict(peft_model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].dtype))


def inner_search(
    evaluate: Callable[[dict[str, Any]], float],
    *,
    acq: str,
    budget: int,
    n_init: int,
    seed: int,
    history: Sequence[Mapping[str, Any]] = (),
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The inner BO loop: minimize ``evaluate(fusion_params)`` (a training loss).

    Args:
        evaluate: training loss of the fusion with the given parameters.
        acq: ``"ei"`` or ``"ucb"`` (Bao et al. 2025's names).
        budget: inner evaluations in all (replayed ones included).
        n_init: Latin-hypercube points before the GP takes over.
        seed: seed of the inner optimizer.
        history: records of inner evaluations already done (resume): replayed, not redone.
        on_record: called with each new record as soon as it is measured.

    Returns:
        ``(best fusion params, all records)``; a record is ``{"i", "params", "train_loss",
        "phase", "replayed"}``.
    """
    from llmhpo.optimizers.gp import GPOptimizer

    opt = GPOptimizer(fusion_space(), n_init=min(n_init, budget), num_restarts=4,
                      raw_samples=128, acquisition=ACQ_NAMES[acq], seed=seed)
    records: list[dict[str, Any]] = []
    for rec in list(history)[:budget]:
        opt.tell_not_asked(dict(rec["params"]), rec["train_loss"], dict(rec.get("attrs", {})))
        records.append({**rec, "replayed": True})
    while len(opt.observations) < budget:
        (s,) = opt.ask(1)
        value = float(evaluate(dict(s.params)))
        opt.tell(s, value if math.isfinite(value) else None)
        rec = {"i": len(records), "params": dict(s.params), "train_loss": value,
               "phase": s.attrs.get("phase"), "attrs": _jsonable(s.attrs), "replayed": False}
        records.append(rec)
        if on_record is not None:
            on_record(rec)
    ok = [r for r in records if math.isfinite(r["train_loss"])]
    if not ok:
        raise FloatingPointError("every inner fusion evaluation gave a non-finite training loss")
    best = min(ok, key=lambda r: r["train_loss"])
    return dict(best["params"]), records


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if isinstance(v, (str, int, float, bool))}


class FusionCache:
    """What a Bilevel-BO-SWA trial has done so far, in a directory that outlives the trial:
    the training run's checkpoints and metrics, and the inner evaluations (one JSON line
    each). A trial re-run after a crash with the same hyperparameters (the outer optimizer
    proposes the same point when it replays the same history) starts from there instead of
    training again and redoing the finished inner evaluations."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints.pt"

    @property
    def train_metrics(self) -> Path:
        return self.root / "train_metrics.json"

    @property
    def inner_log(self) -> Path:
        return self.root / "inner.jsonl"

    def has_training(self) -> bool:
        return self.checkpoints.is_file() and self.train_metrics.is_file()

    def save_training(self, recorder: CheckpointRecorder, metrics: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        recorder.save(self.checkpoints)
        tmp = self.train_metrics.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(metrics), default=float))
        tmp.replace(self.train_metrics)

    def load_train_metrics(self) -> dict[str, Any]:
        return json.loads(self.train_metrics.read_text())

    def inner_history(self) -> list[dict[str, Any]]:
        """The inner records written so far (a torn last line from a crash is skipped)."""
        if not self.inner_log.is_file():
            return []
        out = []
        for line in self.inner_log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return out

    def append_inner(self, record: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.inner_log, "a") as fh:
            fh.write(json.dumps(dict(record), default=float) + "\n")
            fh.flush()

    def clear(self) -> None:
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)


def _check_fixed(values: Any) -> dict[str, Any]:
    space = fusion_space()
    if not isinstance(values, Mapping) or set(values) != set(space.names):
        raise InvalidConfigError(
            f"fusion.fixed: got {values!r}, expected a mapping with keys {space.names}"
        )
    try:
        return dict(space.validate(values))
    except Exception as exc:  # the space names the variable and its range
        raise InvalidConfigError(f"fusion.fixed: {exc}") from None
