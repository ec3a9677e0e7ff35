"""Objectives defined outside llmhpo: a Python function, or an external command.

* ``{type: python, target: "pkg.module:function", kwargs: {...}}`` calls
  ``function(params, ctx, **kwargs)`` (or ``function(params)`` for one-argument functions).
* ``{type: command, command: [...], timeout: s, env: {...}, cwd: dir}`` runs a program per trial:
  any training script (e.g. a LitGPT CLI run, seed 001) can be the blackbox. Placeholders such
  as ``{learning_rate}`` or ``{trial}`` in the command are filled in; the parameters are also in
  the environment variable ``LLMHPO_PARAMS`` (JSON) and the trial number in ``LLMHPO_TRIAL``.
  The program prints its metrics as a JSON object; the last stdout line that parses as one
  is taken.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.registry import ObjectiveSpec

__all__ = ["PythonObjective", "CommandObjective", "python_from_config", "command_from_config"]

# ``{identifier}``, not preceded by ``$`` (a shell variable): str.format would choke on any
# other brace in the command (inline code, JSON arguments), so placeholders are matched alone.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _import_target(target: str) -> Any:
    if not isinstance(target, str) or target.count(":") != 1:
        raise InvalidConfigError(
            f"target must look like 'package.module:function', got {target!r}"
        )
    module, attr = target.split(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise InvalidConfigError(
            f"cannot import module {module!r} of target {target!r}: {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidConfigError(
                f"module {module!r} has no attribute {attr!r} (target {target!r})"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidConfigError(f"target {target!r} is not callable")
    return obj


class PythonObjective:
    """Calls ``module:function``; holds only the target string so that it pickles anywhere."""

    def __init__(self, target: str, kwargs: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.kwargs = dict(kwargs or {})
        self._fn: Any = None
        fn = _import_target(target)  # fail fast on the driver, with a clear error
        self._one_arg = _n_positional(fn) == 1 and not self.kwargs

    def __getstate__(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kwargs": self.kwargs,
            "_one_arg": self._one_arg,
            "_fn": None,
        }

    def __call__(self, params: dict[str, Any], ctx: Any = None) -> Any:
        if self._fn is None:
            self._fn = _import_target(self.target)
        if self._one_arg:
            return self._fn(params)
        return self._fn(params, ctx, **self.kwargs)


def _n_positional(fn: Any) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values()):
        return 2
    return sum(p.kind in kinds for p in sig.parameters.values())


class CommandObjective:
    """Runs an external program per trial and reads its metrics (a JSON object) from stdout."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        if isinstance(command, str):
            command = shlex.split(command)
        if not command or not all(isinstance(c, str) for c in command):
            raise InvalidConfigError(
                f"command must be a non-empty list of strings, got {command!r}"
            )
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise InvalidConfigError(f"command timeout must be a positive number, got {timeout!r}")
        self.command = list(command)
        self.timeout = timeout
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.cwd = cwd

    def _argv(self, params: Mapping[str, Any], number: int) -> list[str]:
        """Fill ``{name}`` placeholders; other braces (code, JSON, shell ``${VAR}``) stay."""
        values = {**params, "trial": number}

        def fill(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise InvalidConfigError(
                    f"command placeholder {m.group(1)!r} is not a parameter; "
                    f"known: {sorted(values)}"
                )
            return str(values[m.group(1)])

        return [_PLACEHOLDER.sub(fill, part) for part in self.command]

    def __call__(self, params: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
        number = getattr(ctx, "number", 0)
        limits = [t for t in (self.timeout, getattr(ctx, "time_limit", None)) if t is not None]
        timeout = min(limits) if limits else None
        env = {
            **os.environ,
            **self.env,
            "LLMHPO_PARAMS": json.dumps(params),
            "LLMHPO_TRIAL": str(number),
        }
        proc = subprocess.Popen(
            self._argv(params, number),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.cwd,
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"command exceeded its time limit of {timeout} s") from None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        if proc.returncode != 0:
            tail = "\n".join(err.strip().splitlines()[-20:])
            raise RuntimeError(f"command exited with status {proc.returncode}:\n{tail}")
        for line in reversed(out.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    metrics = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(metrics, dict):
                    return metrics
        raise RuntimeError(
            "command printed no JSON object on stdout; the last lines were:\n"
            + "\n".join(out.strip().splitlines()[-5:])
        )


def python_from_config(cfg: Mapping[str, Any]) -> ObjectiveSpec:
    """``objective: {type: python, target: "mod:fn", kwargs: {...}}``."""
    extra = set(cfg) - {"target", "kwargs"}
    if extra or "target" not in cfg:
        raise InvalidConfigError(
            f"a python objective takes 'target' (required) and 'kwargs'; got keys {sorted(cfg)}"
        )
    return ObjectiveSpec(PythonObjective(cfg["target"], cfg.get("kwargs")))


def command_from_config(cfg: Mapping[str, Any]) -> ObjectiveSpec:
    """``objective: {type: command, command: [...], timeout:, env:, cwd:}``."""
    extra = set(cfg) - {"command", "timeout", "env", "cwd"}
    if extra or "command" not in cfg:
        raise InvalidConfigError(
            "a command objective takes 'command' (required), 'timeout', 'env', 'cwd'; "
            f"got keys {sorted(cfg)}"
        )
    return ObjectiveSpec(
        CommandObjective(
            cfg["command"], timeout=cfg.get("timeout"), env=cfg.get("env"), cwd=cfg.get("cwd")
        )
    )
