"""What ``llmhpo compare`` stores with a study (Optuna study user attributes, so it travels
with the database and optuna-dashboard shows it):

* ``sample_answers``: ``{"prompts": [{"prompt", "expected"}], "candidates": {key: {"label",
  "kind", "trial", "answers": [str per prompt]}}}`` — what each candidate model answered;
* ``judgements_human`` and ``judgements_llm``: lists of votes, kept apart so that an LLM
  judge never mixes with people. A vote is ``{"prompt": index, "a": key, "b": key,
  "left": key shown on the left, "outcome": "a" | "b" | "tie" | "both_bad", "judge",
  "time"}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = [
    "ANSWERS_KEY",
    "VOTES_KEYS",
    "STORE_KEYS",
    "OUTCOMES",
    "get_answers",
    "set_answers",
    "get_votes",
    "add_vote",
]

ANSWERS_KEY = "sample_answers"
VOTES_KEYS = {"human": "judgements_human", "llm": "judgements_llm"}
STORE_KEYS = frozenset({ANSWERS_KEY, *VOTES_KEYS.values()})
#: a is better, b is better, a tie, both answers bad (no preference; ranked as a tie).
OUTCOMES = ("a", "b", "tie", "both_bad")


def get_answers(study: Any) -> dict[str, Any] | None:
    """The stored sample answers, or ``None``."""
    ans = study.user_attrs.get(ANSWERS_KEY)
    return dict(ans) if ans else None


def set_answers(study: Any, answers: Mapping[str, Any]) -> None:
    """Store sample answers (see the module docstring for the format)."""
    prompts = answers.get("prompts")
    cands = answers.get("candidates")
    if not isinstance(prompts, list) or not isinstance(cands, Mapping):
        raise InvalidConfigError("answers need a 'prompts' list and a 'candidates' mapping")
    for key, c in cands.items():
        if len(c.get("answers", [])) != len(prompts):
            raise InvalidConfigError(
                f"candidate {key!r} has {len(c.get('answers', []))} answers for "
                f"{len(prompts)} prompts"
            )
    study.set_user_attr(ANSWERS_KEY, dict(answers))


def _key(judge: str) -> str:
    if judge not in VOTES_KEYS:
        raise InvalidConfigError(f"judge must be one of {sorted(VOTES_KEYS)}, got {judge!r}")
    return VOTES_KEYS[judge]


def get_votes(study: Any, judge: str = "human") -> list[dict[str, Any]]:
    """The stored votes of ``judge`` (``"human"`` or ``"llm"``), oldest first."""
    return [dict(v) for v in study.user_attrs.get(_key(judge)) or []]


def add_vote(
    study: Any, *, prompt: int, a: str, b: str, outcome: str, left: str | None = None,
    judge: str = "human", judge_name: str | None = None,
) -> dict[str, Any]:
    """Append one vote to the study's stored votes and return it.

    Raises:
        InvalidConfigError: an unknown outcome, candidate or prompt index.
    """
    if outcome not in OUTCOMES:
        raise InvalidConfigError(f"outcome must be one of {list(OUTCOMES)}, got {outcome!r}")
    ans = get_answers(study) or {"prompts": [], "candidates": {}}
    for c in (a, b):
        if c not in ans["candidates"]:
            raise InvalidConfigError(
                f"unknown candidate {c!r}; stored candidates: {sorted(ans['candidates'])}")
    if a == b:
        raise InvalidConfigError(f"a vote compares two different candidates, got {a!r} twice")
    if not 0 <= prompt < len(ans["prompts"]):
        raise InvalidConfigError(
            f"prompt index must be in [0, {len(ans['prompts'])}), got {prompt!r}")
    vote = {
        "prompt": int(prompt), "a": a, "b": b, "left": left or a, "outcome": outcome,
        "judge": judge_name or judge,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    votes = get_votes(study, judge) + [vote]
    study.set_user_attr(_key(judge), votes)
    return vote
