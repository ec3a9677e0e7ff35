"""Round trips, legality of every unit point and relax-and-round, for every variable kind."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmhpo.space import Categorical, Fixed, Float, Int, Ordinal, PowerOfTwo, SearchSpace

units = st.floats(0.0, 1.0, allow_nan=False)
FAST = settings(max_examples=150, deadline=None)


@st.composite
def floats_vars(draw):
    log = draw(st.booleans())
    if log:
        e1 = draw(st.integers(-12, 3))
        e2 = draw(st.integers(e1 + 1, 6))
        lo = 10.0**e1 * draw(st.floats(1.0, 9.0))
        hi = 10.0**e2 * draw(st.floats(1.0, 9.0))
        return Float("f", lo, hi, log=True)
    lo = draw(st.floats(-1e6, 1e6, allow_nan=False))
    width = draw(st.floats(1e-6, 1e6, allow_nan=False))
    return Float("f", lo, lo + width)


@st.composite
def int_vars(draw):
    log = draw(st.booleans())
    lo = draw(st.integers(1 if log else -1000, 1000))
    hi = draw(st.integers(lo, lo + 2000))
    return Int("i", lo, hi, log=log)


@st.composite
def pow2_vars(draw):
    a = draw(st.integers(0, 20))
    b = draw(st.integers(a, 24))
    return PowerOfTwo("p", 2**a, 2**b)


values_st = st.lists(
    st.one_of(st.integers(-100, 100), st.text(min_size=1, max_size=5), st.booleans()),
    min_size=1,
    max_size=8,
    unique_by=repr,
)

any_var = st.one_of(
    floats_vars(),
    int_vars(),
    pow2_vars(),
    values_st.map(lambda v: Ordinal("o", v)),
    values_st.map(lambda v: Categorical("c", v)),
)


def _legal(var, value) -> bool:
    """Legality from the variable's definition (not from its own validate)."""
    if isinstance(var, Float):
        return isinstance(value, float) and var.low <= value <= var.high
    if isinstance(var, Int):
        return type(value) is int and var.low <= value <= var.high
    if isinstance(var, PowerOfTwo):
        return type(value) is int and var.low <= value <= var.high and value & (value - 1) == 0
    if isinstance(var, (Ordinal, Categorical)):
        return any(value == v and type(value) is type(v) for v in var.values)
    raise AssertionError(var)


@FAST
@given(any_var, units)
def test_every_unit_point_decodes_to_a_legal_value(var, u):
    assert _legal(var, var.from_unit(u))


@FAST
@given(any_var, units)
def test_decoded_values_round_trip_exactly(var, u):
    v = var.from_unit(u)
    u2 = var.to_unit(v)
    assert 0.0 <= u2 <= 1.0
    assert var.from_unit(u2) == v
    assert type(var.from_unit(u2)) is type(v)


@FAST
@given(floats_vars(), st.data())
def test_any_legal_float_round_trips(var, data):
    v = data.draw(st.floats(var.low, var.high, allow_nan=False))
    w = var.from_unit(var.to_unit(v))
    # a value the space never produced comes back to within float resolution of the range
    scale = max(abs(var.low), abs(var.high))
    assert w == pytest.approx(v, rel=1e-12, abs=1e-15 * scale)
    assert var.from_unit(var.to_unit(w)) == w  # and from then on it is exact


@FAST
@given(st.one_of(int_vars(), pow2_vars()), st.data())
def test_every_legal_integer_round_trips(var, data):
    if isinstance(var, PowerOfTwo):
        e = data.draw(st.integers(var.low.bit_length() - 1, var.high.bit_length() - 1))
        v = 2**e
    else:
        v = data.draw(st.integers(var.low, var.high))
    assert var.from_unit(var.to_unit(v)) == v
    assert var.from_internal(var.to_internal(v)) == v


@FAST
@given(values_st, st.data())
def test_every_choice_round_trips(values, data):
    for var in (Ordinal("o", values), Categorical("c", values)):
        v = data.draw(st.sampled_from(values))
        back = var.from_unit(var.to_unit(v))
        assert back == v and type(back) is type(v)


def test_float_bounds_are_exact_and_log_is_log10():
    f = Float("lr", 1e-10, 1e-1, log=True)  # Davouse & Talbi 2025: 10^x, x in [-10, -1]
    assert f.from_unit(0.0) == 1e-10 and f.from_unit(1.0) == 1e-1
    assert f.to_unit(1e-10) == 0.0 and f.to_unit(1e-1) == 1.0
    # x = -10 + 9 u, so u = 1/3 is 10^-7 and u = 2/3 is 10^-4
    assert f.from_unit(1 / 3) == pytest.approx(1e-7, rel=1e-12)
    assert f.from_unit(2 / 3) == pytest.approx(1e-4, rel=1e-12)
    lin = Float("d", 0.0, 0.5)
    assert lin.from_unit(0.5) == 0.25


