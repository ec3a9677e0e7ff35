"""Run assembly: config -> (space, optimizer, objective, executor, study); one preflight;
open_study for read commands."""

from __future__ import annotations

import pytest

from llmhpo.assembly import assemble, open_study, run
from llmhpo.cli.main import main
from llmhpo.config import load_config
from llmhpo.exceptions import InvalidConfigError, StudyNotFoundError
from llmhpo.executors import EXECUTORS, make_executor


class CountingObjective:
    """Counts preflights in the driver; has one reference row."""

    preflights = 0

    def preflight(self) -> None:
        CountingObjective.preflights += 1

    def references(self):
        return {"default": {"x1": 0.5, "x2": 0.5}}

    def __call__(self, params, ctx):
        return (params["x1"] - 0.2) ** 2 + params["x2"]


def _cfg(tmp_path, **kw):
    base = {"study_name": "a", "storage": f"sqlite:///{tmp_path / 'a.db'}", "budget": 3,
            "objective": {"type": "synthetic", "name": "branin"}}
    return load_config({**base, **kw})


def test_assemble_builds_every_part(tmp_path):
    a = assemble(_cfg(tmp_path, optimizer={"name": "soo"}))
    assert a.space.names == ["x1", "x2"]
    assert a.study.optimizer.get_config()["budget"] == 3  # SOO takes the study budget
    assert a.study.direction == "minimize" and a.study.metric is None
    ex = a.executor()
    assert type(ex).__name__ == "InlineExecutor"
    ex.shutdown()


def test_preflight_runs_once_before_the_references(tmp_path):
    a = assemble(_cfg(tmp_path))  # assembled without the preflight: run() does it
    a.spec = type(a.spec)(CountingObjective())
    CountingObjective.preflights = 0
    study = run(a)
    assert CountingObjective.preflights == 1
    assert study.user_attrs["references"]["default"]["state"] == "complete"
    assert study.n_finished == 3
    run(a)  # nothing left to run: no preflight
    assert CountingObjective.preflights == 1


def test_open_study_reads_a_config_or_a_storage(tmp_path):
    cfg = _cfg(tmp_path)
    run(cfg)
    by_config, back = open_study(cfg)
    assert by_config.read_only and back is cfg and len(by_config.trials) == 3
    by_storage, none = open_study(str(tmp_path / "a.db"))
    assert none is None and by_storage.study_name == "a"
    with pytest.raises(StudyNotFoundError, match="no study named 'b'"):
        open_study(str(tmp_path / "a.db"), "b")
    with pytest.raises(InvalidConfigError, match="does not exist"):
        open_study(str(tmp_path / "missing.yaml"))


def test_executor_names_come_from_one_registry():
    assert list(EXECUTORS) == ["inline", "process", "ray"]
    with pytest.raises(InvalidConfigError, match=r"'threads'.*\['inline', 'process', 'ray'\]"):
        make_executor("threads")


def test_cli_run_with_another_optimizer_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(f"study_name: r\nstorage: sqlite:///{tmp_path / 'r.db'}\nbudget: 2\n"
                    "objective: {type: synthetic, name: branin}\n")
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--optimizer", "lhs", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("llmhpo: error: study 'r' was created with "
                                                "optimizer 'auto'")
    assert main(["run", str(path), "--optimizer", "lhs", "--budget", "3", "--quiet",
                 "--switch-optimizer"]) == 0
    capsys.readouterr()
    assert main(["status", str(path)]) == 0
    assert "optimizer lhs (switched from auto at trial 2)" in capsys.readouterr().out
    db = str(tmp_path / "r.db")
    assert main(["report", db, "--study-name", "r"]) == 0  # one spelling in every command
    assert main(["best", db, "--study-name", "r"]) == 0


def test_llmhpo_run_is_assembly_run_with_one_preflight_per_run(tmp_path, monkeypatch, capsys):
    """`llmhpo run` goes through `llmhpo.assembly.run` (one orchestration), and the command
    objective's preflight runs once per run with trials left (it ran in the CLI before the study
    was created and again in `Study.optimize`), and not at all when none is left."""
    import sys

    import yaml

    from llmhpo import assembly
    from llmhpo.objectives.external import CommandObjective

    calls = {"run": 0, "preflight": 0}
    real_run, real_preflight = assembly.run, CommandObjective.preflight

    def counting_run(*args, **kwargs):
        calls["run"] += 1
        return real_run(*args, **kwargs)

    def counting_preflight(self):
        calls["preflight"] += 1
        real_preflight(self)

    monkeypatch.setattr(assembly, "run", counting_run)
    monkeypatch.setattr(CommandObjective, "preflight", counting_preflight)
    code = "import json, sys; print(json.dumps({'value': float(sys.argv[1])}))"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "study_name": "c", "storage": f"sqlite:///{tmp_path / 'c.db'}", "budget": 2,
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "objective": {"type": "command", "command": [sys.executable, "-c", code, "{x}"]},
    }))
    assert main(["run", str(path), "--quiet"]) == 0
    assert calls == {"run": 1, "preflight": 1}
    assert main(["run", str(path), "--quiet", "--budget", "3"]) == 0  # resumed: 1 trial left
    assert calls == {"run": 2, "preflight": 2}
    assert main(["run", str(path), "--quiet", "--budget", "3"]) == 0  # nothing left
    assert calls == {"run": 3, "preflight": 2}
    assert "Study 'c': 3/3 trials" in capsys.readouterr().out
