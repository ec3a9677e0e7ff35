"""The verdict: does the best configuration beat each reference, on the objective and on the
held-out test set, beyond the noise?

A study can "succeed" and still produce nothing useful: in the public code of Davouse & Talbi
(2025) the reported optimum scored the same as the untouched base model, because the optimizer
had found learning rates so small that nothing trained (see docs/reporting.md). And a held-out
accuracy on a few dozen prompts moves by several points from one prompt to the next. So for
every stored reference and every compared metric the verdict says **beats**, **ties** or
**loses**, decided by a paired bootstrap interval of the difference (candidate - reference on
the same examples, :mod:`llmhpo.reporting.intervals`): beats when the whole interval is on the
better side of zero, loses when it is on the worse side, ties otherwise. Metrics without
per-example values fall back to the point values with a small relative tolerance.

When the study stores a re-check (:mod:`llmhpo.evaluation.recheck`: the top trials re-trained
with fresh seeds), the candidate is the re-check's winner and its values are the re-check runs'
(mean and spread over seeds), not the optimistic values it was selected on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from llmhpo.evaluation.references import BASE, get_references, reference_label
from llmhpo.metrics import as_number, better, parse_metric_directions
from llmhpo.reporting.table import ranked_trials, test_metric_names
from llmhpo.study.trial import Trial

__all__ = ["Comparison", "Verdict", "Candidate", "make_verdict", "OUTCOMES"]

_LR_NAMES = ("learning_rate", "lr")

#: What a comparison can say, from the candidate's side.
OUTCOMES = ("beats", "ties", "loses", "missing")


@dataclass(frozen=True)
class Comparison:
    """The candidate against one reference on one metric.

    Attributes:
        reference: the reference's name (``"base"``, ``"paper_default"``...).
        label: its display name.
        metric: the metric compared.
        direction: ``"minimize"`` or ``"maximize"``.
        best: the candidate's value (mean over re-check runs when re-checked; ``None`` if
            it has none).
        ref: the reference's value (``None`` if it has none, e.g. its evaluation failed).
        outcome: ``"beats"``, ``"ties"``, ``"loses"`` or ``"missing"``.
        diff: the bootstrap interval of ``best - ref`` as ``[estimate, low, high]``, or
            ``None`` when per-example values are missing (then a relative tolerance decides).
        level: the interval's confidence level.
    """

    reference: str
    label: str
    metric: str
    direction: str
    best: float | None
    ref: float | None
    outcome: str
    diff: tuple[float, float, float] | None = None
    level: float | None = None

    @property
    def beats(self) -> bool | None:
        """True if the candidate beats the reference; ``None`` if a value is missing."""
        return None if self.outcome == "missing" else self.outcome == "beats"

    @property
    def margin(self) -> float | None:
        """How much better the candidate is (positive) or worse (negative)."""
        if self.best is None or self.ref is None:
            return None
        d = self.best - self.ref
        return -d if self.direction == "minimize" else d


@dataclass(frozen=True)
class Candidate:
    """What is judged: a trial, and the runs its values come from.

    Attributes:
        trial: the trial number.
        runs: one metrics dict per run (the trial itself, or its re-check runs).
        rechecked: the runs are re-check runs with fresh training seeds.
        seeds: the re-check's seeds.
    """

    trial: int
    runs: tuple[dict[str, Any], ...]
    rechecked: bool = False
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The structured verdict and its plain-text statement.

    Attributes:
        best_trial: number of the trial judged (``None`` if no trial completed).
        comparisons: one :class:`Comparison` per reference and metric.
        beats_all: the candidate beats every reference on every compared metric.
        indistinguishable_from_base: on every metric compared with the base model, the
            candidate ties with it.
        tiny_learning_rate: the candidate's learning rate is so small that it likely did not
            train at all.
        warnings: the flags above (and missing data), as sentences.
        text: the whole verdict as plain sentences.
        rechecked: the candidate's values come from a re-check with fresh seeds.
    """

    best_trial: int | None
    comparisons: tuple[Comparison, ...]
    beats_all: bool
    indistinguishable_from_base: bool
    tiny_learning_rate: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""
    rechecked: bool = False

    @property
    def suspicious(self) -> bool:
        """True when the best trial may be no better than not fine-tuning at all."""
        return self.indistinguishable_from_base or self.tiny_learning_rate

    def outcome(self, reference: str, metric: str) -> str | None:
        """``"beats"``/``"ties"``/``"loses"``/``"missing"`` for one reference and metric."""
        for c in self.comparisons:
            if c.reference == reference and c.metric == metric:
                return c.outcome
        return None

    def beats(self, reference: str, metric: str | None = None) -> bool:
        """True if the candidate beats ``reference`` on ``metric`` (default: every metric)."""
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