def _bin_masses(var, values, n=200_000):
    """Fraction of a fine uniform grid of [0, 1] that decodes to each value."""
    grid = (np.arange(n) + 0.5) / n
    decoded = [var.from_unit(u) for u in grid]
    return np.array([sum(d == v for d in decoded) / n for v in values])


@pytest.mark.parametrize(
    "var, values",
    [
        (Int("i", 3, 9), list(range(3, 10))),
        (Int("neg", -2, 2), list(range(-2, 3))),
        (PowerOfTwo("rank", 4, 512), [2**e for e in range(2, 10)]),
        (Ordinal("drop", [0.0, 1e-4, 1e-3, 1e-2, 0.1]), [0.0, 1e-4, 1e-3, 1e-2, 0.1]),
        (Categorical("opt", ["adamw", "sgd", "lion"]), ["adamw", "sgd", "lion"]),
    ],
)
def test_relax_and_round_gives_every_value_equal_mass(var, values):
    masses = _bin_masses(var, values, n=20_000)
    expected = 1.0 / len(values)
    # a grid of n points puts at most one point more or less in each bin
    assert np.all(np.abs(masses - expected) <= 2 / 20_000)
    assert masses.sum() == pytest.approx(1.0)


def test_int_bins_have_equal_width_including_the_ends():
    var = Int("i", 0, 3)  # unit span [-0.5, 3.5]: bins of width 1/4
    assert [var.from_unit(u) for u in (0.0, 0.249, 0.251, 0.499, 0.501, 0.749, 0.751, 1.0)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    # the encoding of a value is the centre of its bin
    assert [var.to_unit(i) for i in range(4)] == pytest.approx([0.125, 0.375, 0.625, 0.875])


def test_pow2_rank_of_seed_000():
    # rank = 2^(r+1), r in [1, 8]: 4..512, eight equally likely values
    rank = PowerOfTwo("lora_rank", 4, 512)
    assert rank.internal_bounds == (2.0, 9.0)
    assert sorted({rank.from_unit(u) for u in np.linspace(0, 1, 1001)}) == [
        2 ** (r + 1) for r in range(1, 9)
    ]


def test_fixed_takes_no_dimension_and_is_added_back():
    space = SearchSpace([Float("x", 0, 1), Fixed("epochs", 3), Categorical("c", ["a", "b"])])
    assert space.dim == 2
    assert space.decode([0.25, 0.9]) == {"x": 0.25, "epochs": 3, "c": "b"}
    assert space.encode({"x": 0.25, "c": "b"}).tolist() == [0.25, 0.75]


def _mixed_space() -> SearchSpace:
    return SearchSpace(
        [
            Float("lr", 1e-6, 1e-3, log=True),
            Float("wd", 0.0, 0.1),
            Int("alpha", 1, 64),
            Int("steps", 10, 1000, log=True),
            PowerOfTwo("rank", 4, 512),
            Ordinal("dropout", [0.0, 1e-4, 1e-3, 1e-2, 0.1]),
            Categorical("opt", ["adamw", "sgd"]),
            Fixed("epochs", 1),
        ]
    )


@FAST
@given(st.lists(units, min_size=7, max_size=7))
def test_space_decode_encode_decode_is_stable(u):
    space = _mixed_space()
    params = space.decode(u)
    assert space.contains(params)
    x = space.encode(params)
    assert np.all((0.0 <= x) & (x <= 1.0))
    assert space.decode(x) == params
    assert np.array_equal(space.round(np.array(u)), x)
    assert space.from_internal(space.to_internal(params)) == params
    assert space.key(params) == space.key(space.decode(x))


def test_decode_clips_out_of_cube_points_and_rejects_nan():
    space = _mixed_space()
    low = space.decode([-3.0] * 7)
    high = space.decode([7.0] * 7)
    assert low == space.decode([0.0] * 7) and high == space.decode([1.0] * 7)
    assert low["lr"] == 1e-6 and high["rank"] == 512 and high["dropout"] == 0.1
    with pytest.raises(ValueError, match="finite"):
        space.decode([math.nan] + [0.5] * 6)
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        space.decode([0.5] * 6)
