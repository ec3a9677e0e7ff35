import itertools

import numpy as np
import pytest
from reporting_helpers import front_by_definition as _front_by_definition

from llmhpo.exceptions import InvalidConfigError
from llmhpo.reporting import dominates, pareto_front, pareto_rows

# Tribes et al. 2023, Appendix C, Table 4: (MMLU, BBH, DROP, HumanEval) of the 10 best and 10
# worst models
# by validation loss, all scores to maximize; the paper marks the Pareto-optimal rows with *.
NOMAD = {
    1: (45.94, 32.51, 29.71, 17.07), 2: (46.00, 32.68, 30.95, 17.68),
    3: (46.18, 32.16, 30.63, 15.85), 4: (46.70, 32.37, 30.15, 18.29),
    5: (46.42, 32.07, 30.33, 18.29), 6: (45.98, 32.99, 29.77, 17.68),
    7: (46.46, 32.50, 30.95, 18.90), 8: (46.57, 32.60, 29.67, 14.63),
    9: (46.28, 32.42, 30.29, 16.46), 10: (45.88, 32.67, 30.39, 14.63),
    91: (42.48, 31.43, 28.62, 12.20), 92: (42.47, 32.30, 28.40, 12.80),
    93: (42.44, 30.45, 28.62, 12.80), 94: (45.98, 33.40, 30.45, 13.41),
    95: (45.09, 32.77, 30.85, 15.24), 96: (42.32, 30.98, 29.01, 13.41),
    97: (42.64, 31.24, 27.53, 14.02), 98: (42.88, 32.09, 28.08, 12.80),
    99: (43.45, 32.42, 30.26, 15.24), 100: (43.56, 32.13, 29.02, 15.24),
}
NOMAD_STARS = {2, 4, 6, 7, 8, 94, 95}
TPE = {
    1: (46.56, 32.41, 30.26, 14.63), 2: (46.23, 34.43, 30.15, 14.02),
    3: (46.28, 32.86, 29.28, 16.46), 4: (46.40, 32.27, 29.77, 15.85),
    5: (45.94, 32.83, 30.58, 14.02), 6: (45.84, 33.49, 30.25, 16.46),
    7: (46.13, 32.30, 29.72, 14.63), 8: (46.06, 32.90, 30.34, 15.85),
    9: (45.91, 32.78, 30.77, 15.24), 10: (45.49, 33.03, 29.23, 15.24),
    91: (43.16, 32.02, 28.91, 14.63), 92: (43.10, 32.38, 29.79, 15.85),
    93: (43.27, 31.54, 29.26, 14.02), 94: (43.46, 31.55, 28.80, 14.02),
    95: (43.42, 31.65, 28.94, 14.63), 96: (42.81, 32.05, 29.23, 14.02),
    97: (43.01, 31.45, 32.41, 14.02), 98: (42.86, 32.00, 32.94, 14.63),
    99: (46.20, 32.04, 32.78, 15.85), 100: (46.05, 31.24, 28.89, 14.02),
}
TPE_STARS = {1, 2, 3, 4, 5, 6, 8, 9, 98, 99}


@pytest.mark.parametrize("table,stars", [(NOMAD, NOMAD_STARS), (TPE, TPE_STARS)])
def test_seed000_table4_pareto_marks(table, stars):
    ranks = list(table)
    front = pareto_front([table[r] for r in ranks], ["maximize"] * 4)
    assert {ranks[i] for i in front} == stars


def test_hand_made_set_with_ties_and_duplicates():
    # (loss to minimize, accuracy to maximize)
    pts = [
        (1.0, 0.5),  # 0: front
        (1.0, 0.5),  # 1: duplicate of 0 -> neither dominates the other, both on the front
        (1.0, 0.4),  # 2: tie on loss, worse accuracy -> dominated by 0
        (0.8, 0.3),  # 3: front (best loss)
        (2.0, 0.9),  # 4: front (best accuracy)
        (2.0, 0.9),  # 5: duplicate of 4 -> front
        (2.5, 0.9),  # 6: tie on accuracy, worse loss -> dominated by 4
        (1.5, 0.5),  # 7: dominated by 0
    ]
    assert pareto_front(pts, ["minimize", "maximize"]) == [0, 1, 3, 4, 5]
    # flipped directions (high loss, low accuracy are good): 6 has the highest loss, 3 the
    # lowest accuracy; 7 (1.5, 0.5) and 2 (1.0, 0.4) trade off against them; 0/1 are
    # dominated by 7 and 4/5 by 6
    assert pareto_front(pts, ["maximize", "minimize"]) == [2, 3, 6, 7]


@pytest.mark.parametrize("seed", range(5))
def test_random_integer_sets_with_many_ties_match_the_definition(seed):
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 4, size=(40, 3)).tolist()  # few levels: plenty of ties/duplicates
    for dirs in itertools.product(["minimize", "maximize"], repeat=3):
        signs = [1 if d == "minimize" else -1 for d in dirs]
        assert pareto_front(pts, list(dirs)) == _front_by_definition(pts, signs)


def test_rows_with_missing_metrics_take_no_part():
    rows = [
        {"val_loss": 1.0, "mmlu/acc": 0.3},
        {"val_loss": 0.5, "mmlu/acc": None},  # would dominate row 0 but has no accuracy
        {"val_loss": 2.0, "mmlu/acc": float("nan")},
        {"val_loss": 3.0, "mmlu/acc": 0.4},
        {"val_loss": 4.0},
    ]
    assert pareto_rows(rows, "val_loss,mmlu/acc") == [0, 3]
    assert pareto_rows(rows, {"val_loss": "minimize"}) == [1]
    assert pareto_rows([], ["val_loss"]) == []


def test_dominates_and_errors():
    assert dominates((1, 2), (1, 1), ["minimize", "maximize"])
    assert not dominates((1, 1), (1, 1), ["minimize", "maximize"])
    with pytest.raises(InvalidConfigError, match="direction"):
        pareto_front([(1.0,)], ["smaller"])
    with pytest.raises(InvalidConfigError, match="shape"):
        pareto_front([(1.0, 2.0)], ["minimize"])
    with pytest.raises(InvalidConfigError, match="foo"):
        pareto_rows([{"foo": 1}], ["foo"])  # direction cannot be inferred
