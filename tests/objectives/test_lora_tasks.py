"""The built-in instruction dataset: determinism, disjoint splits, verifiable answers."""

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.lora.tasks import (
    FAMILIES,
    check_answer,
    generate_examples,
    generate_splits,
    solve,
)


def test_generation_is_deterministic_in_the_seed():
    assert generate_examples(60, seed=3) == generate_examples(60, seed=3)
    assert generate_examples(60, seed=3) != generate_examples(60, seed=4)
    assert generate_splits(40, 10, 10, seed=2) == generate_splits(40, 10, 10, seed=2)


def test_splits_are_disjoint_and_sized():
    s = generate_splits(300, 40, 40, seed=1)
    assert [len(s[k]) for k in ("train", "validation", "test")] == [300, 40, 40]
    keys = {k: {(e["instruction"], e["input"]) for e in v} for k, v in s.items()}
    assert all(len(keys[k]) == len(s[k]) for k in s)  # no duplicates inside a split
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]


def test_every_family_appears_in_turn_and_answers_are_correct():
    exs = generate_examples(220, seed=0)
    counts = {f: sum(e["family"] == f for e in exs) for f in FAMILIES}
    assert counts == dict.fromkeys(FAMILIES, 220 // len(FAMILIES))  # families take turns
    assert all(check_answer(e) for e in exs)
    for e in exs:  # a few answers re-derived here from the definitions
        inp, out = e["input"], e["output"]
        if e["family"] in ("add", "sub", "mul"):
            a, op, b = inp.split()
            assert int(out) == {"+": int(a) + int(b), "-": int(a) - int(b),
                                "*": int(a) * int(b)}[op]
        elif e["family"] == "reverse":
            assert out[::-1] == inp
        elif e["family"] == "max":
            assert int(out) == max(int(x) for x in inp.split(", "))
        elif e["family"] == "count_letter":
            letter = e["instruction"].split("'")[1]
            assert int(out) == inp.count(letter) >= 1


def test_a_wrong_answer_is_rejected():
    for fam in FAMILIES:
        e = generate_examples(1, seed=5, families=[fam])[0]
        assert check_answer(e)
        assert not check_answer({**e, "output": e["output"] + "0"})


def test_families_subset_and_errors():
    exs = generate_examples(30, families=["add", "sort"])
    assert {e["family"] for e in exs} == {"add", "sort"}
    with pytest.raises(InvalidConfigError, match="nope"):
        generate_examples(5, families=["nope"])
    with pytest.raises(InvalidConfigError, match="distinct"):
        generate_examples(10_000, families=["reverse"])  # only as many words as the list
    with pytest.raises(InvalidConfigError, match="n_val must be a non-negative integer"):
        generate_splits(10, -1, 0)
    with pytest.raises(InvalidConfigError, match="unknown task family"):
        solve("nope", "", "")
