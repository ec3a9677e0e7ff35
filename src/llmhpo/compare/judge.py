"""An LLM as judge, with the people's protocol (same pairs, same anonymized A/B order) and
its votes stored apart (``judgements_llm``), so the two rankings can be compared.

Any OpenAI-compatible chat-completions server works (vLLM, llama.cpp's server, Ollama, a
hosted API; the request is made with the standard library), or a local model run in this
process (``base_url="local"``: the built-in SmolLM2-135M-Instruct, a model directory or a
``.gguf`` file) through the LLM optimizer's local backend, its answer constrained to one of
the four verdicts by a JSON schema (xgrammar), so even a small model always gives a valid
one. A 135M model is a weak judge: use it to try the protocol offline, a real judge for a
ranking you mean to trust.
"""

from __future__ import annotations

import json
import random
import re
import urllib.request
from typing import Any

from llmhpo.compare.session import next_matchup
from llmhpo.compare.store import add_vote, get_answers, get_votes
from llmhpo.exceptions import InvalidConfigError

__all__ = ["JUDGE_PROMPT", "LOCAL", "judge_pairs", "parse_verdict"]

#: ``base_url`` for a local model (no server).
LOCAL = "local"
_VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"enum": ["A", "B", "TIE", "BOTH_BAD"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}

JUDGE_PROMPT = (
    "You are judging two answers to the same instruction. Reply with exactly one word: "
    "A if answer A is better, B if answer B is better, TIE if they are equally good, "
    "BOTH_BAD if both are wrong or useless.\n\nInstruction:\n{prompt}\n\n{expected}"
    "Answer A:\n{a}\n\nAnswer B:\n{b}\n\nYour verdict (A, B, TIE or BOTH_BAD):"
)


def parse_verdict(text: str) -> str | None:
    """The outcome in a judge's reply (``a``, ``b``, ``tie``, ``both_bad``) or ``None``."""
    m = re.search(r"\b(BOTH_BAD|BOTH BAD|TIE|A|B)\b", text.upper())
    if not m:
        return None
    return {"A": "a", "B": "b", "TIE": "tie"}.get(m.group(1), "both_bad")


def _chat(base_url: str, model: str, prompt: str, api_key: str | None, timeout: float) -> str:
    req = urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps({"model": model, "temperature": 0, "max_tokens": 8,
                         "messages": [{"role": "user", "content": prompt}]}).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {api_key}"} if api_key else {})},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the user's URL
        return json.loads(resp.read())["choices"][0]["message"]["content"]


def _local_judge(model: str, device: str = "cpu") -> Any:
    """``ask(prompt) -> reply`` on a local model, decoding constrained to a verdict."""
    from llmhpo.optimizers.llm.backends import LocalBackend

    backend = LocalBackend(model, device=device)
    backend.preflight()

    def ask(prompt: str) -> str:
        reply = backend.complete([{"role": "user", "content": prompt}], _VERDICT_SCHEMA,
                                 temperature=0.0, max_tokens=16, seed=0)
        try:
            return str(json.loads(reply.text)["verdict"])
        except (ValueError, KeyError, TypeError):  # cut off by max_tokens: no verdict
            return reply.text

    return ask


def judge_pairs(
    study: Any, base_url: str, model: str, *, n: int = 10, api_key: str | None = None,
    seed: int = 0, timeout: float = 120.0, show_expected: bool = True,
) -> list[dict[str, Any]]:
    """Ask the LLM at ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``, or ``"local"`` for
    ``model`` run in this process) for ``n`` judgements and store them as LLM votes; returns
    the new votes. Unparseable replies are skipped."""
    answers = get_answers(study)
    if not answers or len(answers["candidates"]) < 2:
        raise InvalidConfigError("no sample answers of two or more candidates to judge")
    if base_url == LOCAL:
        ask = _local_judge(model)
    else:

        def ask(prompt: str) -> str:
            return _chat(base_url, model, prompt, api_key, timeout)

    rng = random.Random(seed)
    new = []
    for _ in range(n):
        m = next_matchup(answers, get_votes(study, "llm"), rng)
        if m is None:
            break
        p = answers["prompts"][m.prompt]
        cands = answers["candidates"]
        text = JUDGE_PROMPT.format(
            prompt=p["prompt"],
            expected=f"Expected answer:\n{p['expected']}\n\n" if show_expected and
            p.get("expected") else "",
            a=cands[m.left]["answers"][m.prompt], b=cands[m.right]["answers"][m.prompt],
        )
        outcome = parse_verdict(ask(text))
        if outcome is None:
            continue
        new.append(add_vote(study, prompt=m.prompt, a=m.left, b=m.right, outcome=outcome,
                            left=m.left, judge="llm", judge_name=f"llm:{model}"))
    return new
