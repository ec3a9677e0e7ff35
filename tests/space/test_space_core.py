"""Search space: round trips, legality of the whole cube, relax-and-round, errors, presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmhpo.exceptions import InvalidSearchSpaceError
from llmhpo.space import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    SearchSpace,
    kiwy2025_space,
    tribes2023_space,
)

SETTINGS = settings(max_examples=200, deadline=None)

SPACE = SearchSpace(
    [
        Float("lin", -3.0, 7.5),
        Float("lr", 1e-10, 1e-1, log=True),
        Int("epochs", 1, 12),
        Int("batch", 1, 1000, log=True),
        PowerOfTwo("rank", 4, 512),
        Ordinal("dropout", [0.0, 1e-4, 1e-3, 1e-2, 0.1]),
        Categorical("optim", ["adamw", "sgd", 3, True]),
        Fixed("model", "smollm2"),
    ]
)

legal_params = st.fixed_dictionaries(
    {
        "lin": st.floats(-3.0, 7.5),
        "lr": st.floats(1e-10, 1e-1),
        "epochs": st.integers(1, 12),
        "batch": st.integers(1, 1000),
        "rank": st.sampled_from([2**e for e in range(2, 10)]),
        "dropout": st.sampled_from([0.0, 1e-4, 1e-3, 1e-2, 0.1]),
        "optim": st.sampled_from(["adamw", "sgd", 3, True]),
        "model": st.just("smollm2"),
    }
)


@SETTINGS
@given(st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7))
def test_decode_encode_round_trip_is_exact_for_every_kind(u):
    """Every value the space hands out (a decoded point) survives encode/decode bit for bit."""
    params = SPACE.decode(u)
    x = SPACE.encode(params)
    assert x.shape == (7,)  # the fixed variable takes no dimension
    assert np.all((x >= 0.0) & (x <= 1.0))
    back = SPACE.decode(x)
    assert back == params
    # types survive too (True is not 1, 3 is not 3.0)
    assert [type(back[k]) for k in params] == [type(v) for v in params.values()]


@SETTINGS
@given(legal_params)
def test_any_legal_params_round_trip(params):
    """Integers, powers of two, choices and fixed values of any legal dict round-trip exactly.

    Floats the space did not produce come back within float resolution only: near 0.0625 in
    ``[1e-10, 0.1]`` (log) one ulp of u moves ``10**(-10 + 9 u)`` by ~1.4e-16 while the floats
    there are 1.4e-17 apart, so no encoding into one double can hit each of them (counting
    argument). After one pass the value is a decoded one and is exact from then on.
    """
    back = SPACE.decode(SPACE.encode(params))
    for k in ("epochs", "batch", "rank", "dropout", "optim", "model"):
        assert back[k] == params[k] and type(back[k]) is type(params[k])
    assert back["lin"] == pytest.approx(params["lin"], rel=1e-12, abs=1e-14)
    assert back["lr"] == pytest.approx(params["lr"], rel=1e-12)
    assert SPACE.decode(SPACE.encode(back)) == back


@SETTINGS
@given(st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7))
def test_every_point_of_the_unit_cube_decodes_to_a_legal_value(u):
    p = SPACE.decode(u)
    assert SPACE.validate(p) == p
    assert -3.0 <= p["lin"] <= 7.5 and 1e-10 <= p["lr"] <= 1e-1
    assert type(p["epochs"]) is int and 1 <= p["epochs"] <= 12
    assert type(p["batch"]) is int and 1 <= p["batch"] <= 1000
    assert p["rank"] in {4, 8, 16, 32, 64, 128, 256, 512}
    assert p["dropout"] in (0.0, 1e-4, 1e-3, 1e-2, 0.1)
    assert p["model"] == "smollm2"
    # decoding is idempotent through the encoding (what optimizers see after snapping)
    assert SPACE.decode(SPACE.encode(p)) == p


def _bin_edges(var, values) -> list[float]:
    """The unit coordinates where the decoded value changes, found by bisection on from_unit."""
    edges = [0.0]
    for a, b in zip(values, values[1:], strict=False):
        lo, hi = var.to_unit(a), var.to_unit(b)
        assert var.from_unit(lo) == a and var.from_unit(hi) == b
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            if var.from_unit(mid) == a:
                lo = mid
            else:
                assert var.from_unit(mid) == b  # no other value between two neighbours
                hi = mid
        edges.append(hi)
    edges.append(1.0)
    return edges


@pytest.mark.parametrize(
    "var, values",
    [
        (Int("n", -2, 9), list(range(-2, 10))),
        (Int("one", 5, 5), [5]),
        (PowerOfTwo("rank", 4, 512), [2**e for e in range(2, 10)]),
        (Ordinal("d", [0.0, 1e-4, 1e-3, 1e-2, 0.1]), [0.0, 1e-4, 1e-3, 1e-2, 0.1]),
        (Categorical("c", ["a", "b", "c"]), ["a", "b", "c"]),
    ],
)
def test_relax_and_round_gives_every_value_an_equal_share(var, values):
    edges = _bin_edges(var, values)
    widths = np.diff(edges)
    assert widths == pytest.approx([1.0 / len(values)] * len(values), abs=1e-12)
    # each value is encoded at the centre of its own bin
    centres = [0.5 * (a + b) for a, b in zip(edges, edges[1:], strict=False)]
    assert [var.to_unit(v) for v in values] == pytest.approx(centres, abs=1e-12)


def test_log_int_bins_are_log_widths_not_equal_shares():
    """A log-scale integer spreads [0, 1] over log(k - 1/2)..log(k + 1/2): by design, small
    integers get more of the cube (documented: only linear integers are equally likely)."""
    var = Int("b", 1, 8, log=True)
    widths = np.diff(_bin_edges(var, list(range(1, 9))))
    span = math.log(8.5) - math.log(0.5)
    expected = [(math.log(k + 0.5) - math.log(k - 0.5)) / span for k in range(1, 9)]
    assert widths == pytest.approx(expected, abs=1e-12)


def test_uniform_sampling_hits_every_integer_equally_often():
    var = Int("n", 0, 4)
    u = np.random.default_rng(0).random(50_000)
    counts = np.bincount([var.from_unit(t) for t in u], minlength=5)
    # binomial sd = sqrt(n p (1-p)) ~ 89; 5 sd margin
    assert np.all(np.abs(counts - 10_000) < 450), counts


def test_float_log_scale_is_log10_and_bounds_are_exact():
    var = Float("lr", 1e-10, 1e-1, log=True)
    assert var.from_unit(0.0) == 1e-10 and var.from_unit(1.0) == 1e-1
    assert var.to_unit(1e-10) == 0.0 and var.to_unit(1e-1) == 1.0
    # 10^x with x in [-10, -1] (Davouse & Talbi 2025): u = (x + 10) / 9
    assert var.from_unit(5 / 9) == pytest.approx(1e-5, rel=1e-12)
    assert var.to_unit(1e-4) == pytest.approx(6 / 9, abs=1e-12)


# ----- loading and errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, fragments",
    [
        ({"lr": {"type": "float", "low": 1e-3, "high": 1e-5}},
         ["'lr'", "low=0.001", "low < high"]),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}},
         ["'lr'", "low=0", "low > 0"]),
        ({"r": {"type": "pow2", "low": 3, "high": 64}}, ["'r'", "3", "power of two"]),
        ({"a": {"type": "int", "low": 1, "high": 8, "default": 2.5}},
         ["'a'", "2.5", "an integer in [1, 8]"]),
        ({"d": {"type": "ordinal", "values": [0, 0.1], "default": 0.5}},
         ["'d'", "0.5", "one of [0, 0.1]"]),
        ({"o": {"type": "categorical", "choices": "adam"}}, ["'o'", "'adam'", "list of values"]),
        ({"z": {"type": "gaussian", "low": 0, "high": 1}}, ["'z'", "'gaussian'", "'float'"]),
        ({"z": {"type": "float", "low": 0, "high": 1, "step": 2}}, ["'z'", "'step'", "'high'"]),
        ({"z": {"type": "int", "low": 0}}, ["'z'", "'high'", "missing"]),
        ({"z": {"type": "float", "low": "tiny", "high": 1}}, ["'z'", "'tiny'", "number"]),
    ],
)
def test_yaml_errors_name_the_variable_the_value_and_what_was_expected(tmp_path, spec, fragments):
    import yaml

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"space": spec}))
    with pytest.raises(InvalidSearchSpaceError) as info:
        SearchSpace.from_yaml(path)
    msg = str(info.value)
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_yaml_space_loads_every_kind_and_round_trips_through_to_dict(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        """
space:
  learning_rate: {type: float, low: 1.0e-6, high: 1.0e-3, log: true, default: 1.0e-5}
  epochs: {type: int, low: 1, high: 5}
  lora_rank: {type: pow2, low: 4, high: 512, default: 8}
  lora_dropout: {type: ordinal, values: [0.0, 0.0001, 0.001, 0.01, 0.1], default: 0.1}
  optimizer: {type: categorical, choices: [adamw, sgd]}
  model: smollm2
