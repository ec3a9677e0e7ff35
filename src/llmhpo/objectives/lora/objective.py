"""The LoRA fine-tuning objective: ``objective: {type: lora, ...}`` in a run config.

One call fine-tunes the base model with a fresh LoRA adapter for the given hyperparameters and
returns every metric (docs/lora.md lists the config keys and metrics). The base model and the
data are loaded once per worker process and reused by every trial it runs. Every trial uses
the same seed (``train.seed``: adapter initialisation, dropout, data order), so two trials
differ only by their hyperparameters.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.data import DATA_DEFAULTS
from llmhpo.objectives.lora.fusion import FUSION_DEFAULTS, check_fusion_config
from llmhpo.objectives.lora.train import PARAM_DEFAULTS, TrainConfig
from llmhpo.space.lora import LORA_NAMES, lora_default_space, paper_defaults, unknown_lora_names

__all__ = ["LoRAObjective", "default_space", "from_config", "PAPER_DEFAULTS", "PEFT_DEFAULTS",
           "LORA_RECIPE", "DEFAULTS"]

_logger = logging.getLogger("llmhpo.objectives.lora")

#: Tribes et al. (2023)'s default point (their Table 3's initial point): a reference row. It
#: is not PEFT's ``LoraConfig`` default (r 8, alpha 8, dropout 0; PEFT sets no learning rate).
#: (The ``paper_default`` column of :mod:`llmhpo.space.lora`.)
PAPER_DEFAULTS: dict[str, Any] = paper_defaults()
#: The former, misleading name of :data:`PAPER_DEFAULTS`.
PEFT_DEFAULTS = PAPER_DEFAULTS

#: A widely used LoRA recipe, the default a user would have used anyway: learning rate 2e-4
#: (QLoRA's for 7B/13B models, Dettmers et al. 2023), r 16 with alpha = 2r = 32 and dropout
#: 0.05 (the values of many PEFT/TRL fine-tuning examples), AdamW without weight decay (the
#: Hugging Face Trainer's default), the study's own steps. A community convention, not one
#: paper's table.
LORA_RECIPE: dict[str, Any] = {
    "lora_rank": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "learning_rate": 2e-4,
    "weight_decay": 0.0,
}

#: Every config key and its default; the sections are merged key by key with the user's.
DEFAULTS: dict[str, Any] = {
    "model": "smollm2-135m-instruct",
    "device": "auto",
    "dtype": "float32",
    "metric": "val_loss",
    "data": dict(DATA_DEFAULTS),
    "train": {
        "steps": 20,
        "epochs": None,
        "batch_size": 8,
        "grad_accum": 1,
        "warmup_steps": 0,
        "max_seq_len": 128,
        "seed": 0,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        "system_prompt": None,
        "threads": None,
        "eval_every": None,
        "keep_checkpoints": 1,
        "data_fraction": 1.0,
    },
    "eval": {
        "val_size": None,
        "test_size": None,
        "curve_val_size": None,
        "accuracy": "generate",
        "max_new_tokens": 16,
        "batch_size": 16,
        "lm_eval_tasks": [],
        "lm_eval_limit": None,
    },
    "artifacts": {"save_adapters": True, "keep_best_k": 3, "max_disk_mb": None},
    "fusion": dict(FUSION_DEFAULTS),
}

_SECTIONS = ("train", "eval", "artifacts", "fusion")
_ACCURACY_MODES = ("generate", "forced", "none")

# Per-process cache of the data splits, keyed by the data config.
_DATA_CACHE: dict[str, dict[str, list[dict[str, str]]]] = {}


def default_space() -> Any:
    """The default search space (:func:`llmhpo.space.lora.lora_default_space`): the LoRA
    variables of Davouse & Talbi 2025 (Table 1) with ranges in which a small model learns
    within a few dozen steps."""
    return lora_default_space()


def _merge(cfg: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise InvalidConfigError(
            f"unknown lora objective keys {sorted(unknown)}, expected some of {sorted(DEFAULTS)}"
        )
    out = {k: v for k, v in DEFAULTS.items() if k not in (*_SECTIONS, "data")}
    out.update({k: v for k, v in cfg.items() if k not in (*_SECTIONS, "data")})
    for section in (*_SECTIONS, "data"):
        given = cfg.get(section) or {}
        if not isinstance(given, Mapping):
            raise InvalidConfigError(f"{section} must be a mapping, got {given!r}")
        if section != "data":
            bad = set(given) - set(DEFAULTS[section])
            if bad:
                raise InvalidConfigError(
                    f"unknown {section} keys {sorted(bad)}, expected some of "
                    f"{sorted(DEFAULTS[section])}"
                )
        out[section] = {**DEFAULTS[section], **given}
    if out["data"].get("sources") is not None:
        out["data"].pop("source", None)
    return out


def _quiet(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` inside :func:`~llmhpo.objectives.lora.quiet.quiet_libraries`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from llmhpo.objectives.lora.quiet import quiet_libraries

        with quiet_libraries():
            return method(*args, **kwargs)

    return wrapper


class LoRAObjective:
    """``objective(params, ctx) -> metrics``: LoRA fine-tuning of a causal LM.

    Picklable (it holds only its config), so process pools can ship it to workers.

    Args:
        config: the objective's config (see :data:`DEFAULTS` and docs/lora.md).
    """

    #: training stops itself at ``ctx.time_left()`` (keeping what it measured), so a time
    #: limit holds with the inline executor too
    honours_time_limit = True

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = _merge(dict(config or {}))
        self.train_config = TrainConfig.from_mapping(self.config["train"])  # validate here,
        self.config["fusion"] = check_fusion_config(self.config["fusion"])
        ev = self.config["eval"]  # not in a worker
        if ev["accuracy"] in (False, None):
            ev["accuracy"] = "none"
        if ev["accuracy"] not in _ACCURACY_MODES:
            raise InvalidConfigError(
                f"eval.accuracy must be one of {list(_ACCURACY_MODES)}, got {ev['accuracy']!r}"
            )
        tasks = ev["lm_eval_tasks"]
        if isinstance(tasks, str) or not isinstance(tasks, Sequence):
            raise InvalidConfigError(
                f"eval.lm_eval_tasks must be a list of lm-eval task names, got {tasks!r}"
            )
        for key in ("val_size", "test_size", "curve_val_size"):
            v = ev[key]
            if v is not None and (not isinstance(v, int) or v < 0):
                raise InvalidConfigError(
                    f"eval.{key} must be a non-negative integer or null, got {v!r}"
                )
        if not isinstance(self.config["metric"], str):
            raise InvalidConfigError(
                f"metric must be a metric name, got {self.config['metric']!r}"
            )
        from llmhpo.objectives.lora.data import DATA_KEYS

        bad = set(self.config["data"]) - set(DATA_KEYS)
        if bad:
            raise InvalidConfigError(
                f"unknown data keys {sorted(bad)}, expected some of {sorted(DATA_KEYS)}"
            )

    def __repr__(self) -> str:
        return f"LoRAObjective(model={self.config['model']!r}, steps={self.train_config.steps})"

    # -- pieces ----------------------------------------------------------------------------
    def model(self) -> tuple[Any, Any, str]:
        """``(base model, tokenizer, device)``, loaded once per process. Sets torch's CPU
        threads (``train.threads``) first, so that references, trials and their evaluations
        all run with the same count."""
        from llmhpo.objectives.lora.model import get_model, resolve_device

        if self.train_config.threads is not None:
            import torch

            torch.set_num_threads(self.train_config.threads)
        device = resolve_device(self.config["device"])
        model, tok = get_model(self.config["model"], device, self.config["dtype"])
        return model, tok, device

    def splits(self) -> dict[str, list[dict[str, str]]]:
        """Train / validation / test records (built once per process)."""
        from llmhpo.objectives.lora.data import build_splits

        key = json.dumps(self.config["data"], sort_keys=True, default=str)
        if key not in _DATA_CACHE:
            _DATA_CACHE[key] = build_splits(self.config["data"])
        return _DATA_CACHE[key]

    def _evaluate(self, model: Any, tok: Any, tasks: Sequence[str] | None = None,
                  label: str = "evaluating") -> dict:
        from llmhpo import _status
        from llmhpo.objectives.lora.evaluate import (
            exact_match_flags,
            example_scores,
            generate_answers,
        )
        from llmhpo.objectives.lora.tasks import CASE_SENSITIVE_FAMILIES

        ev = self.config["eval"]
        tc = self.train_config
        sp = self.splits()
        if _status.is_enabled():
            n = {p: len(sp[s]) if ev[f"{p}_size"] is None else min(ev[f"{p}_size"], len(sp[s]))
                 for s, p in (("validation", "val"), ("test", "test"))}
            _status.task(f"{label}: evaluating on {n['val']} validation + {n['test']} test "
                         "prompts", force=True)
        t0 = time.perf_counter()
        out: dict[str, Any] = {}
        per_example: dict[str, Any] = {}
        for split, prefix in (("validation", "val"), ("test", "test")):
            size = ev[f"{prefix}_size"]
            recs = sp[split] if size is None else sp[split][:size]
            if not recs:
                continue
            sums, counts, forced = example_scores(model, tok, recs, tc.max_seq_len,
                                                  ev["batch_size"], tc.system_prompt)
            out[f"{prefix}_loss"] = sum(sums) / max(sum(counts), 1)
            # per-example values for the bootstrap intervals (llmhpo.reporting.intervals):
            # the token-weighted mean loss is sum(w * v) / sum(w) with v = mean per example
            per_example[f"{prefix}_loss"] = {
                "values": [round(x / max(c, 1), 5) for x, c in zip(sums, counts, strict=True)],
                "weights": counts,
            }
            hits: list[bool] | None = None
            if ev["accuracy"] == "forced":
                hits = forced
            elif ev["accuracy"] == "generate":
                preds = generate_answers(model, tok, recs, ev["max_new_tokens"],
                                         ev["batch_size"], tc.system_prompt)
                hits = exact_match_flags(
                    preds, [r["output"] for r in recs],
                    [r.get("family") not in CASE_SENSITIVE_FAMILIES for r in recs],
                )
            if hits is not None:
                out[f"{prefix}_accuracy"] = sum(hits) / len(hits)
                per_example[f"{prefix}_accuracy"] = {"values": [int(h) for h in hits]}
        if per_example:
            out["per_example"] = per_example
        task_list = list(ev["lm_eval_tasks"] if tasks is None else tasks)
        if task_list:
            from llmhpo.objectives.lora.lmeval import run_lm_eval

            out.update(run_lm_eval(model, tok, task_list, limit=ev["lm_eval_limit"],
                                   batch_size=ev["batch_size"]))
        out["eval_time_s"] = time.perf_counter() - t0
        return out

    def _run(
        self,
        params: Mapping[str, Any] | None,
        ctx: Any,
        tasks: Sequence[str] | None = None,
        save: bool = True,
    ) -> dict[str, Any]:
        from llmhpo.objectives.lora.evaluate import peak_memory_mb
        from llmhpo.objectives.lora.model import last_load_seconds, load_count
        from llmhpo.objectives.lora.train import lora_adapter, train_lora

        spec, dtype = self.config["model"], self.config["dtype"]
        loads = load_count(spec, self.config["device"], dtype)
        model, tok, device = self.model()
        load_s = last_load_seconds(spec, device, dtype) if load_count(
            spec, device, dtype) > loads else 0.0
        if device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()
        label = f"trial {ctx.number}" if getattr(ctx, "number", -1) >= 0 else "reference"
        if params is None:  # the base model, no fine-tuning
            metrics = self._evaluate(model, tok, tasks, label)
            metrics.update(train_time_s=0.0, tokens_per_s=0.0, n_trainable_params=0, steps=0)
        else:
            full = {**PARAM_DEFAULTS, **dict(params)}
            tc = self.train_config
            with lora_adapter(model, full, tc.target_modules, tc.seed) as peft_model:
                n_trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
                metrics = {"n_trainable_params": n_trainable}
                try:
                    if self.config["fusion"]["enabled"]:
                        metrics.update(self._train_fused(peft_model, tok, full, ctx))
                    else:
                        metrics.update(train_lora(
                            peft_model, tok, self.splits()["train"], full, tc, ctx,
                            evaluate=self._curve_metrics if tc.eval_every else None,
                            workdir=self._checkpoint_dir(ctx) if save else None))
                    metrics.update(self._evaluate(peft_model, tok, tasks, label))
                except Exception as exc:  # keep what is known about the failed trial
                    exc.metrics = {**metrics, **getattr(exc, "metrics", {})}  # type: ignore[attr-defined]
                    raise
                workdir = getattr(ctx, "workdir", None)
                if save and workdir is not None and self.config["artifacts"]["save_adapters"]:
                    from llmhpo.objectives.lora.artifacts import ADAPTER_DIR, save_adapter

                    path = save_adapter(peft_model, ctx.path() / ADAPTER_DIR, spec)
                    metrics["adapter_path"] = str(path)
        metrics["peak_memory_mb"] = peak_memory_mb(device)
        metrics["model_load_s"] = load_s
        return metrics

    def _train_fused(self, peft_model: Any, tok: Any, params: Mapping[str, Any],
                     ctx: Any) -> dict[str, Any]:
        """Train with checkpoints, search their SWA fusion on training loss (the inner loop of
        Bilevel-BO-SWA, Bao et al. 2025) and leave the best fusion in ``peft_model``.

        With a work directory the checkpoints and every inner evaluation are kept in a cache
        keyed by the trial's hyperparameters until the trial returns, so a trial re-run after a
        crash neither trains again nor redoes a finished inner evaluation."""
        from llmhpo.objectives.lora.evaluate import response_scores
        from llmhpo.objectives.lora.fusion import (
            CheckpointRecorder,
            average_states,
            inner_search,
            load_state,
            select_checkpoints,
        )
        from llmhpo.objectives.lora.train import train_lora

        fz, tc, ev = self.config["fusion"], self.train_config, self.config["eval"]
        train = self.splits()["train"]
        n_steps = tc.n_steps(len(train))
        cache = self._fusion_cache(params, ctx)
        if cache is not None and cache.has_training():
            rec = CheckpointRecorder.load(cache.checkpoints, fz["checkpoint_every"], n_steps)
            metrics = {**cache.load_train_metrics(), "resumed_training": True}
        else:
            rec = CheckpointRecorder(fz["checkpoint_every"], n_steps)
            metrics = train_lora(peft_model, tok, train, params, tc, ctx, on_step=rec)
            if cache is not None:
                cache.save_training(rec, metrics)
        subset = train[: fz["train_subset"]]
        val = self.splits()["validation"]
        if ev["val_size"] is not None:
            val = val[: ev["val_size"]]

        def loss_of(state: Mapping[str, Any], records: Any) -> float:
            load_state(peft_model, state)
            loss, _ = response_scores(peft_model, tok, records, tc.max_seq_len,
                                      ev["batch_size"], tc.system_prompt)
            return float(loss)

        def fused(fusion: Mapping[str, Any]) -> tuple[dict[str, Any], list[int], list[float]]:
            idx, weights = select_checkpoints(rec.steps, n_steps, fusion)
            return average_states([rec.states[i] for i in idx], weights), idx, weights

        t0 = time.perf_counter()
        out: dict[str, Any] = {"train_loss_last": loss_of(rec.states[-1], subset)}
        if val:
            out["val_loss_unfused"] = loss_of(rec.states[-1], val)
        records: list[dict[str, Any]] = []
        if fz["fixed"] is not None:
            best = dict(fz["fixed"])
        else:
            best, records = inner_search(
                lambda f: loss_of(fused(f)[0], subset),
                acq=fz["inner_acq"], budget=fz["inner_budget"], n_init=fz["inner_n_init"],
                seed=tc.seed, history=cache.inner_history() if cache is not None else (),
                on_record=cache.append_inner if cache is not None else None,
            )
        state, idx, weights = fused(best)
        out["train_loss_fused"] = loss_of(state, subset)  # leaves the fusion in the model
        out.update(
            fusion_params=best,
            fusion_steps=[rec.steps[i] for i in idx],
            fusion_weights=weights,
            inner_evaluations=records,
            inner_evaluated=sum(1 for r in records if not r["replayed"]),
            inner_replayed=sum(1 for r in records if r["replayed"]),
            inner_time_s=time.perf_counter() - t0,
        )
        if cache is not None:
            cache.clear()
        return {**metrics, **out}

    def _fusion_cache(self, params: Mapping[str, Any], ctx: Any) -> Any:
        """The trial's :class:`~llmhpo.objectives.lora.fusion.FusionCache` under the study's
        work directory (beside ``trial_<n>``), or ``None`` without a work directory."""
        import hashlib

        from llmhpo.objectives.lora.fusion import FusionCache

        workdir = getattr(ctx, "workdir", None)
        if workdir is None:
            return None
        key = json.dumps({"params": dict(params), "model": self.config["model"],
                          "data": self.config["data"], "train": self.config["train"],
                          "fusion": self.config["fusion"]}, sort_keys=True, default=str)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return FusionCache(Path(workdir).parent / "fusion_cache" / digest)

    def with_settings(self, settings: Mapping[str, Any]) -> LoRAObjective:
        """A copy of this objective in the mode an optimizer asks for (``{"fusion": {...}}``
        from Bilevel-BO-SWA); the keys are the objective's own config sections."""
        cfg = json.loads(json.dumps(self.config, default=str))
        for section, values in settings.items():
            if section not in DEFAULTS or not isinstance(DEFAULTS[section], dict):
                raise InvalidConfigError(
                    f"the lora objective has no config section {section!r} to set"
                )
            cfg[section] = {**cfg[section], **dict(values)}
        return LoRAObjective(cfg)

    def _curve_metrics(self, peft_model: Any) -> dict[str, float]:
        """The learning curve's point: validation loss on the first ``eval.curve_val_size``
        validation records (all by default: then its last point is the trial's ``val_loss``)."""
        from llmhpo.objectives.lora.evaluate import response_loss

        _, tok, _ = self.model()
        size = self.config["eval"]["curve_val_size"]
        recs = self.splits()["validation"]
        recs = recs if size is None else recs[:size]
        tc = self.train_config
        return {"val_loss": response_loss(peft_model, tok, recs, tc.max_seq_len,
                                          self.config["eval"]["batch_size"], tc.system_prompt)}

    @staticmethod
    def _checkpoint_dir(ctx: Any) -> Any:
        """The trial's work directory (checkpoints go to its ``checkpoints/``), if it has one."""
        return ctx.path() if getattr(ctx, "workdir", None) is not None else None

    # -- the objective interface -----------------------------------------------------------
    @_quiet
    def preflight(self) -> None:
        """Fail fast, in the driver, on inputs every trial would fail on: the model spec must
        be loadable (only its config is read: :func:`~llmhpo.objectives.lora.model.check_model`)
        and the data sources readable (the splits are built, and kept for this process).
        A hub model or dataset is downloaded into the Hugging Face cache here, once, before
        workers start.

        Raises:
            InvalidConfigError: naming the model or data source and why it cannot load.
        """
        from llmhpo.objectives.lora.model import check_model

        check_model(self.config["model"])
        self.splits()

    def check_space(self, space: Any) -> None:
        """Every search variable must be a LoRA hyperparameter this objective trains with
        (:mod:`llmhpo.space.lora`); an unknown one (``lr`` for ``learning_rate``) would be
        ignored and the default trained.

        Raises:
            InvalidConfigError: naming the unknown variables and the known ones.
        """
        unknown = unknown_lora_names(space.names)
        if unknown:
            raise InvalidConfigError(
                f"search variable(s) {unknown} are not LoRA hyperparameters the lora objective "
                f"knows; got {unknown}, expected names among {list(LORA_NAMES)}"
            )

    def resumable(self, workdir: Any) -> bool:
        """True when a trial's work directory holds a training checkpoint to continue from
        (the study continues such an interrupted trial instead of starting a new one)."""
        from llmhpo.objectives.lora.checkpoint import latest_checkpoint

        return latest_checkpoint(workdir) is not None

    @_quiet
    def __call__(self, params: Mapping[str, Any], ctx: Any) -> dict[str, Any]:
        """Fine-tune with ``params`` and return every metric."""
        return self._run(params, ctx)

    def references(self) -> dict[str, dict[str, Any] | None]:
        """The reference rows: the base model, Tribes et al. (2023)'s default point and a
        widely used LoRA recipe (:data:`LORA_RECIPE`), trained with the study's settings."""
        return {"base": None, "paper_default": dict(PAPER_DEFAULTS),
                "lora_recipe": dict(LORA_RECIPE)}

    def with_seed(self, seed: int) -> LoRAObjective:
        """A copy training with ``train.seed = seed`` (adapter init, dropout, data order) and
        saving no adapters: what a re-check run with a fresh seed uses."""
        cfg = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.config.items()}
        cfg["train"]["seed"] = int(seed)
        cfg["artifacts"]["save_adapters"] = False
        return LoRAObjective(cfg)

    def fingerprint(self) -> dict[str, Any]:
        """What the reproducibility record needs from this objective: the model spec and the
        SHA-256 of its weights, the SHA-256 of the data splits, the device and its name, the
        training and data seeds, the training steps and torch's thread count."""
        import hashlib

        import torch

        from llmhpo.objectives.lora.model import model_fingerprint, resolve_device

        device = resolve_device(self.config["device"])
        name = (torch.cuda.get_device_name(device) if device.startswith("cuda")
                else f"cpu ({torch.get_num_threads()} torch threads)")
        data = json.dumps(self.splits(), sort_keys=True).encode()
        return {
            **model_fingerprint(self.config["model"]),
            "data_sha256": hashlib.sha256(data).hexdigest(),
            "data_sizes": {k: len(v) for k, v in self.splits().items()},
            "device": device,
            "device_name": name,
            "dtype": self.config["dtype"],
            "train_seed": self.train_config.seed,
            "data_seed": self.config["data"].get("seed"),
            "steps": self.train_config.steps,
        }

    @_quiet
    def evaluate_reference(self, params: Mapping[str, Any] | None, ctx: Any) -> dict[str, Any]:
        """Metrics of a reference: ``None`` = the base model without fine-tuning. A trained
        reference's adapter is saved in ``ctx.workdir`` like a trial's (when adapters are
        saved), so its sample answers (``llmhpo compare``, the report) need no retraining."""
        return self._run(params, ctx, save=True)

    @_quiet
    def assess(
        self, params: Mapping[str, Any] | None, ctx: Any, tasks: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Evaluate a trial or the base model (``None``) with lm-eval ``tasks`` on top of the
        usual metrics, for ``llmhpo assess``.

        A trial whose adapter is still saved in its work directory (``ctx.workdir``, for the
        same base model) is evaluated with that adapter, without training; otherwise it is
        trained again (deterministic: same seed). The metric ``adapter_source`` says which
        (``"saved"`` or ``"retrained"``)."""
        from llmhpo.objectives.lora.artifacts import loaded_adapter, saved_adapter

        path = None if params is None else saved_adapter(getattr(ctx, "workdir", None),
                                                         self.config["model"])
        if path is None:
            metrics = self._run(params, ctx, tasks=tasks, save=False)
            if params is not None:
                metrics["adapter_source"] = "retrained"
            return metrics
        from llmhpo.objectives.lora.evaluate import peak_memory_mb

        model, tok, device = self.model()
        with loaded_adapter(model, path) as peft_model:
            metrics = self._evaluate(peft_model, tok, tasks)
        metrics.update(adapter_source="saved", adapter_path=str(path),
                       peak_memory_mb=peak_memory_mb(device))
        return metrics

    @_quiet
    def sample_answers(
        self, params: Mapping[str, Any] | None, ctx: Any, n_prompts: int = 5,
        max_new_tokens: int = 48,
    ) -> dict[str, Any]:
        """Greedy answers to the first ``n_prompts`` held-out test prompts, for side-by-side
        reading (the report, ``llmhpo compare``): ``{"prompts": [{"prompt", "expected"}],
        "answers": [...], "adapter_source"}``.

        ``None`` is the base model; a trial's kept adapter (``ctx.workdir``) is used when it is
        saved, otherwise the parameters are trained again (same seed)."""
        from llmhpo.objectives.lora.artifacts import loaded_adapter, saved_adapter
        from llmhpo.objectives.lora.data import _user_text
        from llmhpo.objectives.lora.evaluate import generate_answers

        sp = self.splits()
        recs = (sp["test"] or sp["validation"])[:n_prompts]
        tc, bs = self.train_config, self.config["eval"]["batch_size"]
        model, tok, _ = self.model()
        path = None if params is None else saved_adapter(getattr(ctx, "workdir", None),
                                                         self.config["model"])
        if params is None:
            answers, source = generate_answers(model, tok, recs, max_new_tokens, bs,
                                               tc.system_prompt), "base"
        elif path is not None:
            with loaded_adapter(model, path) as peft_model:
                answers = generate_answers(peft_model, tok, recs, max_new_tokens, bs,
                                           tc.system_prompt)
            source = "saved"
        else:
            from llmhpo.objectives.lora.train import lora_adapter, train_lora

            full = {**PARAM_DEFAULTS, **dict(params)}
            with lora_adapter(model, full, tc.target_modules, tc.seed) as peft_model:
                train_lora(peft_model, tok, sp["train"], full, tc, ctx)
                answers = generate_answers(peft_model, tok, recs, max_new_tokens, bs,
                                           tc.system_prompt)
            source = "retrained"
        return {
            "prompts": [{"prompt": _user_text(r), "expected": r.get("output", "")} for r in recs],
            "answers": [a.strip() for a in answers],
            "adapter_source": source,
        }

    def study_callbacks(self, study: Any, workdir: str | None = None) -> list[Any]:
        """:class:`~llmhpo.objectives.lora.artifacts.KeepBestAdapters` with the configured
        ``artifacts.keep_best_k`` and ``artifacts.max_disk_mb``, deleting only under
        ``workdir`` (the study's work directory)."""
        from llmhpo.objectives.lora.artifacts import KeepBestAdapters

        art = self.config["artifacts"]
        return [KeepBestAdapters(art["keep_best_k"], art["max_disk_mb"], root=workdir)]


def from_config(cfg: Mapping[str, Any]) -> Any:
    """``objective: {type: lora, ...}`` -> an ObjectiveSpec with the default space.

    The metric is ``cfg["metric"]`` (default ``val_loss``, Tribes et al. 2023's objective); the
    direction
    follows from its name (:func:`~llmhpo.study.ranking.infer_direction`: accuracies are
    maximized, losses minimized, an unknown name minimized). A study-level ``metric:`` in the
    run config overrides the metric (its direction again inferred from its name) and
    ``direction:`` the direction.

    Raises:
        OptionalDependencyError: torch, transformers or peft is not installed.
    """
    from llmhpo._imports import require_installed
    from llmhpo.objectives.registry import ObjectiveSpec
    from llmhpo.study.ranking import infer_direction

    require_installed("torch", "transformers", "peft", feature="the lora objective")
    objective = LoRAObjective(cfg)
    metric = objective.config["metric"]
    return ObjectiveSpec(objective, space=default_space(),
                         direction=infer_direction(metric) or "minimize", metric=metric)
