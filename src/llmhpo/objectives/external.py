"""Objectives defined outside llmhpo: a Python function, or an external command.

* ``{type: python, target: "pkg.module:function", kwargs: {...}}`` calls
  ``function(params, ctx, **kwargs)`` (or ``function(params)`` for one-argument functions).
* ``{type: command, command: [...], timeout: s, env: {...}, cwd: dir}`` runs a program per trial:
  any training script (e.g. a LitGPT CLI run, Davouse & Talbi 2025) can be the blackbox.
  Placeholders such
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
from pathlib import Path
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.registry import ObjectiveSpec
from llmhpo.validation import (
    bad_value,
    check_mapping,
    check_number,
    check_str,
    check_str_list,
    check_str_mapping,
    one_line,
    short_repr,
)

__all__ = ["PythonObjective", "CommandObjective", "python_from_config", "command_from_config"]

# ``{identifier}``, not preceded by ``$`` (a shell variable): str.format would choke on any
# other brace in the command (inline code, JSON arguments), so placeholders are matched alone.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Programs that run their ``-c`` argument as shell code: a placeholder inside that argument is
# filled shell-quoted (shlex.quote), so that a parameter value cannot inject shell syntax.
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"}


def _import_target(target: str) -> Any:
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise bad_value("objective.target", target, "'package.module:function'")
    module, attr = target.split(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise InvalidConfigError(
            f"objective.target: cannot import module {module!r} of {target!r}: "
            f"{one_line(str(exc), 300)}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        where = ""
        if isinstance(exc, SyntaxError):
            where = f" ({exc.filename}, line {exc.lineno})"
        raise InvalidConfigError(
            f"objective.target: importing module {module!r} of {target!r} raised "
            f"{type(exc).__name__}{where}: {one_line(str(exc), 300)}"
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
        _check_call(fn, target, self.kwargs, self._one_arg)

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

    def resumable(self, workdir: Any) -> bool:
        """The target's own ``resumable(workdir)`` hook (a function attribute), else False:
        whether an interrupted trial's work directory holds a checkpoint to continue from."""
        if self._fn is None:
            self._fn = _import_target(self.target)
        hook = getattr(self._fn, "resumable", None)
        return bool(hook(Path(workdir))) if callable(hook) else False


def _check_call(fn: Any, target: str, kwargs: dict[str, Any], one_arg: bool) -> None:
    """Refuse, before any trial, keyword arguments the function does not take."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        if one_arg:
            sig.bind({})
        else:
            sig.bind({}, None, **kwargs)
    except TypeError as exc:
        raise InvalidConfigError(
            f"objective.kwargs: {target!r} cannot be called as "
            f"{'fn(params)' if one_arg else 'fn(params, ctx, **kwargs)'} with kwargs "
            f"{short_repr(sorted(kwargs))}: {exc}; its signature is {short_repr(str(sig), 200)}"
        ) from None


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
            try:
                command = shlex.split(command)
            except ValueError as exc:  # an unclosed quote
                raise bad_value("objective.command", command, f"a command line ({exc})") from None
        self.command = check_str_list("objective.command", command)
        self.timeout = check_number(
            "objective.timeout", timeout, low=0, low_open=True, none_ok=True
        )
        self.env = check_str_mapping("objective.env", env if env is not None else {})
        self.cwd = check_str("objective.cwd", cwd, none_ok=True, what="a directory")
        self.placeholders = sorted(
            {m.group(1) for part in self.command for m in _PLACEHOLDER.finditer(part)}
        )

    def check_space(self, space: Any) -> None:
        """Refuse, before any trial, a ``{placeholder}`` that no parameter fills."""
        known = set(space.names) | {"trial"}
        unknown = [p for p in self.placeholders if p not in known]
        if unknown:
            raise InvalidConfigError(
                f"objective.command: placeholder(s) {unknown} are not parameters of the space; "
                f"expected some of {sorted(known)}"
            )

    def preflight(self) -> None:
        """Refuse a program that does not exist or a ``cwd`` that is not a directory."""
        import shutil

        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise bad_value("objective.cwd", self.cwd, "an existing directory")
        prog = self.command[0]
        if "{" in prog:
            return
        if os.sep in prog:
            base = os.path.join(self.cwd or "", prog)
            if not (os.path.isfile(base) and os.access(base, os.X_OK)):
                raise bad_value("objective.command", prog, "an executable program")
        elif shutil.which(prog) is None:
            raise bad_value("objective.command", prog, "a program on PATH")

    def _argv(self, params: Mapping[str, Any], number: int) -> list[str]:
        """Fill ``{name}`` placeholders; other braces (code, JSON, shell ``${VAR}``) stay."""
        values = {**params, "trial": number}

        def filler(quote: bool) -> Any:
            def fill(m: re.Match[str]) -> str:
                if m.group(1) not in values:
                    raise InvalidConfigError(
                        f"command placeholder {m.group(1)!r} is not a parameter; "
                        f"known: {sorted(values)}"
                    )
                text = str(values[m.group(1)])
                return shlex.quote(text) if quote else text

            return fill

        # In `sh -c "SCRIPT"` the script is shell code: quote the values filled into it.
        shell = os.path.basename(self.command[0]) in _SHELLS
        out = []
        for i, part in enumerate(self.command):
            in_script = shell and i > 0 and self.command[i - 1] == "-c"
            out.append(_PLACEHOLDER.sub(filler(in_script), part))
        return out

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
            "a python objective takes 'target' (required) and 'kwargs'; got keys "
            f"{sorted(map(str, cfg))}"
        )
    kwargs = cfg.get("kwargs")
    kwargs = {} if kwargs is None else check_mapping("objective.kwargs", kwargs)
    return ObjectiveSpec(PythonObjective(cfg["target"], kwargs))


def command_from_config(cfg: Mapping[str, Any]) -> ObjectiveSpec:
    """``objective: {type: command, command: [...], timeout:, env:, cwd:}``."""
    extra = set(cfg) - {"command", "timeout", "env", "cwd"}
    if extra or "command" not in cfg:
        raise InvalidConfigError(
            "a command objective takes 'command' (required), 'timeout', 'env', 'cwd'; "
            f"got keys {sorted(map(str, cfg))}"
        )
    return ObjectiveSpec(
        CommandObjective(
            cfg["command"], timeout=cfg.get("timeout"), env=cfg.get("env"), cwd=cfg.get("cwd")
        )
    )