"""
    )
    space = SearchSpace.from_yaml(path)
    assert [type(v) for v in space] == [Float, Int, PowerOfTwo, Ordinal, Categorical, Fixed]
    assert space.dim == 5
    assert space.default_params()["learning_rate"] == 1e-5
    assert space.default_params()["lora_rank"] == 8
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_bad_params_name_the_variable_and_value():
    with pytest.raises(InvalidSearchSpaceError, match=r"'rank'.*24.*power of two in \[4, 512\]"):
        SPACE.encode({**SPACE.default_params(), "rank": 24})
    with pytest.raises(InvalidSearchSpaceError, match=r"missing \['lr'\]"):
        SPACE.encode({k: v for k, v in SPACE.default_params().items() if k != "lr"})


# ----- presets of the papers ----------------------------------------------------------------
def test_tribes2023_preset_is_seed_000_table_3():
    space = tribes2023_space()
    d = space.default_params()
    assert d == {"lora_rank": 8, "lora_dropout": 0.1, "lora_alpha": 32, "learning_rate": 1e-5}
    rank = space["lora_rank"]
    # rank = 2^(r+1), r in [1, 8]
    r_values = [r - 1 for r in rank_exponents(rank)]  # internal exponent e = r + 1
    assert r_values == list(range(1, 9))
    assert [rank.from_internal(r + 1) for r in r_values] == [2 ** (r + 1) for r in range(1, 9)]
    assert sorted({rank.from_unit(u) for u in np.linspace(0, 1, 1001)}) == [
        4, 8, 16, 32, 64, 128, 256, 512
    ]
    assert space["lora_dropout"].values == [0.0, 1e-4, 1e-3, 1e-2, 0.1]
    # dropout code d in 2..5 maps to 10^(d-6); d = 1 to 0 (d = 6 -> 1.0 is left out)
    codes = range(2, 6)
    assert space["lora_dropout"].values[1:] == pytest.approx([10.0 ** (d - 6) for d in codes])
    alpha, lr = space["lora_alpha"], space["learning_rate"]
    assert (alpha.low, alpha.high) == (1, 64)
    assert (lr.low, lr.high, lr.log) == (1e-6, 1e-3, True)
    # the defaults are a legal point that round-trips (MADS starts there)
    assert space.decode(space.encode(d)) == d


def rank_exponents(rank: PowerOfTwo) -> list[int]:
    lo, hi = rank.internal_bounds
    return list(range(int(lo), int(hi) + 1))


def test_kiwy2025_preset_is_seed_001_table_1():
    space = kiwy2025_space()
    bounds = {
        v.name: (type(v).__name__, v.low, v.high, v.log if hasattr(v, "log") else None)
        for v in space
    }
    assert bounds == {
        "learning_rate": ("Float", 1e-10, 1e-1, True),
        "lora_rank": ("Int", 2, 32, False),
        "lora_alpha": ("Int", 16, 64, False),
        "lora_dropout": ("Float", 0.0, 0.5, False),
        "weight_decay": ("Float", 1e-3, 1e-1, True),
    }
