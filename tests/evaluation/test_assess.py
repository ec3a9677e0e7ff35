import math
import os
import subprocess
import sys
import textwrap

import pytest
from reporting_helpers import ToyLoRA, make_study
from reporting_helpers import front_by_definition as _front_by_definition

import llmhpo
from llmhpo.evaluation import assess, get_assessment, record_references
from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives import get_function


class Assessable(ToyLoRA):
    """Two benchmark scores that trade off: one likes lr near 1e-4, the other a high rank."""

    def assess(self, params, ctx, tasks=None):
        self.calls.append(("assess", None if params is None else ctx.number, tuple(tasks or ())))
        if params is None:
            return {"bench_a/acc": 0.25, "bench_b/acc": 0.25}
        a = 1.0 - abs(math.log10(params["learning_rate"]) + 4.0) / 4.0
        return {"bench_a/acc": a, "bench_b/acc": params["lora_rank"] / 64}


def _expected_front(rows, metrics):
    pts = [[r.metrics[m] for m in metrics] for r in rows]
    return {rows[i].name for i in _front_by_definition(pts, [-1] * len(metrics))}


def test_assess_top_k_and_references_marks_pareto_and_stores(tmp_path):
    study, storage = make_study(tmp_path, n=12)
    obj = Assessable()
    record_references(study, obj)
    obj.calls.clear()
    res = assess(study, obj, metrics="bench_a/acc,bench_b/acc", top_k=5, tasks=["bench_a"],
                 workdir=tmp_path / "runs")
    assert [r.name for r in res.rows][-2:] == ["base", "peft_default"]
    top5 = [t.number for t in sorted(
        [t for t in study.trials if t.state.value == "complete"], key=lambda t: t.value)[:5]]
    assert [r.trial for r in res.rows[:5]] == top5
    assert [r.rank for r in res.rows[:5]] == [1, 2, 3, 4, 5]
    # the objective's assess() got each trial (by number), the base model (None) and the tasks
    assert obj.calls[:5] == [("assess", n, ("bench_a",)) for n in top5]
    assert obj.calls[5] == ("assess", None, ("bench_a",))
    expected = _expected_front(res.rows, ["bench_a/acc", "bench_b/acc"])
    assert {r.name for r in res.pareto} == expected
    assert res.pareto  # a front is never empty
    # stored metrics of the trial are kept next to the assessed ones
    assert all("val_loss" in r.metrics for r in res.rows)
    lines = res.table("plain").splitlines()[2:]
    assert len(lines) == len(res.rows)
    for line, row in zip(lines, res.rows, strict=True):
        assert line.startswith("*") == row.pareto
        assert (f" {row.trial} " in line) if row.trial is not None else ("base model" in line
                                                                        or "default" in line)

    stored = get_assessment(llmhpo.load_study("toy", storage))
    assert stored == res

    # resuming with the same tasks reuses every row; other tasks evaluate again
    obj2 = Assessable()
    again = assess(llmhpo.load_study("toy", storage), obj2, metrics="bench_a/acc,bench_b/acc",
                   top_k=5, tasks=["bench_a"])
    assert obj2.calls == [] and again == res
    assess(study, obj2, metrics="bench_a/acc", top_k=2, tasks=["bench_b"],
           include_references=False)
    assert len(obj2.calls) == 2


def test_assess_without_assess_method_reruns_the_objective(tmp_path):
    study, _ = make_study(tmp_path, n=6, sqlite=False)
    obj = ToyLoRA(fail=("base",))
    record_references(study, obj, names=["peft_default"])
    obj.calls.clear()
    res = assess(study, obj, metrics=["val_loss", "test_accuracy"], top_k=3)
    assert [c[0] for c in obj.calls] == ["trial"] * 3 + ["reference"]
    assert len(res.rows) == 4
    with pytest.raises(InvalidConfigError, match="to minimize"):
        assess(study, obj, metrics=["val_loss:max"], top_k=1)
    with pytest.raises(InvalidConfigError, match="top_k"):
        assess(study, obj, metrics=["val_loss"], top_k=0)


def test_failed_assessment_is_a_row_not_a_crash(tmp_path):
    class Broken(Assessable):
        def assess(self, params, ctx, tasks=None):
            if params is not None and ctx.number % 2 == 0:
                raise RuntimeError("evaluation crashed")
            return super().assess(params, ctx, tasks)

    study, _ = make_study(tmp_path, n=6, sqlite=False)
    res = assess(study, Broken(), metrics="bench_a/acc,bench_b/acc", top_k=6,
                 include_references=False)
    bad = [r for r in res.rows if r.state != "complete"]
    assert bad and all(r.trial % 2 == 0 and "evaluation crashed" in r.error for r in bad)
    assert not any(r.pareto for r in bad)


OBJECTIVE_MODULE = '''
import math

class Obj:
    def __call__(self, params, ctx):
        v = 1.0 + (math.log10(params["learning_rate"]) + 3.0) ** 2
        return {"val_loss": v}

    def assess(self, params, ctx, tasks=None):
        a = 1.0 - abs(math.log10(params["learning_rate"]) + 4.0) / 4.0
        return {"bench_a/acc": a, "bench_b/acc": params["lora_rank"] / 64,
                "tasks": ",".join(tasks or [])}
'''


def _cli(args, cwd, extra_path=None):
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "llmhpo.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_assess_prints_pareto_marks(tmp_path):
    (tmp_path / "toy_objective.py").write_text(textwrap.dedent(OBJECTIVE_MODULE))
    sys.path.insert(0, str(tmp_path))
    try:
        from toy_objective import Obj
    finally:
        sys.path.remove(str(tmp_path))
    study, storage = make_study(tmp_path, Obj(), n=10, name="cli")
    r = _cli(["assess", str(tmp_path / "study.db"), "--objective", "toy_objective:Obj",
              "--top-k", "6", "--metrics", "bench_a/acc,bench_b/acc", "--tasks", "t1,t2"],
             tmp_path, tmp_path)
    assert r.returncode == 0, r.stderr
    res = get_assessment(llmhpo.load_study("cli", storage))
    assert len(res.rows) == 6 and res.tasks == ["t1", "t2"]
    assert all(row.metrics["tasks"] == "t1,t2" for row in res.rows)
    front = _expected_front(list(res.rows), ["bench_a/acc", "bench_b/acc"])
    marked = set()
    for line in r.stdout.splitlines():
        cells = line.split()
        if cells and cells[0] == "*":
            marked.add(f"trial {cells[2]}")
    assert marked == front
    assert "Pareto optimal over bench_a/acc (max), bench_b/acc (max)" in r.stdout


def test_cli_assess_from_run_config_and_errors(tmp_path):
    f = get_function("branin")
    study = llmhpo.create_study(f.space(), storage=str(tmp_path / "b.db"), study_name="br",
                                budget=6, seed=0)
    study.optimize(f, show_progress=False)
    (tmp_path / "run.yaml").write_text(
        "objective: {type: synthetic, name: branin}\nstorage: b.db\nstudy_name: br\n")
    r = _cli(["assess", "run.yaml", "--top-k", "3", "--metrics", "value"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "re-evaluated" in r.stdout
    starred = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("*")]
    assert starred == [["*", "1", str(study.best_trial.number), f"{study.best_trial.value:#.4g}"]]

    bad = _cli(["assess", "missing.yaml"], tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "llmhpo: error: run configuration 'missing.yaml' does not exist"]
    stored_only = _cli(["assess", "b.db", "--metrics", "value,mmlu/acc"], tmp_path)
    assert stored_only.returncode == 2 and "mmlu/acc" in stored_only.stderr
