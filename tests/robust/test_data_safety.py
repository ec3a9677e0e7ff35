"""Data safety: nothing deleted that the study did not write, nothing written outside where
the user pointed, parameter values never run as shell code."""

from __future__ import annotations

import sys
from pathlib import Path

from llmhpo.objectives.external import CommandObjective, PythonObjective
from llmhpo.objectives.lora.artifacts import KeepBestAdapters
from llmhpo.space import Categorical, Float, SearchSpace
from llmhpo.study import create_study
from llmhpo.validation import safe_filename

X = SearchSpace([Float("x", 0.0, 1.0)])


def test_keep_best_adapters_never_deletes_warm_started_adapters(tmp_path):
    """Warm-starting from another study's export brings that study's adapter paths along:
    the keeper of this study must leave them alone and delete only its own non-best ones."""
    obj = PythonObjective("robust_objectives:writes_adapter")
    other = create_study(X, storage=f"sqlite:///{tmp_path / 'other.db'}", study_name="other",
                         budget=4, seed=1)
    other.optimize(obj, workdir=tmp_path / "other_work")
    other_adapters = [Path(t.metrics["adapter_path"]) for t in other.trials]
    assert len(other_adapters) == 4 and all(p.is_dir() for p in other_adapters)
    csv = other.to_csv(tmp_path / "other.csv")

    study = create_study(X, storage=f"sqlite:///{tmp_path / 'mine.db'}", study_name="mine",
                         budget=4, seed=2)
    assert study.warm_start(csv) == 4
    work = tmp_path / "my_work"
    keeper = KeepBestAdapters(1, root=work)
    study.optimize(obj, workdir=work, callbacks=[keeper])
    assert all(p.is_dir() for p in other_adapters), "another study's adapters were deleted"
    mine = [t for t in study.trials if not t.warm_start]
    kept = [t for t in mine if Path(t.metrics["adapter_path"]).is_dir()]
    best = min(mine, key=lambda t: t.value)
    assert [t.number for t in kept] == [best.number]


def test_keep_best_adapters_never_deletes_outside_its_root(tmp_path):
    """An adapter path outside the study's work directory (moved, or written by hand) is
    never deleted, even for a trial of this study."""
    obj = PythonObjective("robust_objectives:writes_adapter")
    study = create_study(X, storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s",
                         budget=3, seed=0)
    study.optimize(obj, workdir=tmp_path / "elsewhere",
                   callbacks=[KeepBestAdapters(0, root=tmp_path / "work")])
    assert all(Path(t.metrics["adapter_path"]).is_dir() for t in study.trials)


def test_study_names_used_in_paths_stay_one_component():
    for name in ["../../x", "/etc/passwd", "..", "a/b\\c", "", "..hidden", "ok-name_1.2"]:
        safe = safe_filename(name)
        assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
        assert safe
    assert safe_filename("ok-name_1.2") == "ok-name_1.2"


def test_report_dir_of_a_hostile_study_name_is_inside_the_working_directory(tmp_path,
                                                                          monkeypatch):
    from llmhpo.cli.run import _print_results
    from llmhpo.config import load_config

    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    study = create_study(X, storage=f"sqlite:///{tmp_path / 's.db'}", study_name="../../x",
                         budget=2)
    study.optimize(lambda p, ctx: p["x"])
    cfg = load_config({"study_name": "../../x", "objective": {"type": "synthetic",
                                                               "name": "branin"}})
    import io

    _print_results(study, cfg, True, io.StringIO())
    written = [p for p in (tmp_path / "cwd").iterdir()]
    assert [p.name for p in written] == ["_.._x-report"]
    assert not (tmp_path.parent / "x-report").exists()


def test_sh_c_commands_get_shell_quoted_parameter_values(tmp_path):
    """A categorical value full of shell syntax stays one word inside `sh -c "..."`."""
    evil = "a; touch pwned; echo $(id)"
    space = SearchSpace([Categorical("c", [evil, "b"])])
    script = (f"printf '%s' {{c}} > out.txt; {sys.executable} -c "
              "\"import json; print(json.dumps({'value': 1.0}))\"")
    obj = CommandObjective(["sh", "-c", script], cwd=str(tmp_path))
    obj.check_space(space)
    assert obj({"c": evil}) == {"value": 1.0}  # a real shell runs it
    assert (tmp_path / "out.txt").read_text() == evil
    assert not (tmp_path / "pwned").exists()
    # outside `sh -c` values are passed as they are: no shell runs them
    assert CommandObjective(["echo", "{c}"])._argv({"c": evil}, 0) == ["echo", evil]
