"""``llmhpo bench`` end to end in a real subprocess on a tiny selection."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path


def _bench(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "llmhpo.cli.main", "bench", "--suite", "synthetic",
           "--tasks", "branin,hartmann6", "--seeds", "2", "--budgets", "5,10",
           "--optimizers", "random,lhs,optuna-tpe", "--workers", "1", "--out", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_bench_writes_csv_summary_and_plot(tmp_path: Path) -> None:
    proc = _bench(tmp_path)
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "runs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # 2 tasks x 3 contenders x 2 seeds, each run once to the largest budget
    assert len(rows) == 12
    assert {(r["task"], r["contender"], r["seed"]) for r in rows} == {
        (t, c, str(s)) for t in ("branin", "hartmann6")
        for c in ("random", "lhs", "optuna-tpe") for s in (0, 1)
    }
    assert all(r["status"] == "ok" and r["n_evals"] == "10" for r in rows)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Suite `synthetic`" in summary
    assert "### Budget 5" in summary and "### Budget 10" in summary
    for c in ("random", "lhs", "optuna-tpe"):
        assert f"| {c} |" in summary
    assert "- **budget 10**, all 3 contenders: " in summary  # the tested verdict
    assert (tmp_path / "cd_synthetic_10.png").read_bytes().startswith(b"\x89PNG")
    assert "llmhpo bench --suite synthetic" in summary  # the command that produced it
    png = (tmp_path / "convergence_synthetic.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    # a second call resumes: nothing new is run
    proc = _bench(tmp_path)
    assert proc.returncode == 0 and "0 new run(s) of 12" in proc.stderr
    with (tmp_path / "runs.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 12


def test_bench_bad_contender_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _bench(tmp_path, "--optimizers", "random,nope")
    assert proc.returncode == 2
    assert "unknown contender(s) ['nope']" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_quick_mode_runs_both_offline_suites_and_answers_which_is_best(tmp_path: Path) -> None:
    """`llmhpo bench --quick` (the CI mode): synthetic, de-biased and ML quick tasks, every fast
    contender, 3 seeds, runs to 20 evaluations; the summary names a best optimizer per
    suite and budget."""
    from llmhpo.bench.suites import QUICK_TASKS
    from llmhpo.cli.bench import QUICK_CONTENDERS

    proc = subprocess.run(
        [sys.executable, "-m", "llmhpo.cli.main", "bench", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    expected = {(s, t, c, str(seed)) for s in ("synthetic", "debiased", "ml")
                for t in QUICK_TASKS[s]
                for c in QUICK_CONTENDERS for seed in range(3)}
    assert {(r["suite"], r["task"], r["contender"], r["seed"]) for r in rows} == expected
    assert len(rows) == len(expected)
    for r in rows:  # the centre baseline is one evaluation, then exhausted
        expected_run = ("exhausted", "1") if r["contender"] == "centre" else ("ok", "20")
        assert (r["status"], r["n_evals"]) == expected_run, r
    summary = (tmp_path / "summary.md").read_text()
    for suite in ("synthetic", "debiased", "ml"):
        section = summary.split(f"## Suite `{suite}`")[1].split("## Suite")[0]
        for budget in (10, 20):
            assert f"- **budget {budget}**, all {len(QUICK_CONTENDERS)} contenders: " in section
    assert (tmp_path / "convergence_ml.png").read_bytes().startswith(b"\x89PNG")
