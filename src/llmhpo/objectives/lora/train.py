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
from pathlib import Path
from typing import Any

from llmhpo import _status
from llmhpo.exceptions import InvalidConfigError, TrialInfeasible
from llmhpo.space.lora import trial_defaults

__all__ = [
    "DEFAULT_TARGET_MODULES",
    "PARAM_DEFAULTS",
    "TrainConfig",
    "set_seed",
    "lora_adapter",
    "train_lora",
    "train_fingerprint",
]

_logger = logging.getLogger("llmhpo.objectives.lora")

#: Davouse & Talbi 2025: LoRA on the attention projections.
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")

#: Hyperparameters a trial may set, and their values when the search space leaves them out
#: (the ``default`` column of :mod:`llmhpo.space.lora`).
PARAM_DEFAULTS: dict[str, Any] = trial_defaults()


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
        eval_every: evaluate (validation loss: the learning curve), report to the trial
            context and save a checkpoint every this many steps (``None``: only at the end,
            no checkpoints).
        keep_checkpoints: checkpoints kept per trial, newest first (``None``: all).
        data_fraction: fraction of the training split used (its first part; a fidelity).
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
    eval_every: int | None = None
    keep_checkpoints: int | None = 1
    data_fraction: float = 1.0

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
        for name in ("eval_every", "keep_checkpoints"):
            v = getattr(out, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise InvalidConfigError(
                    f"train.{name} must be a positive integer or null, got {v!r}"
                )
        frac = out.data_fraction
        if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 < frac <= 1:
            raise InvalidConfigError(
                f"train.data_fraction must be in (0, 1], got {frac!r}"
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
    than one batch is one batch). The stream depends only on ``seed``, so skipping the first
    n micro-batches puts a resumed run at the data position it had."""
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


def train_fingerprint(params: Mapping[str, Any], cfg: TrainConfig, n_train: int
                      ) -> dict[str, Any]:
    """What a checkpoint must have been saved with for a run to continue from it: the
    hyperparameters and every training setting that changes the trajectory."""
    hp = {k: _hp(params, k) for k in PARAM_DEFAULTS}
    keys = ("batch_size", "grad_accum", "warmup_steps", "max_seq_len", "seed",
            "target_modules", "system_prompt", "data_fraction")
    return {"params": hp, "n_steps": cfg.n_steps(n_train), "n_train": n_train,
            **{k: getattr(cfg, k) for k in keys}}


def train_lora(
    peft_model: Any,
    tokenizer: Any,
    records: Sequence[Mapping[str, str]],
    params: Mapping[str, Any],
    cfg: TrainConfig,
    ctx: Any = None,
    on_step: Callable[[int, Any], None] | None = None,
    *,
    evaluate: Callable[[Any], Mapping[str, float]] | None = None,
    workdir: str | Path | None = None,
    stop_at: int | None = None,
) -> dict[str, Any]:
    """Train the adapter of ``peft_model`` on ``records``; optionally continue a checkpointed
    run, report a learning curve and stop early.

    Args:
        peft_model: a model from :func:`lora_adapter`.
        tokenizer: its tokenizer.
        records: Alpaca-format training records (``cfg.data_fraction`` of them are used).
        params: hyperparameters (``learning_rate``, ``weight_decay``; the LoRA ones were used
            by :func:`lora_adapter`).
        cfg: the fixed training settings.
        ctx: the trial context; its ``time_left()`` is checked before every step; after each
            evaluation its ``report(step, metrics)`` (if it has one) gets the evaluation's
            metrics and its ``should_stop()`` (if it has one) may stop the run
            (:class:`~llmhpo.exceptions.TrialPruned`).
        evaluate: ``evaluate(peft_model) -> metrics`` run every ``cfg.eval_every`` steps and
            at the last step (the learning curve); the model is in eval mode meanwhile.
        workdir: the trial's work directory: with ``cfg.eval_every``, a checkpoint
            (:mod:`~llmhpo.objectives.lora.checkpoint`) is saved at every evaluation, and a
            run with a matching checkpoint there continues from the newest one instead of
            starting at step 0 (same curve as if it had never stopped).
        stop_at: stop after this many steps (a fidelity below the full run; the learning-rate
            schedule stays the full run's, so a later call continues it seamlessly).
        on_step: called as ``on_step(step, peft_model)`` after each optimizer step (``step``
            counted from 1), e.g. to record checkpoints for SWA fusion.

    Returns:
        ``train_loss`` (mean of the last 10% of steps), ``train_loss_first``, ``train_tokens``
        (non-padding tokens), ``train_padded_tokens`` (all positions computed, padding
        included), ``train_time_s``, ``tokens_per_s`` (non-padding), ``steps``,
        ``resumed_from_step`` (0 for a fresh run); with ``evaluate``, ``learning_curve``
        (``[[step, {metric: value}], ...]``) and the last evaluation's metrics.

    Raises:
        TimeoutError: the trial's time limit ran out (metrics so far in ``exc.metrics``).
        FloatingPointError: the loss became NaN or infinite.
        TrialInfeasible: out of memory.
        TrialPruned: ``ctx.should_stop()`` said so after an evaluation (checkpoint saved).
    """
    import torch

    from llmhpo.exceptions import TrialPruned
    from llmhpo.objectives.base import is_out_of_memory
    from llmhpo.objectives.lora import checkpoint as ck
    from llmhpo.objectives.lora.data import collate, encode_example

    if not records:
        raise InvalidConfigError("the training split is empty (data.n_train = 0)")
    lr = float(_hp(params, "learning_rate"))
    wd = float(_hp(params, "weight_decay"))
    if not lr > 0 or not wd >= 0:
        raise InvalidConfigError(
            f"learning_rate must be > 0 and weight_decay >= 0, got {lr!r} and {wd!r}"
        )
    records = records[:max(1, math.ceil(cfg.data_fraction * len(records)))]
    device = next(peft_model.parameters()).device
    encoded = [encode_example(tokenizer, r, cfg.max_seq_len, cfg.system_prompt) for r in records]
    n_steps = cfg.n_steps(len(encoded))
    end = n_steps if stop_at is None else max(0, min(int(stop_at), n_steps))
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=wd)

    def lr_factor(step: int) -> float:  # transformers' get_linear_schedule_with_warmup
        if step < cfg.warmup_steps:
            return step / max(1, cfg.warmup_steps)
        return max(0.0, (n_steps - step) / max(1, n_steps - cfg.warmup_steps))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    checkpointing = workdir is not None and cfg.eval_every is not None
    fingerprint = train_fingerprint(params, cfg, len(records))
    state = ck.CheckpointState(step=0, n_steps=n_steps, micro_batches=0, fingerprint=fingerprint)
    latest = ck.latest_checkpoint(workdir, fingerprint) if checkpointing else None
    if latest is not None:
        state = ck.load_checkpoint(latest, peft_model, opt, sched)
        _logger.info("continuing from %s (step %d of %d)", latest.path, state.step, n_steps)
    resumed_from = state.step
    batches = _batches(encoded, cfg.batch_size, cfg.seed)
    for _ in range(state.micro_batches):  # back to the data position (no compute)
        next(batches)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    peft_model.train()
    t0 = time.perf_counter()
    time_before = state.train_time_s

    def progress() -> dict[str, Any]:
        dt = time.perf_counter() - t0
        out = {"steps": state.step, "train_tokens": state.tokens,
               "train_padded_tokens": state.padded_tokens, "train_time_s": time_before + dt,
               "tokens_per_s": state.tokens / (time_before + dt) if time_before + dt > 0
               else 0.0, "resumed_from_step": resumed_from}
        if state.losses:  # a trial stopped early keeps the loss it had reached
            tail = state.losses[-max(1, len(state.losses) // 10):]
            out["train_loss_so_far"] = sum(tail) / len(tail)
        if state.curve:
            out["learning_curve"] = [list(c) for c in state.curve]
            out.update(state.curve[-1][1])
        return out

    def evaluation() -> None:
        peft_model.eval()
        metrics = {k: float(v) for k, v in evaluate(peft_model).items()}
        peft_model.train()
        state.curve.append([state.step, metrics])
        state.train_time_s = time_before + time.perf_counter() - t0
        if checkpointing:
            ck.save_checkpoint(workdir, peft_model, opt, sched, state, cfg.keep_checkpoints)
        report = getattr(ctx, "report", None)
        if report is not None:
            report(state.step, metrics)
        should_stop = getattr(ctx, "should_stop", None)
        if should_stop is not None and state.step < n_steps and should_stop():
            raise _failure(TrialPruned(f"stopped at step {state.step} of {n_steps}"),
                           progress())

    try:
        while state.step < end:
            if ctx is not None and ctx.time_left() <= 0:
                raise _failure(
                    TimeoutError(f"time limit reached after {state.step} of {n_steps} steps"),
                    progress(),
                )
            total = 0.0
            for _ in range(cfg.grad_accum):
                batch = {k: v.to(device) for k, v in collate(next(batches), pad).items()}
                state.micro_batches += 1
                out = peft_model(**batch)
                (out.loss / cfg.grad_accum).backward()
                total += float(out.loss.detach()) / cfg.grad_accum
                state.tokens += int(batch["attention_mask"].sum())
                state.padded_tokens += batch["input_ids"].numel()
            if not math.isfinite(total):
                raise _failure(
                    FloatingPointError(f"training loss is {total} at step {state.step}"),
                    progress(),
                )
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            state.losses.append(total)
            state.step += 1
            if on_step is not None:
                on_step(state.step, peft_model)
            if _status.is_enabled():  # the live line on a terminal: step, loss, ETA
                done, el = state.step - resumed_from, time.perf_counter() - t0
                _status.task(f"{_label(ctx)}: step {state.step}/{n_steps} loss {total:.3f} "
                             f"ETA {_status.format_eta(el / done * (end - state.step))}",
                             force=state.step == end)
            if evaluate is not None and cfg.eval_every is not None and (
                    state.step % cfg.eval_every == 0 or state.step == end):
                evaluation()
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
    losses = state.losses or [float("nan")]
    tail = losses[-max(1, len(losses) // 10):]
    return {**progress(), "train_loss": sum(tail) / len(tail), "train_loss_first": losses[0]}
