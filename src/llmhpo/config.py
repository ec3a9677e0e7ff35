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
from llmhpo.optimizers import DEFAULT_OPTIMIZER
from llmhpo.validation import (
    bad_value,
    check_choice,
    check_int,
    check_mapping,
    check_number,
    check_storage_url,
    check_str,
    one_line,
    short_repr,
)

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
    "scheduler",
    "compute_budget",
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
    "retries",
}
_RECHECK_KEYS = {"top_k", "seeds"}
_MAX_CONFIG_BYTES = 1_000_000
#: The largest budget a config may ask for (a design of this many points fits in memory).
MAX_BUDGET = 1_000_000
MAX_WORKERS = 1024


@dataclass(frozen=True)
class ExecutionConfig:
    """How trials run: how many at once, where, and for how long at most."""

    n_workers: int = 1
    executor: str | None = None  # None: inline (1 worker, no time limit), else process
    trial_timeout: float | str | None = None  # seconds, or "auto" (see assembly.auto_time_limit)
    workdir: str | None = None
    # per trial: {cpu: 2, gpu: 1, <custom Ray resource>: 1}; gpu also with the process pool
    resources_per_trial: dict[str, float] | None = None
    ray_address: str | None = None  # a running Ray cluster ("auto", "host:6379", "ray://...")
    heartbeat_interval: float = 10.0  # several drivers on one study: see docs/distributed.md
    grace_period: float | None = None  # default: 6 heartbeat intervals
    retries: int = 1  # process/Ray: times a trial is run again after its worker died


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
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": DEFAULT_OPTIMIZER})
    space: Any = None
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    warm_start: Any = None
    report: str | None = None
    mlflow: Any = None
    references: dict[str, dict[str, Any]] | None = None
    recheck: dict[str, Any] | None = None
    scheduler: Any = None
    compute_budget: int | None = None
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
        raise bad_value(_key("space"), self.space, "a preset name or a mapping of variables",
                        InvalidSearchSpaceError)

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
    """Load a run configuration from a YAML file or a dict.

    Raises :class:`InvalidConfigError` (one line, naming the key, the bad value and what was
    expected) for anything malformed: unreadable or non-UTF-8 files, invalid YAML, duplicate
    keys, unknown keys, values of the wrong type or range.
    """
    origin = None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        path = Path(source)
        data = _read_yaml(path, "config file")
        origin = str(path)
    if not isinstance(data, Mapping):
        raise bad_value("config", data, "a mapping of keys (study_name, objective, ...)")
    unknown = sorted(str(k) for k in set(data) - _TOP_KEYS)
    if unknown:
        raise InvalidConfigError(
            f"unknown config key(s) {short_repr(unknown)}; expected some of {sorted(_TOP_KEYS)}"
        )
    if "objective" not in data:
        raise InvalidConfigError(
            "the config needs an 'objective' (e.g. {type: synthetic, name: branin})"
        )
    kw = dict(data)
    optimizer = kw.get("optimizer", {"name": DEFAULT_OPTIMIZER})
    if isinstance(optimizer, str):
        optimizer = {"name": optimizer}
    if not isinstance(optimizer, Mapping) or "name" not in optimizer:
        raise bad_value(_key("optimizer"), optimizer, "a name or a mapping with 'name'")
    kw["optimizer"] = check_mapping(_key("optimizer"), optimizer)
    objective = kw["objective"]
    if not isinstance(objective, Mapping) or "type" not in objective:
        raise bad_value(_key("objective"), objective, "a mapping with a 'type'")
    kw["objective"] = check_mapping(_key("objective"), objective)
    execution = kw.pop("execution", None) or {}
    execution = check_mapping(_key("execution"), execution)
    bad = sorted(str(k) for k in set(execution) - _EXEC_KEYS)
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


