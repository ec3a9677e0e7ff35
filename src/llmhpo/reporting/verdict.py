"""The verdict: does the best trial beat each reference, on the objective and on the test set?

A study can "succeed" and still produce nothing useful: in the public code of seed 001 the
reported optimum scored the same as the untouched base model, because the optimizer had found
learning rates so small that nothing trained (see docs/reporting.md). The verdict states, for
every stored reference, whether the best trial beats it on the objective metric (in the
study's direction) and on each held-out test metric (in that metric's direction), with both
values, and it flags a best trial that is indistinguishable from the base model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llmhpo.reporting.metrics import as_number, better, parse_metric_directions
from llmhpo.reporting.references import BASE, get_references, reference_label
from llmhpo.reporting.table import ranked_trials, test_metric_names
from llmhpo.study.trial import Trial

__all__ = ["Comparison", "Verdict", "make_verdict"]

_LR_NAMES = ("learning_rate", "lr")


@dataclass(frozen=True)
class Comparison:
    """The best trial against one reference on one metric.

    Attributes:
        reference: the reference's name (``"base"``, ``"peft_default"``...).
        label: its display name.
        metric: the metric compared.
        direction: ``"minimize"`` or ``"maximize"``.
        best: the best trial's value (``None`` if it has none).
        ref: the reference's value (``None`` if it has none, e.g. its evaluation failed).
        outcome: ``"better"``, ``"worse"``, ``"tie"`` (within the tolerance) or ``"missing"``.
    """

    reference: str
    label: str
    metric: str
    direction: str
    best: float | None
    ref: float | None
    outcome: str

    @property
    def beats(self) -> bool | None:
        """True if strictly better beyond the tolerance; ``None`` if a value is missing."""
        return None if self.outcome == "missing" else self.outcome == "better"

    @property
    def margin(self) -> float | None:
        """How much better the best trial is (positive) or worse (negative)."""
        if self.best is None or self.ref is None:
            return None
        d = self.best - self.ref
        return -d if self.direction == "minimize" else d


@dataclass(frozen=True)
class Verdict:
    """The structured verdict and its plain-text statement.

    Attributes:
        best_trial: number of the trial judged (``None`` if no trial completed).
        comparisons: one :class:`Comparison` per reference and metric.
        beats_all: the best trial beats every reference on every compared metric.
        indistinguishable_from_base: on every metric compared with the base model, the best
            trial is within the tolerance of it.
        tiny_learning_rate: the best trial's learning rate is so small that it likely did not
            train at all.
        warnings: the flags above (and missing data), as sentences.
        text: the whole verdict as plain sentences.
    """

    best_trial: int | None
    comparisons: tuple[Comparison, ...]
    beats_all: bool
    indistinguishable_from_base: bool
    tiny_learning_rate: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""

    @property
    def suspicious(self) -> bool:
        """True when the best trial may be no better than not fine-tuning at all."""
        return self.indistinguishable_from_base or self.tiny_learning_rate

    def beats(self, reference: str, metric: str | None = None) -> bool:
        """True if the best trial beats ``reference`` on ``metric`` (default: every metric)."""
        rel = [
            c for c in self.comparisons
            if c.reference == reference and (metric is None or c.metric == metric)
        ]
        return bool(rel) and all(c.beats for c in rel)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["suspicious"] = self.suspicious
        return d


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (>= 4) that tell them apart."""
    for digits in range(4, 12):
        sa, sb = f"{a:#.{digits}g}", f"{b:#.{digits}g}"
        if sa != sb or a == b:
            return sa, sb
    return f"{a!r}", f"{b!r}"


def _compare(best: float | None, ref: float | None, direction: str, rtol: float,
             atol: float) -> str:
    if best is None or ref is None:
        return "missing"
    if abs(best - ref) <= max(atol, rtol * max(abs(best), abs(ref))):
        return "tie"
    return "better" if better(best, ref, direction) else "worse"


def _values_text(c: Comparison) -> str:
    a, b = _fmt_pair(c.best, c.ref)  # type: ignore[arg-type]
    tie = ", within the tolerance" if c.outcome == "tie" else ""
    return f"{c.metric} ({a} vs {b}{tie})"


