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
        return {"default": {"x": 0.5, "y": 0.5}}

    def __call__(self, params, ctx):
        return (params["x"] - 0.2) ** 2 + params["y"]


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
    a = assemble(_cfg(tmp_path, space={"x": {"type": "float", "low": 0, "high": 1},
                                       "y": {"type": "float", "low": 0, "high": 1}}))
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
                                                "optimizer 'random'")
    assert main(["run", str(path), "--optimizer", "lhs", "--budget", "3", "--quiet",
                 "--switch-optimizer"]) == 0
    capsys.readouterr()
    assert main(["status", str(path)]) == 0
    assert "optimizer lhs (switched from random at trial 2)" in capsys.readouterr().out
    db = str(tmp_path / "r.db")
    assert main(["report", db, "--study-name", "r"]) == 0  # one spelling in every command
    assert main(["best", db, "--study-name", "r"]) == 0
