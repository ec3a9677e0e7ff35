"""Benchmark metrics on hand-made tables; expected values are worked out in the comments."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from llmhpo.bench.metrics import (
    beats_baseline,
    change_vs_baseline,
    long_table,
    mean_ranks,
    normalized_regret,
    summary_table,
)
from llmhpo.bench.runner import incumbent_curve


def _long(rows: list[tuple[str, str, int, float]], budget: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        [{"task": t, "contender": c, "seed": s, "budget": budget, "best": b}
         for t, c, s, b in rows]
    )


# Task A (optimum 0): random 4, 2 | X 1, 3 | Y 1, 2 (seeds 0, 1)
# Task B (optimum 1): random 3, 5 | X 1, 1 | Y 4, 4
TABLE = _long([
    ("A", "random", 0, 4.0), ("A", "random", 1, 2.0),
    ("A", "X", 0, 1.0), ("A", "X", 1, 3.0),
    ("A", "Y", 0, 1.0), ("A", "Y", 1, 2.0),
    ("B", "random", 0, 3.0), ("B", "random", 1, 5.0),
    ("B", "X", 0, 1.0), ("B", "X", 1, 1.0),
    ("B", "Y", 0, 4.0), ("B", "Y", 1, 4.0),
])


def _by(df: pd.DataFrame, col: str) -> dict[str, float]:
    return dict(zip(df["contender"], df[col], strict=True))


def test_normalized_regret_min_max_per_task() -> None:
    reg = normalized_regret(TABLE)
    # A: lo 1, hi 4 -> random (4-1)/3=1, (2-1)/3; X 0, 2/3; Y 0, 1/3.
    # B: lo 1, hi 5 -> random 2/4, 4/4; X 0, 0; Y 3/4, 3/4.
    expected = [1, 1 / 3, 0, 2 / 3, 0, 1 / 3, 0.5, 1, 0, 0, 0.75, 0.75]
    assert reg.tolist() == pytest.approx(expected)


def test_normalized_regret_explicit_bounds_flat_task_and_no_success() -> None:
    long = _long([("A", "X", 0, 2.0), ("A", "Y", 0, math.nan), ("C", "X", 0, 7.0)])
    reg = normalized_regret(long, {"A": (0.0, 4.0), "C": (7.0, 7.0)})
    # A: (2-0)/4; a run without success counts 1; a flat task (hi == lo) gives 0.
    assert reg.tolist() == pytest.approx([0.5, 1.0, 0.0])


def test_mean_ranks_average_ties() -> None:
    r = _by(mean_ranks(TABLE), "mean_rank")
    # A0: X=Y=1 -> 1.5 each, random 3.  A1: random=Y=2 -> 1.5 each, X 3.
    # B0: X 1, random 2, Y 3.           B1: X 1, Y 2, random 3.
    assert r["random"] == pytest.approx((3 + 1.5 + 2 + 3) / 4)
    assert r["X"] == pytest.approx((1.5 + 3 + 1 + 1) / 4)
    assert r["Y"] == pytest.approx((1.5 + 1.5 + 3 + 2) / 4)
    assert set(mean_ranks(TABLE)["n_blocks"]) == {4}


def test_mean_ranks_skip_incomplete_blocks() -> None:
    # Z ran seed 0 of task A only: only that block is complete.
    long = pd.concat([TABLE, _long([("A", "Z", 0, 0.5)])], ignore_index=True)
    r = _by(mean_ranks(long), "mean_rank")
    # A0: Z 1, X=Y 2.5, random 4.
    assert r == pytest.approx({"Z": 1.0, "X": 2.5, "Y": 2.5, "random": 4.0})


def test_beats_random_share_is_strict() -> None:
    b = _by(beats_baseline(TABLE), "beats_random")
    # medians of random: A 3, B 4.  X: 1<3, 3<3 no, 1<4, 1<4 -> 3/4.
    # Y: 1<3, 2<3, 4<4 no, 4<4 no -> 2/4.  random: 4 no, 2 yes, 3 yes, 5 no -> 2/4.
    assert b == pytest.approx({"X": 0.75, "Y": 0.5, "random": 0.5})


def test_change_vs_random_median_and_mean_over_tasks() -> None:
    c = change_vs_baseline(TABLE, {"A": 0.0, "B": 1.0}).set_index("contender")
    # median regrets: A random 3, X 2, Y 1.5; B random 3, X 0, Y 3.
    # changes: X (1/3, 1), Y (1/2, 0), random (0, 0).
    assert c.loc["X", "median_change"] == pytest.approx(2 / 3)
    assert c.loc["X", "mean_change"] == pytest.approx(2 / 3)
    assert c.loc["Y", "median_change"] == pytest.approx(0.25)
    assert c.loc["random", "mean_change"] == pytest.approx(0.0)


def test_change_when_random_already_optimal() -> None:
    long = _long([("A", "random", 0, 0.0), ("A", "X", 0, 0.0), ("A", "Y", 0, 1.0)])
    c = change_vs_baseline(long, {"A": 0.0}).set_index("contender")
    assert c.loc["X", "median_change"] == 0.0
    assert math.isnan(c.loc["Y", "median_change"])  # no finite relative change


def test_incumbent_curve_and_long_table() -> None:
    curve = incumbent_curve([None, 5.0, 7.0, 3.0], budget=6)
    # NaN before the first success, then the running minimum, carried to the budget.
    assert math.isnan(curve[0])
    assert curve[1:] == [5.0, 5.0, 3.0, 3.0, 3.0]
    runs = pd.DataFrame([
        {"suite": "s", "task": "A", "contender": "X", "seed": 0, "status": "ok",
         "curve": json.dumps([4.0, 2.0, 2.0, 1.0]), "ask_ms_mean": 1.0},
        {"suite": "s", "task": "A", "contender": "Y", "seed": 0, "status": "error",
         "curve": "[]", "ask_ms_mean": float("nan")},
    ])
    long = long_table(runs, [2, 4])
    assert long[["contender", "budget", "best"]].values.tolist() == [["X", 2, 2.0], ["X", 4, 1.0]]


def test_summary_table_uses_whole_curve_bounds() -> None:
    runs = pd.DataFrame([
        {"suite": "s", "task": "A", "contender": "random", "seed": 0, "status": "ok",
         "curve": json.dumps([8.0, 4.0]), "ask_ms_mean": 0.5},
        {"suite": "s", "task": "A", "contender": "X", "seed": 0, "status": "ok",
         "curve": json.dumps([6.0, 0.0]), "ask_ms_mean": 2.0},
    ])
    t = summary_table(runs, [1, 2], {"A": 0.0}).set_index(["budget", "contender"])
    # bounds over the whole curves: lo 0, hi 8.
    assert t.loc[(1, "X"), "norm_regret"] == pytest.approx(6 / 8)
    assert t.loc[(2, "random"), "norm_regret"] == pytest.approx(4 / 8)
    assert t.loc[(2, "X"), "beats_random"] == 1.0
    assert t.loc[(2, "X"), "median_change"] == pytest.approx(1.0)
    assert t.loc[(2, "X"), "ask_ms"] == pytest.approx(2.0)
