"""Statistics of the bench: Holm correction, bootstrap mean ranks, the tested verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmhpo.bench.stats import _holm, mean_rank_ci, plot_cd, verdict


def _long(values: dict[str, list[float]], budget: int = 10) -> pd.DataFrame:
    rows = []
    for c, vals in values.items():
        for i, v in enumerate(vals):
            rows.append({"task": f"t{i % 5}", "seed": i // 5, "contender": c, "budget": budget,
                         "regret": v})
    return pd.DataFrame(rows)


def test_holm_adjustment() -> None:
    # sorted p 0.01, 0.02, 0.04 (m=3): 3*0.01=0.03, 2*0.02=0.04, 1*0.04=0.04 (monotone)
    assert _holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert _holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # step-down stays monotone


def test_clear_winner_is_best_and_equals_are_tied(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n = 30
    base = rng.random(n)
    long = _long({"good": list(base * 0.1), "bad": list(base + 0.5),
                  "bad2": list(base + 0.5 + rng.normal(0, 1e-3, n))})
    v = verdict(long, 10)
    assert v is not None and v.best == "good" and v.tied == [] and v.n_blocks == n
    assert "**best: good" in v.sentence()
    ranks = mean_rank_ci(long.pivot_table(index=["task", "seed"], columns="contender",
                                          values="regret"))
    assert ranks["contender"].iloc[0] == "good" and ranks["mean_rank"].iloc[0] == 1.0
    assert ranks["ci_low"].iloc[0] == ranks["ci_high"].iloc[0] == 1.0
    # two contenders that differ by noise only are tied
    long2 = _long({"a": list(base), "b": list(base + rng.normal(0, 0.01, n))})
    v2 = verdict(long2, 10)
    assert v2 is not None and v2.tied == [("b" if v2.best == "a" else "a")]
    assert "statistically tied with" in v2.sentence()
    png = plot_cd(v, tmp_path / "cd.png")
    assert png.read_bytes().startswith(b"\x89PNG")
