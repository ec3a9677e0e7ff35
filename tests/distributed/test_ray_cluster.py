"""The Ray executor on a real multi-node Ray cluster on this machine.

The cluster is two ``ray start`` node processes on 127.0.0.1: a head with one CPU, and a node
that joins it with one CPU and a custom resource ``special``. Trials ask for per-trial
resources. A trial whose actor is lost (its process killed, its whole node killed) is run once
more on a replacement actor: a trial that kills its actor every time is recorded as failed,
one whose node was lost completes on another node; the study reaches its budget.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import dist_objectives
import pytest
from dist_objectives import where_am_i
from servers import RayCluster

import llmhpo
from llmhpo.study import TrialState

ray = pytest.importorskip("ray")

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture(scope="module")
def cluster():
    c = RayCluster()
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_AUTH_MODE", c.env["RAY_AUTH_MODE"])  # this driver joins without a token
    try:
        c.start_head(num_cpus=1)
        c.special = c.add_node(num_cpus=1, resources={"special": 2})
        # objectives of the tests directory are shipped to the workers by value
        ray.cloudpickle.register_pickle_by_value(dist_objectives)
        ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.stop()
        mp.undo()


def _node_ids(resource: str | None = None) -> set[str]:
    return {
        n["NodeID"] for n in ray.nodes()
        if n["Alive"] and (resource is None or resource in n["Resources"])
    }


def test_per_trial_resources_from_the_config_place_trials_on_the_node_that_has_them(
    cluster, tmp_path
):
    """`llmhpo run`'s path: execution.resources_per_trial and ray_address in the config."""
    from llmhpo.assembly import run
    from llmhpo.config import load_config

    assert len(_node_ids()) == 2  # two nodes, as two machines
    cfg = load_config({
        "study_name": "placed",
        "storage": f"sqlite:///{tmp_path / 'placed.db'}",
        "budget": 4,
        "space": SPACE,
        "objective": {"type": "python", "target": "dist_objectives:where_am_i",
                      "kwargs": {"sleep": 0.3}},
        "execution": {"executor": "ray", "n_workers": 2, "ray_address": cluster.address,
                      "resources_per_trial": {"cpu": 0.5, "special": 1}},
    })
    study = run(cfg)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    # every trial ran on the node with the custom resource, in one of the two actors (a
    # call goes to an actor once it has started, so on a busy machine one may do them all)
    assert {t.metrics["node"] for t in trials} == _node_ids("special")
    assert 1 <= len({t.metrics["pid"] for t in trials}) <= 2


def test_a_trial_that_kills_its_actor_every_time_is_recorded_after_one_retry(cluster):
    from llmhpo.executors.ray import RayExecutor

    ex = RayExecutor(1, num_cpus_per_trial=1)
    try:
        study = llmhpo.create_study(SPACE, optimizer="random", budget=4)
        study.optimize(functools.partial(where_am_i, die_at=1), executor=ex)
    finally:
        ex.shutdown()
    trials = study.trials
    assert [t.state for t in trials] == [
        TrialState.COMPLETE, TrialState.FAILED, TrialState.COMPLETE, TrialState.COMPLETE
    ]
    assert "Ray actor running the trial died" in trials[1].error
    assert "it died on each of 2 runs of this call" in trials[1].error
    # the trial after the death ran in a new actor process
    assert trials[2].metrics["pid"] != trials[0].metrics["pid"]
    assert study.n_finished == 4


def test_a_trial_whose_node_was_killed_is_run_again_on_a_new_node(cluster, tmp_path: Path):
    from llmhpo.executors.ray import RayExecutor

    old = _node_ids("special")
    marker = str(tmp_path / "started")
    ex = RayExecutor(1, num_cpus_per_trial=0.5, resources={"special": 1})
    study = llmhpo.create_study(SPACE, optimizer="random", budget=3)
    objective = functools.partial(where_am_i, sleep=2.0, marker=marker)

    import threading

    def kill_the_node_then_add_one() -> None:
        deadline = time.monotonic() + 120
        while not Path(f"{marker}.1").exists():  # trial 1 runs on the special node
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        cluster.special.kill()  # the machine is gone, mid-trial
        cluster.special = cluster.add_node(num_cpus=1, resources={"special": 2})

    killer = threading.Thread(target=kill_the_node_then_add_one)
    killer.start()
    try:
        study.optimize(objective, executor=ex)
    finally:
        killer.join()
        ex.shutdown()
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [t.error for t in trials]
    assert len(trials) == study.n_finished == 3  # the budget, exactly
    # the trial under which the node was lost ran again, as the next one, on the node that
    # replaced the dead one
    new = _node_ids("special")
    assert new.isdisjoint(old)
    assert trials[0].metrics["node"] in old
    assert trials[1].metrics["node"] in new and trials[2].metrics["node"] in new
