"""The prompts of Zhang et al. (2023), Appendix B, generated from a search space.

The first message describes the task and every hyperparameter in the paper's words ("name,
description. Type: UniformFloat, Range: [low, high], Default: d, on log-scale"), states the
budget and asks for a JSON config. Then either

* ``chat``: the whole dialogue — each answer of the model, then a user message with its
  result (``loss = 1.2345e-01``, the failure and its error text, or "being evaluated") and the
  request for the next config; or
* ``compressed``: one user message — the first message, the history as one line per
  configuration, and the request.

With ``cot`` the model writes a short analysis before its config (as a JSON field, so that
constrained decoding and servers' JSON modes still apply); with ``expert`` the system message
is "You are a machine learning expert." (the paper's Table 5). The last request of the budget
starts with "This is the last try." as in the paper.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmhpo.space import Categorical, Float, Int, Ordinal, PowerOfTwo, SearchSpace
from llmhpo.space.variables import Variable

__all__ = ["Entry", "build_messages", "describe_space", "repair_message", "EXPERT_SYSTEM"]

EXPERT_SYSTEM = "You are a machine learning expert."
_PLACEHOLDERS = "xyzuvwpqrstabcdefghijklmno"


@dataclass(frozen=True)
class Entry:
    """One configuration of the history, in the order it was asked.

    Attributes:
        params: the configuration (free variables only are shown).
        status: ``"done"``, ``"failed"`` or ``"pending"``.
        value: the loss of a done configuration.
        error: the error text of a failed one.
        answer: the model's answer that proposed it (``None``: not the model's, e.g. a
            space-filling fallback or a warm-start point).
    """

    params: dict[str, Any]
    status: str
    value: float | None = None
    error: str | None = None
    answer: str | None = None


def _num(x: Any) -> str:
    return repr(x) if isinstance(x, float) else str(x)


def describe_variable(v: Variable) -> str:
    """One line of the search-space description, in the paper's format."""
    head = v.name + (f", {v.description.rstrip('.')}" if v.description else "")
    if isinstance(v, Float):
        kind = f"Type: UniformFloat, Range: [{_num(v.low)}, {_num(v.high)}]"
    elif isinstance(v, Int):
        kind = f"Type: UniformInteger, Range: [{v.low}, {v.high}]"
    elif isinstance(v, PowerOfTwo):
        kind = f"Type: PowerOfTwo, Range: [{v.low}, {v.high}] (a power of two)"
    elif isinstance(v, Ordinal):
        kind = f"Type: Ordinal, Values: {json.dumps(v.values)}"
    elif isinstance(v, Categorical):
        kind = f"Type: Categorical, Choices: {json.dumps(v.values)}"
    else:
        kind = f"Type: {type(v).__name__}"
    default = f", Default: {_num(v.default)}" if v.has_default else ""
    log = ", on log-scale" if getattr(v, "log", False) else ""
    return f"{head}. {kind}{default}{log}"


def describe_space(space: SearchSpace) -> str:
    """Every free variable, one line each."""
    return "\n".join(describe_variable(v) for v in space.free)


def _example(space: SearchSpace) -> str:
    keys = [v.name for v in space.free]
    return "{" + ", ".join(f'"{k}": {_PLACEHOLDERS[i % len(_PLACEHOLDERS)]}'
                           for i, k in enumerate(keys)) + "}"


def _answer_format(space: SearchSpace, cot: bool) -> str:
    if cot:
        return (
            'Answer with one JSON object {"analysis": <up to a few sentences describing what '
            'worked so far and what to choose next>, "config": <the config>} and nothing else. '
            f"Example config: {_example(space)}"
        )
    return (
        "Provide a config in JSON format. Do not put new lines or any extra characters in the "
        f"response. Example config: {_example(space)}"
    )


def first_message(space: SearchSpace, task: str | None, budget: int | None, cot: bool) -> str:
    """The paper's initial message: task, search space, budget, answer format."""
    what = f"for {task.strip().rstrip('.')}" if task else "of a training run"
    parts = [
        f"You are helping tune hyperparameters {what}. This is our hyperparameter search space:",
        describe_space(space),
    ]
    budget_txt = f"We have a budget to try {budget} configurations in total. " if budget else ""
    parts.append(
        f"{budget_txt}You will get the loss (lower is better) of each configuration before you "
        "need to specify the next configuration. The goal is to find the configuration that "
        "minimizes the loss with the given budget, so you should explore different parts of the "
        "search space if the loss is not changing. " + _answer_format(space, cot)
    )
    return "\n".join(parts)


def _config_json(space: SearchSpace, params: dict[str, Any]) -> str:
    return json.dumps({v.name: params[v.name] for v in space.free})


def _short(error: str | None, limit: int = 300) -> str:
    lines = (error or "").strip().splitlines()
    text = lines[-1].strip() if lines else "no error text"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _outcome(e: Entry) -> str:
    if e.status == "done":
        return f"loss = {e.value:.4e}"
    if e.status == "failed":
        return f"the training run failed: {_short(e.error)}"
    return "being evaluated"


def _chat_outcome(e: Entry) -> str:
    if e.status == "done":
        return f"loss = {e.value:.4e}"
    if e.status == "failed":
        return f"The training run failed: {_short(e.error)}"
    return "This config is being evaluated"


def _request(space: SearchSpace, cot: bool, last: bool, pending: bool) -> str:
    prefix = "This is the last try. " if last else ""
    differ = ", different from the configs being evaluated" if pending else ""
    if cot:
        return (f"{prefix}Specify the next config{differ}. " + _answer_format(space, cot))
    return f"{prefix}Specify the next config{differ}, do not add anything else."


def build_messages(
    space: SearchSpace,
    history: Sequence[Entry],
    *,
    mode: str,
    cot: bool,
    expert: bool,
    task: str | None,
    budget: int | None,
) -> list[dict[str, str]]:
    """The messages that ask for the next configuration after ``history``."""
    msgs: list[dict[str, str]] = []
    if expert:
        msgs.append({"role": "system", "content": EXPERT_SYSTEM})
    first = first_message(space, task, budget, cot)
    last = budget is not None and len(history) + 1 >= budget
    pending = any(e.status == "pending" for e in history)
    if mode == "compressed":
        text = first
        if history:
            lines = [f"{_config_json(space, e.params)}: {_outcome(e)}" for e in history]
            text += "\nConfigurations so far and their results:\n" + "\n".join(lines)
            text += "\n" + _request(space, cot, last, pending)
        msgs.append({"role": "user", "content": text + ("" if history else " Config:")})
        return msgs
    msgs.append({"role": "user", "content": first + " Config:"})
    for i, e in enumerate(history):
        msgs.append({"role": "assistant", "content": e.answer or _config_json(space, e.params)})
        note = "" if e.answer else "(That config was chosen for you.) "
        pending_after = any(h.status == "pending" for h in history[: i + 1])
        last_here = last and i == len(history) - 1
        msgs.append({
            "role": "user",
            "content": f"{note}{_chat_outcome(e)}. "
            + _request(space, cot, last_here, pending_after),
        })
    return msgs


def repair_message(problem: str, space: SearchSpace, cot: bool) -> dict[str, str]:
    """The user message that asks again after an unusable answer, naming the problem."""
    return {
        "role": "user",
        "content": f"That answer cannot be used: {problem}. " + _answer_format(space, cot),
    }
