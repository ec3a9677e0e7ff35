"""Run configurations: the YAML file ``llmhpo run`` takes, loaded and validated.

Example::

    study_name: branin-bo
    storage: sqlite:///runs/branin.db
    budget: 30
    seed: 0
    optimizer: {name: bo, n_init: 8}
    objective: {type: synthetic, name: branin}
    execution: {n_workers: 2, executor: process, trial_timeout: 60}

Unknown keys are errors; every error names the key, the bad value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = ["RunConfig", "ExecutionConfig", "load_config", "default_config_path"]

_TOP_KEYS = {
    "study_name",
    "storage",
    "direction",
    "metric",
    "budget",
    "seed",
    "optimizer",
    "space",
    "objective",
    "execution",
    "warm_start",
    "report",
    "mlflow",
    "references",
    "recheck",
}
_EXEC_KEYS = {
    "n_workers",
    "executor",
    "trial_timeout",
    "workdir",
    "resources_per_trial",
    "ray_address",
    "heartbeat_interval",
    "grace_period",
}
_RECHECK_KEYS = {"top_k", "seeds"}


@dataclass(frozen=True)
class ExecutionConfig:
    """How trials run: how many at once, where, and for how long at most."""

    n_workers: int = 1
    executor: str | None = None  # inline (1 worker) / process (several) when None
    trial_timeout: float | None = None
    workdir: str | None = None
    # per trial: {cpu: 2, gpu: 1, <custom Ray resource>: 1}; gpu also with the process pool
    resources_per_trial: dict[str, float] | None = None
    ray_address: str | None = None  # a running Ray cluster ("auto", "host:6379", "ray://...")
    heartbeat_interval: float = 10.0  # several drivers on one study: see docs/distributed.md
    grace_period: float | None = None  # default: 6 heartbeat intervals


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (see the module docstring for the YAML form)."""

    objective: dict[str, Any]
    study_name: str = "llmhpo-study"
    storage: str = "sqlite:///llmhpo.db"
    direction: str | None = None
    metric: str | None = None
    budget: int = 20
    seed: int = 0
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "random"})
    space: Any = None
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    warm_start: Any = None
    report: str | None = None
    mlflow: Any = None
    references: dict[str, dict[str, Any]] | None = None
    recheck: dict[str, Any] | None = None
    source: str | None = None

    def build_space(self) -> Any:
        """The configured search space (``None`` when the objective brings its own)."""
        from llmhpo.exceptions import InvalidSearchSpaceError
        from llmhpo.space import SearchSpace, get_preset

        if self.space is None:
            return None
        if isinstance(self.space, str):
            return get_preset(self.space)
        if isinstance(self.space, Mapping):
            return SearchSpace.from_dict(self.space)
        raise InvalidSearchSpaceError(
            f"config key 'space': got {self.space!r}, expected a preset name or a mapping "
            "of variables"
        )

    def with_overrides(self, **kw: Any) -> RunConfig:
        """A copy with the non-None keyword values replaced (``n_workers`` etc. too)."""
        exec_kw = {k: kw.pop(k) for k in list(kw) if k in _EXEC_KEYS and kw[k] is not None}
        top = {k: v for k, v in kw.items() if v is not None}
        cfg = replace(self, **top)
        if exec_kw:
            cfg = replace(cfg, execution=replace(cfg.execution, **exec_kw))
        return _validate(cfg)


def default_config_path() -> Path:
    """The packaged default configuration (the README's main job)."""
    return Path(str(resources.files("llmhpo") / "configs" / "default.yaml"))


