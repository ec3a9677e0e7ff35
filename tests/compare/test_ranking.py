"""Bradley–Terry ranking, the judging protocol and the vote store, on real studies."""

from __future__ import annotations

import random

import numpy as np
import pytest

import llmhpo
from llmhpo.compare.ranking import bradley_terry, rank_candidates, rank_correlation
from llmhpo.compare.session import next_matchup
from llmhpo.compare.store import add_vote, get_votes, set_answers
from llmhpo.exceptions import InvalidConfigError


def _votes(strength: dict[str, float], n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    keys = list(strength)
    out = []
    for _ in range(n):
        a, b = rng.sample(keys, 2)
        p = 1 / (1 + np.exp(strength[b] - strength[a]))
        out.append({"a": a, "b": b, "prompt": 0, "outcome": "a" if rng.random() < p else "b"})
    return out


def test_bradley_terry_recovers_the_strengths():
    true = {"w": 1.5, "x": 0.5, "y": 0.0, "z": -2.0}
    ranked = rank_candidates(_votes(true, 2000), n_boot=100)
    assert [r.key for r in ranked] == ["w", "x", "y", "z"]
    elo = 400 / np.log(10)
    mean = np.mean(list(true.values()))
    for r in ranked:  # the fitted Elo score within its 95% interval of the truth
        assert r.ci_low <= 1000 + elo * (true[r.key] - mean) + 25 and \
            1000 + elo * (true[r.key] - mean) - 25 <= r.ci_high
        assert r.ci_low < r.score < r.ci_high
    assert sum(r.n for r in ranked) == 2 * 2000


def test_ties_split_a_win_and_an_unbeaten_candidate_stays_finite():
    theta = bradley_terry(np.array([[0.0, 1.0], [1.0, 0.0]]))  # one win each = equal
    assert np.allclose(theta, 0.0)
    ranked = rank_candidates([{"a": "a", "b": "b", "prompt": 0, "outcome": "a"}] * 5 +
                             [{"a": "a", "b": "b", "prompt": 0, "outcome": "both_bad"}])
    assert ranked[0].key == "a" and np.isfinite(ranked[0].score)
    assert (ranked[0].wins, ranked[0].losses, ranked[0].both_bad) == (5, 0, 1)


def test_rank_correlation_signs_by_direction():
    ranked = rank_candidates(_votes({"a": 2.0, "b": 0.0, "c": -2.0}, 300), n_boot=10)
    losses = {"a": 1.0, "b": 2.0, "c": 3.0}  # the lowest loss is the best: same order
    rho, tau, n = rank_correlation(ranked, losses, "minimize")
    assert (rho, tau, n) == (1.0, 1.0, 3)
    assert rank_correlation(ranked, losses, "maximize")[0] == -1.0
    assert rank_correlation(ranked, {"a": 1.0}, "minimize") is None


def test_matchups_cover_every_pair_evenly_and_votes_are_validated(tmp_path):
    study = llmhpo.create_study({"x": {"type": "float", "low": 0, "high": 1}},
                                storage=f"sqlite:///{tmp_path / 's.db'}", study_name="v")
    answers = {"prompts": [{"prompt": "p0"}, {"prompt": "p1"}],
               "candidates": {k: {"label": k, "answers": ["x", "y"]} for k in "abcd"}}
    set_answers(study, answers)
    rng = random.Random(0)
    for _ in range(12):
        m = next_matchup(answers, get_votes(study), rng)
        add_vote(study, prompt=m.prompt, a=m.left, b=m.right, outcome="tie")
    votes = get_votes(study)
    pairs = [frozenset((v["a"], v["b"])) for v in votes]
    assert len(set(pairs)) == 6 and all(pairs.count(p) == 2 for p in set(pairs))
    # the two judgements of each pair are on the two prompts
    assert all({v["prompt"] for v in votes if frozenset((v["a"], v["b"])) == p} == {0, 1}
               for p in set(pairs))
    assert get_votes(study, "llm") == []
    with pytest.raises(InvalidConfigError, match="unknown candidate 'e'"):
        add_vote(study, prompt=0, a="a", b="e", outcome="a")
    with pytest.raises(InvalidConfigError, match="outcome must be one of"):
        add_vote(study, prompt=0, a="a", b="b", outcome="left")
    with pytest.raises(InvalidConfigError, match="prompt index"):
        add_vote(study, prompt=2, a="a", b="b", outcome="a")
    with pytest.raises(InvalidConfigError, match="2 answers for 3 prompts"):
        set_answers(study, {"prompts": [{}, {}, {}], "candidates": answers["candidates"]})