def _reference_sentence(trial: int, comps: Sequence[Comparison], rec: Mapping[str, Any]) -> str:
    label = comps[0].label
    subject = f"Best trial {trial}"
    missing = [c for c in comps if c.outcome == "missing"]
    won = [c for c in comps if c.outcome == "better"]
    lost = [c for c in comps if c.outcome in ("worse", "tie")]
    parts = []
    if won:
        parts.append(
            f"{subject} beats the {label} on " + " and on ".join(_values_text(c) for c in won)
        )
    if lost:
        head = f"{subject} does NOT beat the {label} on" if not won else "but does NOT beat it on"
        parts.append(f"{head} " + " nor on ".join(_values_text(c) for c in lost))
    text = ", ".join(parts) + "." if parts else ""
    if missing:
        why = (
            f"its evaluation {rec.get('state')}: {rec.get('error')}"
            if rec.get("state", "complete") != "complete"
            else "a value is missing"
        )
        names = ", ".join(c.metric for c in missing)
        text += (" " if text else "") + f"Cannot compare with the {label} on {names} ({why})."
    return text


def _tiny_lr(trial: Trial, min_learning_rate: float) -> tuple[str, float] | None:
    for name, v in trial.params.items():
        low = name.lower()
        if low in _LR_NAMES or "learning_rate" in low:
            f = as_number(v)
            if f is not None and f <= min_learning_rate:
                return name, f
    return None


def make_verdict(
    study: Any,
    *,
    test_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    trial: Trial | None = None,
    rtol: float = 2e-3,
    atol: float = 1e-12,
    min_learning_rate: float = 1e-7,
) -> Verdict:
    """Judge the best trial against every stored reference.

    Args:
        study: a :class:`~llmhpo.study.Study` (its ``metric`` and ``direction`` define the
            objective comparison).
        test_metrics: held-out test metrics with their directions, e.g.
            ``{"test_accuracy": "maximize"}`` or ``"test_loss:min"``; directions of usual
            names (``*loss``, ``*acc*``) are inferred. Default: every ``test_*`` metric found
            whose direction the name tells.
        references: reference records (default: those stored with the study).
        trial: judge this trial instead of the study's best.
        rtol, atol: two values within ``max(atol, rtol * max(|a|, |b|))`` are a tie, which
            does not count as beating.
        min_learning_rate: a best trial whose learning rate is at or below this is flagged
            as probably untrained.
    """
    objective = study.metric or "value"
    tests = parse_metric_directions(
        test_metric_names(study, with_direction=True) if test_metrics is None else test_metrics
    )
    tests.pop(objective, None)
    refs = (
        get_references(study)
        if references is None
        else {k: dict(v) for k, v in references.items()}
    )
    best = trial if trial is not None else (ranked_trials(study, 1) or [None])[0]
    if best is None:
        text = "No trial completed, so there is no best trial to judge."
        return Verdict(None, (), False, False, False, (text,), text)
    metrics = {objective: study.direction, **tests}
    comps: list[Comparison] = []
    for name, rec in refs.items():
        label = rec.get("label") or reference_label(name)
        rm = rec.get("metrics") or {}
        for m, d in metrics.items():
            bv = as_number(best.value) if m == objective else as_number(best.metrics.get(m))
            rv = as_number(rm.get(m))
            comps.append(Comparison(name, label, m, d, bv, rv, _compare(bv, rv, d, rtol, atol)))

    sentences: list[str] = []
    for name, rec in refs.items():
        rc = [c for c in comps if c.reference == name]
        sentences.append(_reference_sentence(best.number, rc, rec))
    warnings: list[str] = []
    base = [c for c in comps if c.reference == BASE and c.outcome != "missing"]
    indist = bool(base) and all(c.outcome == "tie" for c in base)
    if indist:
        warnings.append(
            f"WARNING: best trial {best.number} is indistinguishable from the base model without "
            f"fine-tuning on {', '.join(c.metric for c in base)} (relative tolerance {rtol:g}): "
            "the optimization may only have learned to leave the model unchanged."
        )
    lr = _tiny_lr(best, min_learning_rate)
    if lr is not None:
        warnings.append(
            f"WARNING: best trial {best.number} has {lr[0]}={lr[1]:.2e}, at or below "
            f"{min_learning_rate:.0e}: with so small a learning rate the adapter barely moves, "
            "so its scores are those of the base model, not of fine-tuning."
        )
    if not refs:
        warnings.append(
            "No reference evaluations are stored with this study (base model, default "
            "hyperparameters): nothing shows that the best trial is better than not tuning."
        )
    elif BASE not in refs:
        warnings.append(
            "No base-model reference is stored: cannot check that fine-tuning changed anything."
        )
    beats_all = bool(comps) and all(c.beats for c in comps)
    if refs:
        head = (
            f"VERDICT: best trial {best.number} beats every reference on "
            f"{' and '.join(metrics)}."
            if beats_all
            else f"VERDICT: best trial {best.number} does NOT beat every reference on "
            f"{' and '.join(metrics)}."
        )
        sentences.insert(0, head)
    text = "\n".join([s for s in sentences if s] + warnings)
    return Verdict(best.number, tuple(comps), beats_all, indist, lr is not None,
                   tuple(warnings), text)