def _point_outcome(best: float, ref: float, direction: str, rtol: float, atol: float) -> str:
    if abs(best - ref) <= max(atol, rtol * max(abs(best), abs(ref))):
        return "ties"
    return "beats" if better(best, ref, direction) else "loses"


def _interval_outcome(low: float, high: float, direction: str) -> str:
    """beats when the whole interval of (candidate - reference) is on the better side of 0."""
    if direction == "minimize":
        return "beats" if high < 0 else "loses" if low > 0 else "ties"
    return "beats" if low > 0 else "loses" if high < 0 else "ties"


def _signed(x: float) -> str:
    return f"{x:+.3g}"


def _values_text(c: Comparison) -> str:
    a, b = _fmt_pair(c.best, c.ref)  # type: ignore[arg-type]
    if c.diff is not None:
        pct = f"{round(100 * (c.level or 0.95))}%"
        return (f"{c.metric} ({a} vs {b}; difference {_signed(c.diff[0])}, {pct} interval "
                f"[{_signed(c.diff[1])}, {_signed(c.diff[2])}])")
    tie = ", within the tolerance" if c.outcome == "ties" else ""
    return f"{c.metric} ({a} vs {b}{tie})"


def _reference_sentence(subject: str, comps: Sequence[Comparison], rec: Mapping[str, Any]) -> str:
    label = comps[0].label
    missing = [c for c in comps if c.outcome == "missing"]
    groups = [
        ("beats the {label} on", "beats it on", [c for c in comps if c.outcome == "beats"]),
        ("ties with the {label} on", "ties with it on",
         [c for c in comps if c.outcome == "ties"]),
        ("loses to the {label} on", "loses to it on", [c for c in comps if c.outcome == "loses"]),
    ]
    parts = []
    for first, again, cs in groups:
        if not cs:
            continue
        verb = first.format(label=label) if not parts else again
        parts.append(f"{verb} " + " and on ".join(_values_text(c) for c in cs))
    text = f"{subject} " + "; ".join(parts) + "." if parts else ""
    if missing:
        why = (
            f"its evaluation {rec.get('state')}: {rec.get('error')}"
            if rec.get("state", "complete") != "complete"
            else "a value is missing"
        )
        names = ", ".join(c.metric for c in missing)
        text += (" " if text else "") + f"Cannot compare with the {label} on {names} ({why})."
    return text


def _tiny_lr(params: Mapping[str, Any], min_learning_rate: float) -> tuple[str, float] | None:
    for name, v in params.items():
        low = name.lower()
        if low in _LR_NAMES or "learning_rate" in low:
            f = as_number(v)
            if f is not None and f <= min_learning_rate:
                return name, f
    return None


def _run_value(run: Mapping[str, Any], metric: str) -> float | None:
    return as_number(run.get(metric))


def candidate_of(study: Any, trial: Trial | None = None) -> Candidate | None:
    """The candidate to judge: the stored re-check's winner when there is one (and no
    ``trial`` is given), else ``trial`` or the study's best trial with its own values."""
    if trial is None:
        from llmhpo.evaluation.recheck import get_recheck

        rc = get_recheck(study)
        if rc is not None and rc.get("winner") is not None:
            row = next((r for r in rc["trials"] if r["trial"] == rc["winner"]), None)
            runs = tuple(dict(r["metrics"]) for r in (row or {}).get("runs", [])
                         if r.get("state") == "complete")
            if runs:
                return Candidate(int(rc["winner"]), runs, True, tuple(rc.get("seeds", ())))
    best = trial if trial is not None else (ranked_trials(study, 1) or [None])[0]
    if best is None:
        return None
    objective = study.metric or "value"
    return Candidate(best.number, ({**best.metrics, objective: best.value},))


