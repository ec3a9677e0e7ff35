"""The answer format the LLM must follow: a JSON schema derived from the search space, and the
parsing and validation of what the model wrote.

The schema is what constrained decoding enforces (local model) and what a server gets as
``response_format``; :func:`read_answer` is the check every answer goes through anyway, so an
answer from a server that ignores the schema is still validated the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from llmhpo.exceptions import InvalidSearchSpaceError
from llmhpo.space import Categorical, Fixed, Float, Int, Ordinal, PowerOfTwo, SearchSpace
from llmhpo.space.variables import Variable

__all__ = ["config_schema", "answer_schema", "extract_json", "read_answer", "AnswerError"]

#: Longest analysis (characters) a chain-of-thought answer may write before its config.
ANALYSIS_MAX_CHARS = 400


class AnswerError(ValueError):
    """An answer that is not a usable configuration; the message is shown to the model."""


def _variable_schema(v: Variable) -> dict[str, Any]:
    if isinstance(v, Float):
        return {"type": "number", "minimum": v.low, "maximum": v.high}
    if isinstance(v, Int):
        return {"type": "integer", "minimum": v.low, "maximum": v.high}
    if isinstance(v, PowerOfTwo):
        return {"type": "integer", "enum": [2**e for e in range(
            v.low.bit_length() - 1, v.high.bit_length())]}
    if isinstance(v, (Ordinal, Categorical)):
        return {"enum": list(v.values)}
    raise TypeError(f"no JSON schema for variable type {type(v).__name__}")


def config_schema(space: SearchSpace) -> dict[str, Any]:
    """The JSON schema of one configuration: an object with every non-fixed variable."""
    props = {v.name: _variable_schema(v) for v in space.free}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def answer_schema(space: SearchSpace, *, cot: bool) -> dict[str, Any]:
    """The schema of a whole answer: the config, or ``{"analysis": ..., "config": ...}``
    with chain of thought (the reasoning comes first, so it is written before the choice)."""
    cfg = config_schema(space)
    if not cot:
        return cfg
    return {
        "type": "object",
        "properties": {
            "analysis": {"type": "string", "maxLength": ANALYSIS_MAX_CHARS},
            "config": cfg,
        },
        "required": ["analysis", "config"],
        "additionalProperties": False,
    }


def extract_json(text: str) -> Any:
    """The last JSON object in ``text`` (answers may wrap it in prose or a code fence).

    Raises:
        AnswerError: no JSON object can be read from ``text``.
    """
    dec = json.JSONDecoder()
    found: list[Any] = []
    i = text.find("{")
    while i != -1:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    if not found:
        snippet = " ".join(text.split())[:200]
        raise AnswerError(f"the answer contains no JSON object: {snippet!r}")
    return found[-1]


def read_answer(text: str, space: SearchSpace) -> tuple[dict[str, Any], str | None]:
    """Parse and validate an answer into legal parameters (fixed variables added).

    Returns:
        ``(params, analysis)``; ``analysis`` is the chain-of-thought text, if any.

    Raises:
        AnswerError: naming what is wrong (missing or unknown keys, values out of range), in
            words the model can act on when it is asked again.
    """
    obj = extract_json(text)
    analysis = None
    if "config" in obj and isinstance(obj["config"], Mapping):
        analysis = obj.get("analysis") if isinstance(obj.get("analysis"), str) else None
        obj = dict(obj["config"])
    names = [v.name for v in space.free]
    missing = [n for n in names if n not in obj]
    unknown = [k for k in obj if k not in names and k not in space.names]
    problems: list[str] = []
    if missing:
        problems.append(f"missing key(s) {missing}")
    if unknown:
        problems.append(f"unknown key(s) {unknown} (the keys are {names})")
    params: dict[str, Any] = {}
    for v in space.variables:
        if isinstance(v, Fixed):
            params[v.name] = v.value
            continue
        if v.name not in obj:
            continue
        value = obj[v.name]
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{v.name} = {value!r} is not a finite number")
            continue
        try:
            params[v.name] = v.validate(value)
        except InvalidSearchSpaceError as exc:
            problems.append(str(exc).replace("variable ", "", 1))
    if problems:
        raise AnswerError("; ".join(problems))
    return space.validate(params), analysis
