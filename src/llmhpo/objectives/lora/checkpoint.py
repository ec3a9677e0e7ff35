"""Training checkpoints of a LoRA trial: save, find, load — so a trial can stop and continue.

A checkpoint is everything :func:`~llmhpo.objectives.lora.train.train_lora` needs to continue a
run exactly where it stopped, so that the continued run's loss curve equals an uninterrupted
run's (``tests/objectives/test_lora_checkpoint.py``):

``<trial workdir>/checkpoints/step-000010/``
    ``adapter/``      the LoRA adapter in PEFT's ``save_pretrained`` format (loadable with
                      :func:`~llmhpo.objectives.lora.artifacts.loaded_adapter` or
                      ``PeftModel.from_pretrained``; weights in ``adapter_model.safetensors``)
    ``trainer.pt``    ``torch.save`` of the AdamW and LR-scheduler ``state_dict()`` and the
                      torch RNG states (dropout)
    ``state.json``    :class:`CheckpointState`: the step, the micro-batches consumed (the data
                      position), losses and token counts so far, the learning curve so far, and
                      the fingerprint of the run (hyperparameters and training settings)

A directory is written under a temporary name and renamed when complete, so a process killed
while saving (``kill -9``) never leaves a half checkpoint that looks valid.

Reuse (e.g. stochastic weight averaging over intermediate adapters): :func:`list_checkpoints`
gives every kept checkpoint of a trial, oldest first, with its step; each one's ``adapter``
directory holds the adapter weights at that step. ``train.keep_checkpoints`` decides how many
are kept (default 1: only the latest; ``null``: all).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINT_DIR",
    "CheckpointState",
    "Checkpoint",
    "save_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "load_checkpoint",
    "prune_checkpoints",
]

_logger = logging.getLogger("llmhpo.objectives.lora")

#: Subdirectory of a trial's work directory that holds its checkpoints.
CHECKPOINT_DIR = "checkpoints"
_PREFIX = "step-"


@dataclass
class CheckpointState:
    """The plain-data part of a checkpoint (``state.json``).

    Attributes:
        step: optimizer steps done.
        n_steps: steps of the whole run (the LR schedule's length).
        micro_batches: micro-batches drawn from the data stream (the data position).
        losses: training loss of every step so far.
        tokens / padded_tokens: non-padding / all token positions trained on so far.
        train_time_s: training seconds so far (all segments of the run).
        curve: ``[[step, {metric: value}], ...]`` of the evaluations so far.
        fingerprint: what must match for a run to continue from this checkpoint.
    """

    step: int
    n_steps: int
    micro_batches: int
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    padded_tokens: int = 0
    train_time_s: float = 0.0
    curve: list[list[Any]] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint: its directory and step."""

    path: Path
    step: int

    @property
    def adapter_path(self) -> Path:
        """The adapter directory (PEFT format)."""
        return self.path / "adapter"

    def state(self) -> CheckpointState:
        """Read ``state.json``."""
        data = json.loads((self.path / "state.json").read_text(encoding="utf-8"))
        return CheckpointState(**data)


def _root(workdir: str | Path) -> Path:
    return Path(workdir) / CHECKPOINT_DIR


def save_checkpoint(
    workdir: str | Path,
    peft_model: Any,
    optimizer: Any,
    scheduler: Any,
    state: CheckpointState,
    keep: int | None = 1,
) -> Checkpoint:
    """Save a checkpoint of the run at ``state.step`` under ``<workdir>/checkpoints``.

    Args:
        workdir: the trial's work directory.
        peft_model: the model with the LoRA adapter being trained.
        optimizer / scheduler: the torch optimizer and LR scheduler of the run.
        state: the run's plain-data state.
        keep: how many checkpoints to keep, newest first (``None``: all).
    """
    import torch

    root = _root(workdir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{state.step:06d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    peft_model.save_pretrained(str(tmp / "adapter"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": rng}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(asdict(state)), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)  # the commit point
    if keep is not None:
        prune_checkpoints(workdir, keep)
    return Checkpoint(final, state.step)


def list_checkpoints(workdir: str | Path | None) -> list[Checkpoint]:
    """Every complete checkpoint of a trial, oldest first (none without a work directory)."""
    if workdir is None or not _root(workdir).is_dir():
        return []
    out = []
    for p in _root(workdir).iterdir():
        if p.is_dir() and p.name.startswith(_PREFIX) and (p / "state.json").is_file():
            try:
                out.append(Checkpoint(p, int(p.name[len(_PREFIX):])))
            except ValueError:
                continue
    return sorted(out, key=lambda c: c.step)


def latest_checkpoint(
    workdir: str | Path | None, fingerprint: Mapping[str, Any] | None = None
) -> Checkpoint | None:
    """The newest checkpoint, or ``None``; with ``fingerprint``, only one saved by a run with
    the same fingerprint (a different run's checkpoint is ignored, with a warning)."""
    for ckpt in reversed(list_checkpoints(workdir)):
        try:
            saved = ckpt.state().fingerprint
        except (OSError, ValueError, TypeError):
            continue
        if fingerprint is not None and saved != json.loads(json.dumps(dict(fingerprint))):
            _logger.warning("checkpoint %s belongs to another run (%s): not resumed",
                            ckpt.path, saved)
            return None
        return ckpt
    return None


def load_checkpoint(ckpt: Checkpoint, peft_model: Any, optimizer: Any, scheduler: Any
                    ) -> CheckpointState:
    """Restore the adapter weights, optimizer, scheduler and RNG states of ``ckpt`` into a
    freshly set-up run; returns its plain-data state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(ckpt.adapter_path / "adapter_model.safetensors"))
    device = next(peft_model.parameters()).device
    set_peft_model_state_dict(peft_model, {k: v.to(device) for k, v in weights.items()})
    saved = torch.load(ckpt.path / "trainer.pt", map_location=device, weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
    return ckpt.state()


def prune_checkpoints(workdir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (and leftovers of interrupted saves)."""
    root = _root(workdir)
    for p in root.glob(".tmp-*"):
        if not p.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(p, ignore_errors=True)
    for ckpt in list_checkpoints(workdir)[:-keep] if keep > 0 else list_checkpoints(workdir):
        shutil.rmtree(ckpt.path, ignore_errors=True)
