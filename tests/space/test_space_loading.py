"""Loading spaces from YAML/dict, the errors a user sees, and the papers' presets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmhpo.exceptions import InvalidSearchSpaceError
from llmhpo.space import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    SearchSpace,
    get_preset,
    kiwy2025_space,
    tribes2023_space,
)

SPACE_YAML = """
space:
  learning_rate: {type: float, low: 1e-5, high: 1.0e-2, log: true, default: 1.0e-4}
  lora_rank: {type: pow2, low: 4, high: 512, default: 8}
  lora_alpha: {type: int, low: 1, high: 64}
  lora_dropout: {type: ordinal, values: [0.0, 1.0e-4, 1.0e-3, 1.0e-2, 0.1]}
  optimizer: {type: categorical, choices: [adamw, sgd]}
  epochs: 1
"""


def test_yaml_space_builds_every_kind(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    space = SearchSpace.from_yaml(path)
    assert space.names == [
        "learning_rate",
        "lora_rank",
        "lora_alpha",
        "lora_dropout",
        "optimizer",
        "epochs",
    ]
    assert [type(v) for v in space] == [Float, PowerOfTwo, Int, Ordinal, Categorical, Fixed]
    lr = space["learning_rate"]
    assert (lr.low, lr.high, lr.log, lr.default) == (1e-5, 1e-2, True, 1e-4)  # "1e-5" parsed
    assert space["lora_rank"].default == 8
    assert space["epochs"].value == 1
    assert space.dim == 5
    # to_dict -> from_dict is the identity (this is what a study stores)
    assert SearchSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ({"lr": {"type": "float", "low": 1, "high": 0}}, ["'lr'", "low=1", "high=0"]),
        (
            {"lr": {"type": "float", "low": 0, "high": 1, "log": True}},
            ["'lr'", "low > 0", "low=0"],
        ),
        ({"lr": {"type": "float", "low": "abc", "high": 1}}, ["'lr'", "'abc'", "number"]),
        (
            {"lr": {"type": "float", "low": 0, "high": 1, "default": 2}},
            ["'lr'", "2", "[0.0, 1.0]"],
        ),
        ({"r": {"type": "pow2", "low": 3, "high": 16}}, ["'r'", "3", "power of two"]),
        (
            {"r": {"type": "pow2", "low": 4, "high": 16, "default": 6}},
            ["'r'", "6", "power of two"],
        ),
        ({"a": {"type": "int", "low": 1.5, "high": 4}}, ["'a'", "1.5", "integer"]),
        ({"a": {"type": "int", "low": 1, "high": 4, "default": 9}}, ["'a'", "9", "[1, 4]"]),
        ({"d": {"type": "ordinal", "values": [0.1, 0.1]}}, ["'d'", "0.1", "distinct"]),
        ({"d": {"type": "ordinal", "values": []}}, ["'d'", "[]", "non-empty list"]),
        (
            {"c": {"type": "categorical", "choices": ["a"], "default": "z"}},
            ["'c'", "'z'", "one of"],
        ),
        ({"c": {"type": "categorial", "choices": ["a"]}}, ["'c'", "'categorial'", "categorical"]),
        ({"c": {"type": "categorical", "choices": ["a"], "size": 3}}, ["'c'", "size", "choices"]),
        ({"c": {"type": "float", "low": 0}}, ["'c'", "'high'", "float"]),
    ],
)
def test_bad_space_errors_name_variable_value_and_expectation(spec, fragments):
    with pytest.raises(InvalidSearchSpaceError) as info:
        SearchSpace.from_dict(spec)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, (f, msg)


@pytest.mark.parametrize(
    "params, fragments",
    [
        ({"x": 2.0, "n": 3}, ["'x'", "2.0", "[0.0, 1.0]"]),
        ({"x": 0.5, "n": 3.5}, ["'n'", "3.5", "integer in [1, 5]"]),
        ({"x": 0.5}, ["missing ['n']"]),
        ({"x": 0.5, "n": 2, "z": 1}, ["unknown ['z']"]),
    ],
)
def test_bad_params_errors(params, fragments):
    space = SearchSpace([Float("x", 0, 1), Int("n", 1, 5)])
    with pytest.raises(InvalidSearchSpaceError) as info:
        space.validate(params)
    for f in fragments:
        assert f in str(info.value)


def test_empty_and_duplicate_spaces_are_rejected():
    with pytest.raises(InvalidSearchSpaceError, match="non-empty mapping"):
        SearchSpace.from_dict({})
    with pytest.raises(InvalidSearchSpaceError, match=r"duplicate variable name\(s\): \['x'\]"):
        SearchSpace([Float("x", 0, 1), Int("x", 0, 3)])
    with pytest.raises(InvalidSearchSpaceError, match="non-fixed"):
        SearchSpace([Fixed("epochs", 1)])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(InvalidSearchSpaceError, match=r"'nope'.*\['kiwy2025', 'tribes2023'\]"):
        get_preset("nope")


# ----- presets of the papers -------------------------------------------------------------------
def test_tribes2023_defaults_are_table3_defaults():
    """Tribes et al. 2023 Table 3: PEFT defaults rank 8, dropout 0.1, alpha 32, learning rate
    1e-5."""
    space = tribes2023_space()
    assert space.default_params() == {
        "lora_rank": 8,
        "lora_dropout": 0.1,
        "lora_alpha": 32,
        "learning_rate": 1e-5,
    }
    assert get_preset("tribes2023") == space


def test_tribes2023_bounds_follow_table3_mapping():
    space = tribes2023_space()
    rank = space["lora_rank"]  # 2^(r+1), r in [1, 8]
    assert [rank.from_internal(r + 1) for r in range(1, 9)] == [2 ** (r + 1) for r in range(1, 9)]
    assert (rank.low, rank.high) == (4, 512)
    alpha = space["lora_alpha"]
    assert (alpha.low, alpha.high) == (1, 64)
    lr = space["learning_rate"]  # 10^lr, lr in [-6, -3]
    assert lr.log and lr.internal_bounds == pytest.approx((-6.0, -3.0))
    # dropout code d in {1..5}: 0 for d = 1, else 10^(d-6) (the printed 10^(6-d) is a misprint);
    # d = 6 (dropout 1.0) is left out because it silences the adapter
    expected = [0.0] + [10.0 ** (d - 6) for d in range(2, 6)]
    assert space["lora_dropout"].values == pytest.approx(expected)
    assert 1.0 not in space["lora_dropout"].values
    # the default code d = 5 maps to 0.1
    assert space["lora_dropout"].values[5 - 1] == pytest.approx(0.1)


def test_kiwy2025_bounds_are_table1():
    """Davouse & Talbi 2025 Table 1: lr 10^x, x in [-10, -1]; rank [2, 32]; alpha [16, 64]; dropout
    [0, 0.5]; weight decay 10^x, x in [-3, -1]."""
    space = kiwy2025_space()
    lr, rank, alpha, dropout, wd = (
        space[n]
        for n in ("learning_rate", "lora_rank", "lora_alpha", "lora_dropout", "weight_decay")
    )
    assert lr.log and lr.internal_bounds == pytest.approx((-10.0, -1.0))
    assert isinstance(rank, Int) and (rank.low, rank.high) == (2, 32)
    assert isinstance(alpha, Int) and (alpha.low, alpha.high) == (16, 64)
    assert not dropout.log and (dropout.low, dropout.high) == (0.0, 0.5)
    assert wd.log and wd.internal_bounds == pytest.approx((-3.0, -1.0))
    corners = [space.decode(np.full(space.dim, u)) for u in (0.0, 1.0)]
    assert corners[0]["learning_rate"] == 1e-10 and corners[1]["learning_rate"] == 1e-1
    assert corners[0]["lora_rank"] == 2 and corners[1]["lora_rank"] == 32
    assert math.isclose(corners[1]["weight_decay"], 0.1)
