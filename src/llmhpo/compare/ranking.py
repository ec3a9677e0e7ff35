"""Ranking candidates from pairwise votes: Bradley–Terry strengths with bootstrap confidence
intervals, on the Elo scale, next to the study's objective ranking.

Hand-written (Newton's method on a dozen lines of likelihood) rather than a dependency: the usual
packages (``choix``) are unmaintained, and the model here is the textbook one. Ties and
"both bad" count as half a win for each side, as in Chatbot Arena's Bradley–Terry fit; a
small ridge penalty on the log-strengths keeps the fit finite when a candidate won (or lost)
every comparison.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RankedCandidate", "bradley_terry", "rank_candidates", "objective_values",
           "rank_correlation", "ranking_table"]

_ELO = 400.0 / math.log(10.0)  # log-strength -> Elo points
_RIDGE = 0.01


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate's rating: Elo-scale score (mean 1000) and its 95% bootstrap interval,
    and its tally of wins, losses, ties and "both bad" votes."""

    key: str
    score: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int
    both_bad: int

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties + self.both_bad


def _win_matrix(votes: Sequence[Mapping[str, Any]], index: Mapping[str, int]) -> np.ndarray:
    w = np.zeros((len(index), len(index)))
    for v in votes:
        i, j = index[v["a"]], index[v["b"]]
        if v["outcome"] == "a":
            w[i, j] += 1.0
        elif v["outcome"] == "b":
            w[j, i] += 1.0
        else:  # tie, both bad: half a win each
            w[i, j] += 0.5
            w[j, i] += 0.5
    return w


def bradley_terry(wins: np.ndarray, ridge: float = _RIDGE) -> np.ndarray:
    """Maximum-likelihood log-strengths (mean 0) from ``wins[i, j]`` = times i beat j.

    Newton's method on the ridge-penalized negative log-likelihood (strictly convex: a few
    iterations on a handful of candidates, fast enough for hundreds of bootstrap refits).
    """
    n = wins.shape[0]
    games = wins + wins.T
    theta = np.zeros(n)
    if n == 0 or not games.any():
        return theta
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))  # P(i beats j)
        grad = -(wins - games * p).sum(axis=1) + 2 * ridge * theta
        c = games * p * (1 - p)
        hess = np.diag(c.sum(axis=1)) - c + 2 * ridge * np.eye(n)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta - theta.mean()


def rank_candidates(
    votes: Sequence[Mapping[str, Any]], candidates: Sequence[str] | None = None,
    *, n_boot: int = 200, seed: int = 0,
) -> list[RankedCandidate]:
    """Bradley–Terry ranking of the candidates in ``votes`` (best first), with 95% bootstrap
    intervals (votes resampled with replacement ``n_boot`` times)."""
    keys = list(candidates) if candidates is not None else sorted(
        {v["a"] for v in votes} | {v["b"] for v in votes})
    index = {k: i for i, k in enumerate(keys)}
    votes = [v for v in votes if v["a"] in index and v["b"] in index]
    theta = bradley_terry(_win_matrix(votes, index))
    rng = np.random.default_rng(seed)
    boots = np.array([
        bradley_terry(_win_matrix([votes[i] for i in rng.integers(0, len(votes), len(votes))],
                                  index))
        for _ in range(n_boot if votes else 0)
    ]).reshape(-1, len(keys))
    out = []
    for k, i in index.items():
        tally = {"wins": 0, "losses": 0, "ties": 0, "both_bad": 0}
        for v in votes:
            if k not in (v["a"], v["b"]):
                continue
            o = v["outcome"]
            if o in ("tie", "both_bad"):
                tally["ties" if o == "tie" else "both_bad"] += 1
            else:
                tally["wins" if (o == "a") == (v["a"] == k) else "losses"] += 1
        lo, hi = (np.percentile(boots[:, i], [2.5, 97.5]) if len(boots) else (theta[i],) * 2)
        out.append(RankedCandidate(k, 1000 + _ELO * float(theta[i]), 1000 + _ELO * float(lo),
                                   1000 + _ELO * float(hi), **tally))
    return sorted(out, key=lambda r: -r.score)


def objective_values(study: Any) -> dict[str, float]:
    """The study objective of each stored candidate (trials: their value; references: their
    stored metric), keyed as in the stored answers."""
    from llmhpo.compare.store import get_answers
    from llmhpo.evaluation.references import get_references

    metric = study.metric or "value"
    refs = get_references(study)
    by_number = {t.number: t.value for t in study.trials}
    out: dict[str, float] = {}
    for key, c in ((get_answers(study) or {}).get("candidates") or {}).items():
        if c.get("trial") is not None:
            v = by_number.get(int(c["trial"]))
        else:
            v = ((refs.get(key) or {}).get("metrics") or {}).get(metric)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[key] = float(v)
    return out


def rank_correlation(
    ranked: Sequence[RankedCandidate], values: Mapping[str, float], direction: str
) -> tuple[float, float, int] | None:
    """Spearman's rho and Kendall's tau between the judges' scores and the objective
    (signed so that +1 means the same order), over candidates having both; ``None`` under 3."""
    from scipy.stats import kendalltau, spearmanr

    both = [(r.score, values[r.key]) for r in ranked if r.key in values]
    if len(both) < 3:
        return None
    s, v = zip(*both, strict=True)
    sign = -1.0 if direction == "minimize" else 1.0
    v = [sign * x for x in v]
    return float(spearmanr(s, v)[0]), float(kendalltau(s, v)[0]), len(both)


def ranking_table(study: Any, votes: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table: judges' rank, candidate, score [95% CI], tally, objective and its rank;
    then the rank correlation between the two orders."""
    from llmhpo.compare.store import get_answers
    from llmhpo.reporting.metrics import format_metric

    cands = (get_answers(study) or {}).get("candidates") or {}
    ranked = rank_candidates(votes, list(cands))
    values = objective_values(study)
    sign = 1.0 if study.direction == "minimize" else -1.0
    obj_rank = {k: i + 1 for i, k in enumerate(sorted(values, key=lambda k: sign * values[k]))}
    metric = study.metric or "value"
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(str(cands.get(r.key, {}).get('label', r.key)))}</td>"
        f"<td>{r.score:.0f} [{r.ci_low:.0f}, {r.ci_high:.0f}]</td>"
        f"<td>{r.wins} / {r.ties} / {r.losses} / {r.both_bad}</td>"
        f"<td>{e(format_metric(values.get(r.key)))}</td><td>{obj_rank.get(r.key, '-')}</td></tr>"
        for i, r in enumerate(ranked, start=1)
    )
    corr = rank_correlation(ranked, values, study.direction)
    note = ("Too few candidates with an objective value for a rank correlation." if corr is None
            else f"Rank correlation with the {metric} order over {corr[2]} candidates: "
                 f"Spearman {corr[0]:+.2f}, Kendall {corr[1]:+.2f} (+1: the same order).")
    return (
        '<table class="ranking"><thead><tr><th>rank</th><th>candidate</th>'
        "<th>Bradley–Terry score (Elo scale) [95% CI]</th><th>wins / ties / losses / both bad"
        f"</th><th>{e(metric)}</th><th>{e(metric)} rank</th></tr></thead><tbody>{rows}"
        f"</tbody></table><p>{e(note)}</p>"
    )
