"""The runner on a real CSV: rows as defined, resume skips finished runs, errors are retried."""

from __future__ import annotations

import json
from pathlib import Path

from llmhpo.bench.runner import Job, read_runs, run_benchmark
from llmhpo.objectives import get_function


def _jobs(contenders: list[str], seeds: range, budget: int = 6) -> list[Job]:
    return [Job("synthetic", "branin", c, s, budget) for s in seeds for c in contenders]


def test_rows_hold_the_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    assert run_benchmark(_jobs(["random"], range(1)), path, checkpoints=[3, 6]) == 1
    (row,) = read_runs(path)
    values = json.loads(row["values"])
    curve = json.loads(row["curve"])
    assert row["status"] == "ok" and int(row["n_evals"]) == 6 == len(values)
    # the curve is the running minimum of the values, the checkpoints read off it
    assert curve == [min(values[: i + 1]) for i in range(6)]
    assert json.loads(row["best_at"]) == {"3": curve[2], "6": curve[5]}
    assert float(row["final_best"]) >= get_function("branin").optimum
    assert len(json.loads(row["ask_ms"])) == 6


def test_resume_skips_finished_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    assert run_benchmark(_jobs(["random", "lhs"], range(2)), path) == 4
    first = path.read_text()
    # same selection again: nothing to do, file untouched
    assert run_benchmark(_jobs(["random", "lhs"], range(2)), path) == 0
    assert path.read_text() == first
    # one more seed: only its two runs are done and appended
    assert run_benchmark(_jobs(["random", "lhs"], range(3)), path) == 2
    rows = read_runs(path)
    assert sorted((r["contender"], int(r["seed"])) for r in rows) == sorted(
        (c, s) for c in ("random", "lhs") for s in range(3)
    )
    assert path.read_text().startswith(first)


def test_error_is_recorded_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    bad = Job("synthetic", "no_such_function", "random", 0, 5)
    assert run_benchmark([bad, *_jobs(["random"], range(1))], path) == 2
    rows = {r["task"]: r for r in read_runs(path)}
    assert rows["no_such_function"]["status"] == "error"
    assert "no_such_function" in rows["no_such_function"]["error"]
    assert rows["branin"]["status"] == "ok"
    # an errored run is not finished: it is tried again, the finished one is not
    assert run_benchmark([bad, *_jobs(["random"], range(1))], path) == 1


def test_process_pool_matches_in_process(tmp_path: Path) -> None:
    jobs = _jobs(["random", "optuna-tpe"], range(2))
    run_benchmark(jobs, tmp_path / "a.csv", workers=1)
    run_benchmark(jobs, tmp_path / "b.csv", workers=2)
    def key(p: Path) -> dict:
        return {(r["contender"], r["seed"]): r["values"] for r in read_runs(p)}
    # seeded contenders give the same runs whichever process runs them
    assert key(tmp_path / "a.csv") == key(tmp_path / "b.csv")


def test_value_of_a_dict_result_is_its_metric() -> None:
    import pytest

    from llmhpo.bench.runner import _value

    assert _value({"val_loss": 1.5, "tokens_per_s": 9.0}, "val_loss") == 1.5
    assert _value(0.25, None) == 0.25
    with pytest.raises(KeyError, match="val_loss"):
        _value({"loss": 1.0}, "val_loss")