def make_verdict(
    study: Any,
    *,
    test_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    trial: Trial | None = None,
    rtol: float = 2e-3,
    atol: float = 1e-12,
    min_learning_rate: float = 1e-7,
    level: float = 0.95,
    n_boot: int = 2000,
) -> Verdict:
    """Judge the best configuration against every stored reference.

    Args:
        study: a :class:`~llmhpo.study.Study` (its ``metric`` and ``direction`` define the
            objective comparison).
        test_metrics: held-out test metrics with their directions, e.g.
            ``{"test_accuracy": "maximize"}`` or ``"test_loss:min"``; directions of usual
            names (``*loss``, ``*acc*``) are inferred. Default: every ``test_*`` metric found
            whose direction the name tells.
        references: reference records (default: those stored with the study).
        trial: judge this trial (its own values) instead of the re-check winner / best trial.
        rtol, atol: without per-example values, two values within
            ``max(atol, rtol * max(|a|, |b|))`` tie.
        min_learning_rate: a candidate whose learning rate is at or below this is flagged
            as probably untrained.
        level: confidence level of the bootstrap intervals.
        n_boot: bootstrap replicates.
    """
    from llmhpo.reporting.intervals import difference_interval, per_example

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
    cand = candidate_of(study, trial)
    if cand is None:
        text = "No trial completed, so there is no best trial to judge."
        return Verdict(None, (), False, False, False, (text,), text)
    params = next((t.params for t in study.trials if t.number == cand.trial), {})
    metrics = {objective: study.direction, **tests}
    comps: list[Comparison] = []
    for name, rec in refs.items():
        label = rec.get("label") or reference_label(name)
        rm = rec.get("metrics") or {}
        for m, d in metrics.items():
            vals = [_run_value(r, m) for r in cand.runs]
            bv = None if any(v is None for v in vals) else sum(vals) / len(vals)  # type: ignore[arg-type]
            rv = as_number(rm.get(m))
            if bv is None or rv is None:
                comps.append(Comparison(name, label, m, d, bv, rv, "missing"))
                continue
            cruns = [per_example(r, m) for r in cand.runs]
            rrun = per_example(rm, m)
            diff = None
            if rrun is not None and all(c is not None for c in cruns):
                try:
                    iv = difference_interval(cruns, [rrun], n_boot=n_boot, level=level)  # type: ignore[arg-type]
                    diff = (iv.estimate, iv.low, iv.high)
                except ValueError:  # evaluated on different examples: not paired
                    diff = None
            outcome = (
                _interval_outcome(diff[1], diff[2], d)
                if diff is not None
                else _point_outcome(bv, rv, d, rtol, atol)
            )
            comps.append(Comparison(name, label, m, d, bv, rv, outcome, diff,
                                    level if diff is not None else None))

    if cand.rechecked:
        seeds = ", ".join(str(s) for s in cand.seeds)
        subject = f"Trial {cand.trial} (re-checked: mean of {len(cand.runs)} fresh seeds {seeds})"
        short = f"trial {cand.trial} (re-checked)"
    else:
        subject = f"Best trial {cand.trial}"
        short = f"best trial {cand.trial}"
    sentences: list[str] = []
    for name, rec in refs.items():
        rc = [c for c in comps if c.reference == name]
        if rc:
            sentences.append(_reference_sentence(subject, rc, rec))
    warnings: list[str] = []
    base = [c for c in comps if c.reference == BASE and c.outcome != "missing"]
    indist = bool(base) and all(c.outcome == "ties" for c in base)
    if indist:
        warnings.append(
            f"WARNING: {short} is indistinguishable from the base model without "
            f"fine-tuning on {', '.join(c.metric for c in base)}: the optimization may only "
            "have learned to leave the model unchanged."
        )
    lr = _tiny_lr(params, min_learning_rate)
    if lr is not None:
        warnings.append(
            f"WARNING: {short} has {lr[0]}={lr[1]:.2e}, at or below "
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
        pct = f"{round(100 * level)}%"
        if beats_all:
            head = f"VERDICT: {short} beats every reference on {' and '.join(metrics)}"
        else:
            tally = {o: sum(c.outcome == o for c in comps) for o in OUTCOMES}
            counts = ", ".join(f"{o} {n}" for o, n in tally.items() if n)
            head = (f"VERDICT: {short} does NOT beat every reference on "
                    f"{' and '.join(metrics)} ({counts} of {len(comps)} comparisons)")
        if any(c.diff is not None for c in comps):
            head += f" — decided by {pct} paired bootstrap intervals of the difference."
        else:
            head += "."
        sentences.insert(0, head)
    if any(c.diff is None and c.outcome != "missing" for c in comps):
        sentences.append(
            f"(Comparisons without an interval had no per-example values: point values, ties "
            f"within a relative tolerance of {rtol:g}.)"
        )
    text = "\n".join([s for s in sentences if s] + warnings)
    return Verdict(cand.trial, tuple(comps), beats_all, indist, lr is not None,
                   tuple(warnings), text, cand.rechecked)
