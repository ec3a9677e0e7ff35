"""The judging protocol shared by people and the LLM judge: which pair and prompt to show
next, in which order (anonymized: the judge sees "A" and "B", never which model is which)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Matchup", "next_matchup", "outcome_of_choice"]


@dataclass(frozen=True)
class Matchup:
    """One judgement to make: prompt ``prompt``, answer of ``left`` shown as A, ``right`` as B."""

    prompt: int
    left: str
    right: str


def next_matchup(
    answers: Mapping[str, Any], votes: Sequence[Mapping[str, Any]], rng: random.Random
) -> Matchup | None:
    """The least-judged pair of candidates (ties broken at random), its least-judged prompt,
    and a random side for each; ``None`` with fewer than two candidates."""
    keys = sorted(answers["candidates"])
    pairs = list(itertools.combinations(keys, 2))
    if not pairs or not answers["prompts"]:
        return None
    seen = Counter(tuple(sorted((v["a"], v["b"]))) for v in votes)
    fewest = min(seen[p] for p in pairs)
    a, b = rng.choice([p for p in pairs if seen[p] == fewest])
    on_prompt = Counter(v["prompt"] for v in votes if {v["a"], v["b"]} == {a, b})
    n = len(answers["prompts"])
    least = min(on_prompt[i] for i in range(n))
    prompt = rng.choice([i for i in range(n) if on_prompt[i] == least])
    left, right = (a, b) if rng.random() < 0.5 else (b, a)
    return Matchup(prompt, left, right)


def outcome_of_choice(choice: str) -> str:
    """The stored outcome (``a`` = left won, ``b`` = right won) of a judge's choice
    ``"A"``, ``"B"``, ``"tie"`` or ``"both_bad"`` (case-insensitive)."""
    c = choice.strip().lower().replace(" ", "_")
    return {"a": "a", "left": "a", "b": "b", "right": "b", "tie": "tie",
            "both_bad": "both_bad"}.get(c, "")
