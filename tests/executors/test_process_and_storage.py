"""Process pool parallelism, Optuna storage compatibility, and a light ``import llmhpo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
from helper_objectives import pid_after_sleep, quadratic

from llmhpo import create_study
from llmhpo.executors import ProcessExecutor
from llmhpo.space import Categorical, Float, Int, PowerOfTwo, SearchSpace
from llmhpo.study import TrialState

XY = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


def test_two_process_workers_run_trials_at_the_same_time(db_url):
    # random search fills both workers at every ask (auto's BaMSOO starts with one point)
    study = create_study(XY, optimizer="random", storage=db_url, study_name="par", budget=6,
                         seed=0)
    with ProcessExecutor(2) as ex:
        study.optimize(pid_after_sleep, executor=ex)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert all(t.value == t.params["x"] for t in trials)
    pids = {t.metrics["pid"] for t in trials}
    assert len(pids) == 2 and os.getpid() not in pids  # 2 long-lived workers, not the driver
    # every trial overlaps in time with at least one other (each sleeps 1 s, 2 at once)
    for t in trials:
        others = [o for o in trials if o is not t]
        assert any(
            o.datetime_start < t.datetime_complete and t.datetime_start < o.datetime_complete
            for o in others
        ), t.number
    # 6 one-second trials on 2 workers take ~3 s of wall time, not 6
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    assert span.total_seconds() < 5.5


def test_optuna_load_study_sees_trials_params_values_and_metrics(tmp_path):
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    space = SearchSpace(
        [Float("lr", 1e-5, 1e-1, log=True), Int("epochs", 1, 4), PowerOfTwo("rank", 4, 64),
         Categorical("opt", ["adamw", "sgd"])]
    )

    def objective(p, ctx):
        if ctx.number == 2:
            raise RuntimeError("trial two fails")
        return {"value": p["lr"] * p["epochs"], "accuracy": 0.1 * ctx.number, "opt_used": p["opt"]}

    ours = create_study(space, storage=url, study_name="dash", budget=4, seed=5,
                        direction="maximize")
    ours.optimize(objective)

    theirs = optuna.load_study(study_name="dash", storage=url)
    assert theirs.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(theirs.trials) == 4
    for a, b in zip(ours.trials, theirs.trials, strict=True):
        assert b.number == a.number and b.params == a.params
        if a.state is TrialState.COMPLETE:
            assert b.state == optuna.trial.TrialState.COMPLETE and b.value == a.value
            assert b.user_attrs["accuracy"] == pytest.approx(0.1 * a.number)
            assert b.user_attrs["opt_used"] == a.params["opt"]
        else:
            assert b.state == optuna.trial.TrialState.FAIL and b.value is None
            assert "trial two fails" in b.system_attrs["fail_reason"]
    assert theirs.best_trial.number == ours.best_trial.number
    assert theirs.best_value == ours.best_trial.value
    # Optuna's own distributions accept the stored params (the dashboard plots them)
    for t in theirs.trials:
        for name, dist in t.distributions.items():
            assert dist._contains(dist.to_internal_repr(t.params[name]))


def test_sqlite_file_survives_the_driver(tmp_path):
    """A second, unrelated process reads the finished trials from the file."""
    url = f"sqlite:///{tmp_path / 'q.db'}"
    create_study(XY, storage=url, study_name="q", budget=3, seed=1).optimize(quadratic)
    code = (
        "import json, optuna, sys; s = optuna.load_study(study_name='q', storage=sys.argv[1]);"
        "print(json.dumps([[t.params, t.value] for t in s.trials]))"
    )
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    rows = json.loads(out)
    assert len(rows) == 3
    for params, value in rows:
        assert value == pytest.approx(quadratic(params), abs=1e-15)


HEAVY = ["torch", "botorch", "gpytorch", "transformers", "peft", "PyNomad", "sklearn",
         "matplotlib", "lm_eval"]


@pytest.mark.parametrize(
    "code",
    [
        "import llmhpo",
        "import llmhpo.cli.main",
        "import llmhpo.cli.main as m; m.build_parser()",  # what every `llmhpo` command loads
    ],
)
def test_import_llmhpo_stays_light(code):
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_opening_a_fresh_database_from_several_drivers_at_once(tmp_path):
    """Optuna creates its tables on first open; simultaneous first opens must not fail."""
    import threading

    from llmhpo.study.storage import open_storage

    for round_ in range(3):
        url = f"sqlite:///{tmp_path / f'fresh{round_}.db'}"
        barrier = threading.Barrier(4)
        errors: list[str] = []

        def open_it(url=url, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                open_storage(url).get_all_studies()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
