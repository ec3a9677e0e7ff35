"""Adapter setup and the LoRA training loop (PEFT adapter + torch AdamW, one explicit loop).

An explicit loop rather than ``transformers.Trainer``: a trial must check its time limit every
step, classify NaN loss and out-of-memory, and reuse the already-loaded base model; for runs of
a few dozen steps it also costs less per trial (``benchmarks/lora_throughput.py`` compares it
with a Trainer script on the same model, data and steps).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from llmhpo import _status
from llmhpo.exceptions import InvalidConfigError, TrialInfeasible

__all__ = [
    "DEFAULT_TARGET_MODULES",
    "PARAM_DEFAULTS",
    "TrainConfig",
    "set_seed",
    "lora_adapter",
    "train_lora",
]

_logger = logging.getLogger("llmhpo.objectives.lora")

#: Seed 001: LoRA on the attention projections.
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")

#: Hyperparameters a trial may set, and their values when the search space leaves them out.
PARAM_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-4,
    "weight_decay": 0.0,
    "lora_rank": 8,
    "lora_alpha": 32,
    "lora_dropout": 0.1,
}


@dataclass(frozen=True)
class TrainConfig:
    """Fixed training settings of a study (the search space holds the hyperparameters).

    Attributes:
        steps: optimizer steps (ignored when ``epochs`` is set).
        epochs: passes over the training split instead of ``steps``.
        batch_size: sequences per micro-batch.
        grad_accum: micro-batches per optimizer step.
        warmup_steps: linear learning-rate warmup, then linear decay to 0 (Trainer's default).
        max_seq_len: sequences are cut to this many tokens (the prompt from the left).
        seed: seed of the adapter initialisation, dropout and data order.
        target_modules: module names LoRA adapts.
        system_prompt: system message of every prompt (``None``: the chat template's default).
        threads: torch CPU threads (``None``: torch's default); the objective sets them when
            it loads the model.
    """

    steps: int = 20
    epochs: float | None = None
    batch_size: int = 8
    grad_accum: int = 1
    warmup_steps: int = 0
    max_seq_len: int = 128
    seed: int = 0
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    system_prompt: str | None = None
    threads: int | None = None

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> TrainConfig:
        """Build and validate from the ``train`` section of the objective's config."""
        names = [f.name for f in fields(cls)]
        unknown = set(cfg) - set(names)
        if unknown:
            raise InvalidConfigError(
                f"unknown train keys {sorted(unknown)}, expected some of {names}"
            )
        kw = dict(cfg)
        if "target_modules" in kw:
            tm = kw["target_modules"]
            kw["target_modules"] = (tm,) if isinstance(tm, str) else tuple(tm)
        out = cls(**kw)
        for name in ("steps", "batch_size", "grad_accum", "max_seq_len"):
            v = getattr(out, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidConfigError(f"train.{name} must be a positive integer, got {v!r}")
        if not isinstance(out.warmup_steps, int) or out.warmup_steps < 0:
            raise InvalidConfigError(
                f"train.warmup_steps must be a non-negative integer, got {out.warmup_steps!r}"
            )
        epochs = out.epochs
        if epochs is not None and not (isinstance(epochs, (int, float)) and epochs > 0):
            raise InvalidConfigError(f"train.epochs must be > 0 or null, got {out.epochs!r}")
        if out.threads is not None and (not isinstance(out.threads, int) or out.threads < 1):
            raise InvalidConfigError(
                f"train.threads must be a positive integer or null, got {out.threads!r}"
            )
        if not out.target_modules or not all(isinstance(m, str) for m in out.target_modules):
            raise InvalidConfigError(
                f"train.target_modules must be a non-empty list of module names, "
                f"got {cfg.get('target_modules')!r}"
            )
        return out

    def n_steps(self, n_train: int) -> int:
        """Optimizer steps for ``n_train`` training examples."""
        if self.epochs is None:
            return self.steps
        return max(1, math.ceil(self.epochs * n_train / (self.batch_size * self.grad_accum)))


def set_seed(seed: int) -> None:
    """Seed Python's and torch's generators (CPU and CUDA)."""
    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def _hp(params: Mapping[str, Any], name: str) -> Any:
    return params.get(name, PARAM_DEFAULTS[name])


@contextlib.contextmanager
def lora_adapter(
    model: Any, params: Mapping[str, Any], target_modules: Sequence[str], seed: int = 0
) -> Iterator[Any]:
    """Wrap ``model`` with a fresh LoRA adapter for the block; remove it afterwards.

    PEFT injects LoRA layers around the frozen weights of ``model`` in place; ``unload()``
    on exit takes them out again without merging, whatever happens in the block, so the next
    trial of the same process starts from the untouched base model.
    """
    from peft import LoraConfig, get_peft_model

    rank = int(_hp(params, "lora_rank"))
    alpha = float(_hp(params, "lora_alpha"))
    dropout = float(_hp(params, "lora_dropout"))
    if rank < 1:
        raise InvalidConfigError(f"lora_rank must be >= 1, got {rank}")
    if not 0.0 <= dropout < 1.0:
        raise InvalidConfigError(f"lora_dropout must be in [0, 1), got {dropout}")
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    set_seed(seed)
    peft_model = get_peft_model(model, config)
    try:
        yield peft_model
    finally:
        remove_adapter(peft_model, model)


def remove_adapter(peft_model: Any, model: Any) -> None:
    """Take the LoRA layers of ``peft_model`` out of ``model`` again (without merging) and
    leave ``model`` frozen in eval mode, as it was before the adapter was added."""
    peft_model.unload()
    for attr in ("peft_config", "_hf_peft_config_loaded"):
        if attr in model.__dict__:
            delattr(model, attr)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)


def _batches(encoded: list[dict[str, list[int]]], batch_size: int, seed: int) -> Iterator[list]:
    """Micro-batches forever, reshuffled every epoch with a seeded generator (a split smaller
    than one batch is one batch)."""
    r = random.Random(seed)
    while True:
        order = list(range(len(encoded)))
        r.shuffle(order)
        last = max(1, len(order) - batch_size + 1)
        for i in range(0, last, batch_size):
            yield [encoded[j] for j in order[i:i + batch_size]]


def _label(ctx: Any) -> str:
    """``trial 3`` in a trial; ``training`` for a reference or assessment (negative numbers)."""
    number = getattr(ctx, "number", -1)
    return f"trial {number}" if number is not None and number >= 0 else "training"


def _failure(exc: BaseException, metrics: dict[str, Any]) -> BaseException:
    exc.metrics = metrics  # type: ignore[attr-defined]  # run_objective records them
    return exc


def train_lora(
    peft_model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    params: Mapping[str, Any],
    cfg: TrainConfig,
    ctx: Any = None,
    on_step: Callable[[int, Any], None] | None = None,
) -> dict[str, Any]:
    """Train the adapter of ``peft_model`` on ``records``.

    Args:
        peft_model: a model from :func:`lora_adapter`.
        tokenizer: its tokenizer.
        records: Alpaca-format training records.
        params: hyperparameters (``learning_rate``, ``weight_decay``; the LoRA ones were used
            by :func:`lora_adapter`).
        cfg: the fixed training settings.
        ctx: the trial context; its ``time_left()`` is checked before every step.
        on_step: called as ``on_step(step, peft_model)`` after each optimizer step (``step``
            counted from 1), e.g. to record checkpoints for SWA fusion.

    Returns:
        ``train_loss`` (mean of the last 10% of steps), ``train_loss_first``, ``train_tokens``
        (non-padding tokens), ``train_padded_tokens`` (all positions computed, padding
        included), ``train_time_s``, ``tokens_per_s`` (non-padding), ``steps``.

    Raises:
        TimeoutError: the trial's time limit ran out (metrics so far in ``exc.metrics``).
        FloatingPointError: the loss became NaN or infinite.
        TrialInfeasible: out of memory.
    """
    import torch

    from llmhpo.objectives.base import is_out_of_memory
    from llmhpo.objectives.lora.data import collate, encode_example

    if not records:
        raise InvalidConfigError("the training split is empty (data.n_train = 0)")
    lr = float(_hp(params, "learning_rate"))
    wd = float(_hp(params, "weight_decay"))
    if not lr > 0 or not wd >= 0:
        raise InvalidConfigError(
            f"learning_rate must be > 0 and weight_decay >= 0, got {lr!r} and {wd!r}"
        )
    device = next(peft_model.parameters()).device
    encoded = [encode_example(tokenizer, r, cfg.max_seq_len, cfg.system_prompt) for r in records]
    n_steps = cfg.n_steps(len(encoded))
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=wd)

    def lr_factor(step: int) -> float:  # transformers' get_linear_schedule_with_warmup
        if step < cfg.warmup_steps:
            return step / max(1, cfg.warmup_steps)
        return max(0.0, (n_steps - step) / max(1, n_steps - cfg.warmup_steps))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    batches = _batches(encoded, cfg.batch_size, cfg.seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    losses: list[float] = []
    tokens = padded = 0
    peft_model.train()
    t0 = time.perf_counter()

    def progress() -> dict[str, Any]:
        dt = time.perf_counter() - t0
        out = {"steps": len(losses), "train_tokens": tokens, "train_padded_tokens": padded,
               "train_time_s": dt, "tokens_per_s": tokens / dt if dt > 0 else 0.0}
        if losses:  # a trial stopped at its time limit keeps the loss it had reached
            tail = losses[-max(1, len(losses) // 10):]
            out["train_loss_so_far"] = sum(tail) / len(tail)
        return out

    try:
        for step in range(n_steps):
            if ctx is not None and ctx.time_left() <= 0:
                raise _failure(
                    TimeoutError(f"time limit reached after {step} of {n_steps} steps"),
                    progress(),
                )
            total = 0.0
            for _ in range(cfg.grad_accum):
                batch = {k: v.to(device) for k, v in collate(next(batches), pad).items()}
                out = peft_model(**batch)
                (out.loss / cfg.grad_accum).backward()
                total += float(out.loss.detach()) / cfg.grad_accum
                tokens += int(batch["attention_mask"].sum())
                padded += batch["input_ids"].numel()
            if not math.isfinite(total):
                raise _failure(
                    FloatingPointError(f"training loss is {total} at step {step}"), progress()
                )
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(total)
            if on_step is not None:
                on_step(step + 1, peft_model)
            if _status.is_enabled():  # the live line on a terminal: step, loss, ETA
                done, el = step + 1, time.perf_counter() - t0
                _status.task(f"{_label(ctx)}: step {done}/{n_steps} loss {total:.3f} "
                             f"ETA {_status.format_eta(el / done * (n_steps - done))}",
                             force=done == n_steps)
    except (torch.OutOfMemoryError, RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        opt.zero_grad(set_to_none=True)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        oom = TrialInfeasible(f"out of memory while training: {exc}")
        raise _failure(oom, progress()) from exc
    finally:
        peft_model.eval()
    tail = losses[-max(1, len(losses) // 10):]
    return {**progress(), "train_loss": sum(tail) / len(tail), "train_loss_first": losses[0]}