def load_config(source: str | Path | Mapping[str, Any]) -> RunConfig:
    """Load a run configuration from a YAML file or a dict."""
    origin = None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        import yaml

        path = Path(source)
        if not path.is_file():
            raise InvalidConfigError(f"config file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())  # one line: YAML errors span several
            raise InvalidConfigError(
                f"config file {str(path)!r} is not valid YAML: {detail}"
            ) from None
        origin = str(path)
    if not isinstance(data, Mapping):
        raise InvalidConfigError(f"a config must be a mapping of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InvalidConfigError(
            f"unknown config key(s) {unknown}; expected some of {sorted(_TOP_KEYS)}"
        )
    if "objective" not in data:
        raise InvalidConfigError(
            "the config needs an 'objective' (e.g. {type: synthetic, name: branin})"
        )
    kw = dict(data)
    optimizer = kw.get("optimizer", {"name": "random"})
    if isinstance(optimizer, str):
        optimizer = {"name": optimizer}
    if not isinstance(optimizer, Mapping) or "name" not in optimizer:
        raise InvalidConfigError(
            f"optimizer must be a name or a mapping with 'name', got {optimizer!r}"
        )
    kw["optimizer"] = dict(optimizer)
    objective = kw["objective"]
    if not isinstance(objective, Mapping) or "type" not in objective:
        raise InvalidConfigError(f"objective must be a mapping with a 'type', got {objective!r}")
    kw["objective"] = dict(objective)
    execution = kw.pop("execution", None) or {}
    if not isinstance(execution, Mapping):
        raise InvalidConfigError(f"execution must be a mapping, got {execution!r}")
    bad = sorted(set(execution) - _EXEC_KEYS)
    if bad:
        raise InvalidConfigError(
            f"unknown execution key(s) {bad}; expected some of {sorted(_EXEC_KEYS)}"
        )
    kw["execution"] = ExecutionConfig(**execution)
    recheck = kw.get("recheck")
    if recheck is True:
        kw["recheck"] = {"top_k": 2, "seeds": 2}
    elif recheck is False:
        kw["recheck"] = None
    elif isinstance(recheck, Mapping):
        kw["recheck"] = {"top_k": 2, "seeds": 2, **recheck}
    refs = kw.get("references")
    if isinstance(refs, Mapping):
        kw["references"] = {
            str(k): dict(v) if isinstance(v, Mapping) else v for k, v in refs.items()
        }
    cfg = RunConfig(source=origin, **kw)
    return _validate(cfg)


def _validate(cfg: RunConfig) -> RunConfig:
    def bad(key: str, value: Any, expected: str) -> InvalidConfigError:
        return InvalidConfigError(f"config key {key!r}: got {value!r}, expected {expected}")

    if not isinstance(cfg.study_name, str) or not cfg.study_name:
        raise bad("study_name", cfg.study_name, "a non-empty string")
    if not isinstance(cfg.storage, str) or not cfg.storage:
        raise bad("storage", cfg.storage, "a database URL such as sqlite:///llmhpo.db")
    if cfg.direction not in (None, "minimize", "maximize"):
        raise bad("direction", cfg.direction, "'minimize' or 'maximize'")
    if cfg.metric is not None and not isinstance(cfg.metric, str):
        raise bad("metric", cfg.metric, "a metric name")
    if isinstance(cfg.budget, bool) or not isinstance(cfg.budget, int) or cfg.budget < 1:
        raise bad("budget", cfg.budget, "a positive integer")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise bad("seed", cfg.seed, "a non-negative integer")
    ex = cfg.execution
    if isinstance(ex.n_workers, bool) or not isinstance(ex.n_workers, int) or ex.n_workers < 1:
        raise bad("execution.n_workers", ex.n_workers, "a positive integer")
    if ex.executor not in (None, "inline", "process", "ray"):
        raise bad("execution.executor", ex.executor, "one of inline, process, ray")
    if ex.trial_timeout is not None and (
        isinstance(ex.trial_timeout, bool)
        or not isinstance(ex.trial_timeout, (int, float))
        or ex.trial_timeout <= 0
    ):
        raise bad("execution.trial_timeout", ex.trial_timeout, "a positive number of seconds")
    res = ex.resources_per_trial
    if res is not None:
        if not isinstance(res, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and v >= 0 for k, v in res.items()
        ):
            raise bad(
                "execution.resources_per_trial", res,
                "a mapping of resource names to non-negative numbers, e.g. {cpu: 4, gpu: 1}",
            )
        custom = sorted(set(res) - {"cpu", "gpu"})
        if (ex.executor or "inline") != "ray" and custom:
            raise bad(
                "execution.resources_per_trial", res,
                f"only cpu and gpu unless executor is ray (custom resources {custom} are Ray's)",
            )
        gpu = res.get("gpu", 0)
        if (ex.executor or "inline") != "ray" and gpu != int(gpu):
            raise bad("execution.resources_per_trial.gpu", gpu,
                      "a whole number of GPUs per worker (fractions need executor ray)")
    if ex.ray_address is not None and not isinstance(ex.ray_address, str):
        raise bad("execution.ray_address", ex.ray_address, "an address such as auto or host:6379")
    for key in ("heartbeat_interval", "grace_period"):
        v = getattr(ex, key)
        if (v is not None or key == "heartbeat_interval") and (
            isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
        ):
            raise bad(f"execution.{key}", v, "a positive number of seconds")
    if ex.grace_period is not None and ex.grace_period <= ex.heartbeat_interval:
        raise bad("execution.grace_period", ex.grace_period,
                  f"more than heartbeat_interval ({ex.heartbeat_interval} s)")
    ws = cfg.warm_start
    if ws is not None and not (
        isinstance(ws, str)
        or (isinstance(ws, Mapping) and "study" in ws and set(ws) <= {"study", "storage"})
    ):
        raise bad("warm_start", ws, "a CSV path or {study: NAME, storage: URL}")
    ml = cfg.mlflow
    if ml is not None and not (
        isinstance(ml, (bool, str))
        or (isinstance(ml, Mapping) and set(ml) <= {"tracking_uri", "experiment"})
    ):
        raise bad("mlflow", ml, "true, a tracking URI, or {tracking_uri: URI, experiment: NAME}")
    if cfg.references is not None:
        if not isinstance(cfg.references, Mapping) or not all(
            isinstance(v, Mapping) for v in cfg.references.values()
        ):
            raise bad("references", cfg.references,
                      "a mapping {name: {hyperparameter: value, ...}}")
        if "base" in cfg.references:
            raise bad("references.base", cfg.references["base"],
                      "another name ('base' is the base model without fine-tuning)")
    rc = cfg.recheck
    if rc is not None:
        if not isinstance(rc, Mapping) or set(rc) - _RECHECK_KEYS:
            raise bad("recheck", rc, "true/false or {top_k: K, seeds: N or [seed, ...]}")
        top_k = rc.get("top_k")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise bad("recheck.top_k", top_k, "a positive integer")
        from llmhpo.evaluation.recheck import recheck_seeds

        recheck_seeds(rc.get("seeds"))  # raises naming the bad value
    from llmhpo.objectives.registry import OBJECTIVE_TYPES

    if cfg.objective.get("type") not in OBJECTIVE_TYPES:
        raise bad("objective.type", cfg.objective.get("type"), f"one of {sorted(OBJECTIVE_TYPES)}")
    from llmhpo.optimizers import OPTIMIZERS

    if cfg.optimizer.get("name") not in OPTIMIZERS:
        raise bad("optimizer.name", cfg.optimizer.get("name"), f"one of {sorted(OPTIMIZERS)}")
    if cfg.space is not None:
        cfg.build_space()  # raises naming the variable, the bad value and what was expected
    return cfg
