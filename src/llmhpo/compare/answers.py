"""Generate the sample answers of the candidates that people (or an LLM judge) compare: the
base model, the default-hyperparameter model and the best trials (with their kept adapters).

The objective supplies them (duck-typed, like ``evaluate_reference``)::

    objective.sample_answers(params_or_None, ctx, n_prompts) -> {"prompts", "answers"}

where ``None`` is the base model and ``ctx.workdir`` is the trial's work directory (so a kept
adapter is used instead of training again). :class:`~llmhpo.objectives.LoRAObjective` has it.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from llmhpo.compare.store import get_answers, set_answers
from llmhpo.exceptions import InvalidConfigError

__all__ = ["collect_answers", "candidate_specs"]

_logger = logging.getLogger("llmhpo.compare")


def candidate_specs(study: Any, objective: Any, top_k: int = 2) -> list[dict[str, Any]]:
    """The candidates: each reference the objective declares, then the ``top_k`` best trials;
    ``{"key", "label", "kind", "trial", "params"}`` each."""
    from llmhpo.evaluation.references import reference_label
    from llmhpo.reporting.table import ranked_trials

    out = []
    declare = getattr(objective, "references", None)
    for name, params in (dict(declare()) if declare else {}).items():
        out.append({"key": name, "label": reference_label(name), "kind": "reference",
                    "trial": None, "params": params})
    for rank, t in enumerate(ranked_trials(study, top_k), start=1):
        out.append({"key": f"trial_{t.number}", "label": f"trial {t.number} (rank {rank})",
                    "kind": "trial", "trial": t.number, "params": dict(t.params)})
    return out


def collect_answers(
    study: Any,
    objective: Any,
    *,
    top_k: int = 2,
    n_prompts: int = 5,
    workdir: str | Path | None = None,
    refresh: bool = False,
    stream: Any = None,
) -> dict[str, Any]:
    """Generate (or reuse) every candidate's answers to the same prompts and store them with
    the study; returns the stored record.

    Args:
        study: the :class:`~llmhpo.study.Study`.
        objective: an objective with ``sample_answers`` (an ``ObjectiveSpec`` is unwrapped).
        top_k: how many of the best trials are candidates (besides the references).
        n_prompts: how many held-out prompts.
        workdir: the study's work directory (trial ``n``'s adapter is under ``trial_<n>``).
        refresh: generate again even candidates whose answers are stored.
        stream: where a line per candidate is printed (default stderr; ``False``: silent).

    Raises:
        InvalidConfigError: the objective cannot generate answers.
    """
    from llmhpo.evaluation.references import unwrap_objective
    from llmhpo.study.outcome import TrialContext

    objective = unwrap_objective(objective)
    gen = getattr(objective, "sample_answers", None)
    if gen is None:
        raise InvalidConfigError(
            f"{type(objective).__name__} cannot generate answers (no sample_answers method); "
            "llmhpo compare needs a text-generating objective such as type: lora"
        )
    out = stream if stream is not None else sys.stderr
    stored = None if refresh else get_answers(study)
    cands: dict[str, Any] = dict((stored or {}).get("candidates") or {})
    prompts = (stored or {}).get("prompts")
    if prompts is not None and len(prompts) != n_prompts:
        cands, prompts = {}, None  # another number of prompts: answers do not line up
    specs = candidate_specs(study, objective, top_k)
    for i, c in enumerate(specs, start=1):
        if c["key"] in cands:
            continue
        sub = f"trial_{c['trial']}" if c["trial"] is not None else f"reference_{c['key']}"
        ctx = TrialContext(number=-100 - i, seed=0,
                           workdir=None if workdir is None else str(Path(workdir) / sub))
        t0 = time.monotonic()
        if out is not False:
            print(f"[llmhpo] answers {i}/{len(specs)}: {c['label']} ...", file=out, flush=True)
        res = gen(None if c["params"] is None else dict(c["params"]), ctx, n_prompts)
        prompts = prompts or res["prompts"]
        cands[c["key"]] = {"label": c["label"], "kind": c["kind"], "trial": c["trial"],
                           "answers": list(res["answers"]),
                           "adapter_source": res.get("adapter_source")}
        _logger.info("answers of %s in %.1f s", c["label"], time.monotonic() - t0)
        record = {"prompts": prompts, "candidates": cands}
        set_answers(study, record)  # after each candidate: an interruption loses nothing
    # trials no longer among the best (a resumed study) leave, unless people judged them
    from llmhpo.compare.store import get_votes

    voted = {k for j in ("human", "llm") for v in get_votes(study, j) for k in (v["a"], v["b"])}
    wanted = {c["key"] for c in specs} | voted
    if prompts is not None and set(cands) - wanted:
        set_answers(study, {"prompts": prompts,
                            "candidates": {k: c for k, c in cands.items() if k in wanted}})
    return get_answers(study) or {"prompts": prompts or [], "candidates": cands}