def _read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file safely, refusing duplicate keys; every failure is one error line."""
    if path.is_dir():
        raise bad_value(what, str(path), "a YAML file, not a directory")
    if not path.is_file():
        raise InvalidConfigError(f"{what} {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidConfigError(f"{what} {str(path)!r} cannot be read: {exc.strerror}") from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise bad_value(f"{what} {str(path)!r}", f"{len(raw)} bytes",
                        f"at most {_MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidConfigError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}: "
            f"{raw[exc.start:exc.start + 1]!r})"
        ) from None
    try:
        return load_yaml_text(text)
    except InvalidConfigError as exc:
        raise InvalidConfigError(f"{what} {str(path)!r}: {exc}") from None


def load_yaml_text(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate mapping keys (the later one silently won)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if dup:
                raise InvalidConfigError(
                    f"duplicate key {short_repr(key)} (line {key_node.start_mark.line + 1}); "
                    "expected each key once"
                )
        return loader.construct_mapping(node, deep=deep)

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidConfigError(f"not valid YAML: {one_line(str(exc), 300)}") from None
    except RecursionError:
        raise InvalidConfigError("not valid YAML: nested too deeply") from None


def _key(name: str) -> str:
    return f"config key {name!r}"


def _validate(cfg: RunConfig) -> RunConfig:
    def bad(key: str, value: Any, expected: str) -> Exception:
        return bad_value(_key(key), value, expected)

    check_str(_key("study_name"), cfg.study_name)
    if len(cfg.study_name) > 200 or any(ord(c) < 32 for c in cfg.study_name):
        raise bad_value(_key("study_name"), cfg.study_name,
                        "at most 200 printable characters")
    check_str(_key("storage"), cfg.storage, what="a database URL such as sqlite:///llmhpo.db")
    if cfg.direction is not None:
        check_choice(_key("direction"), cfg.direction, ["minimize", "maximize"])
    check_str(_key("metric"), cfg.metric, none_ok=True, what="a metric name")
    check_int(_key("budget"), cfg.budget, low=1, high=MAX_BUDGET)
    check_int(_key("seed"), cfg.seed, low=0, high=2**32 - 1)
    ex = cfg.execution
    check_int(_key("execution.n_workers"), ex.n_workers, low=1, high=MAX_WORKERS)
    if ex.executor is not None:
        from llmhpo.executors import EXECUTORS

        check_choice(_key("execution.executor"), ex.executor, list(EXECUTORS))
    if ex.trial_timeout != "auto":
        check_number(_key("execution.trial_timeout"), ex.trial_timeout, low=0, low_open=True,
                     none_ok=True, what="a positive number of seconds, auto")
    check_int(_key("execution.retries"), ex.retries, low=0, high=10)
    check_str(_key("execution.workdir"), ex.workdir, none_ok=True, what="a directory path")
    check_str(_key("report"), cfg.report, none_ok=True, what="a directory path")
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
        (isinstance(ws, str) and ws.strip())
        or (
            isinstance(ws, Mapping)
            and isinstance(ws.get("study"), str)
            and set(ws) <= {"study", "storage"}
            and isinstance(ws.get("storage", ""), str)
        )
    ):
        raise bad_value(_key("warm_start"), ws, "a CSV path or {study: NAME, storage: URL}")
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
    cb = cfg.compute_budget
    if cb is not None and (isinstance(cb, bool) or not isinstance(cb, int) or cb < 1):
        raise bad("compute_budget", cb, "a positive integer (training steps/epochs) or null")
    if cfg.scheduler is not None:
        from llmhpo.study.scheduling import SchedulerConfig

        SchedulerConfig.from_mapping(cfg.scheduler)  # raises naming the bad key
    from llmhpo.objectives.registry import OBJECTIVE_TYPES

    check_choice(_key("objective.type"), cfg.objective.get("type"), sorted(OBJECTIVE_TYPES))
    from llmhpo.optimizers import OPTIMIZERS

    check_choice(_key("optimizer.name"), cfg.optimizer.get("name"), sorted(OPTIMIZERS))
    check_storage_url(cfg.storage, key=_key("storage"))
    if cfg.space is not None:
        cfg.build_space()  # raises naming the variable, the bad value and what was expected
    return cfg
