"""Bootstrap intervals, verdicts decided by them (beats / ties / loses), the re-check of the
top trials with fresh seeds, boundary warnings, importance and the reproducibility record, on
a fast objective that reports per-example values."""

import numpy as np
import pytest
from reporting_helpers import DEFAULTS, SPACE, NoisyToy, loss_of

import llmhpo
from llmhpo.evaluation import get_recheck, get_repro, record_repro, run_recheck
from llmhpo.evaluation.repro import collect_repro
from llmhpo.exceptions import InvalidConfigError
from llmhpo.reporting import make_verdict, record_references, summary_text
from llmhpo.reporting.boundary import boundary_warnings
from llmhpo.reporting.importance import param_importances
from llmhpo.reporting.intervals import difference_interval, metric_interval


def _study(objective, n=8, name="noisy", storage=None, space=SPACE, seed=3):
    study = llmhpo.create_study(space, metric="val_loss", study_name=name, budget=n, seed=seed,
                                storage=storage)
    study.optimize(objective, show_progress=False)
    return study


def test_intervals_cover_the_mean_and_are_paired():
    rng = np.random.default_rng(0)
    v = rng.normal(1.0, 1.0, 64)
    w = np.ones_like(v)
    iv = metric_interval([(v, w)])
    assert iv.low < iv.estimate < iv.high and iv.estimate == pytest.approx(v.mean())
    assert iv.high - iv.low == pytest.approx(2 * 1.96 / 8, rel=0.3)  # ~ 2 * 1.96 * sd / sqrt(n)
    # token weights: the weighted mean
    wt = rng.integers(1, 10, 64).astype(float)
    assert metric_interval([(v, wt)]).estimate == pytest.approx((v * wt).sum() / wt.sum())
    # identical values on both sides: the difference is exactly zero
    d = difference_interval([(v, w)], [(v, w)])
    assert (d.estimate, d.low, d.high) == (0.0, 0.0, 0.0)
    # a constant shift is detected however noisy the examples are (paired)
    d = difference_interval([(v - 0.05, w)], [(v, w)])
    assert d.high < 0 and d.estimate == pytest.approx(-0.05)
    # several runs (seeds) widen the interval by their spread
    one = difference_interval([(v + 0.1, w)], [(v, w)])
    two = difference_interval([(v + 0.1, w), (v + 0.3, w)], [(v, w)])
    assert two.estimate == pytest.approx(0.2) and two.high - two.low > one.high - one.low
    with pytest.raises(ValueError, match="not paired"):
        difference_interval([(v, w)], [(v[:10], w[:10])])


def test_two_equal_configurations_tie_and_a_worse_one_is_beaten():
    study = _study(NoisyToy())
    best = study.best_trial
    refs = {
        "same": {"params": dict(best.params), "state": "complete",
                 "metrics": NoisyToy()(dict(best.params), None)},
        "worse": {"params": dict(DEFAULTS), "state": "complete",
                  "metrics": NoisyToy()(dict(DEFAULTS), None)},
    }
    v = make_verdict(study, references=refs, test_metrics=["test_loss", "test_accuracy"])
    for m in ("val_loss", "test_loss", "test_accuracy"):
        assert v.outcome("same", m) == "ties"
    assert v.outcome("worse", "val_loss") == "beats" and v.beats("worse", "test_loss")
    c = next(c for c in v.comparisons if c.reference == "worse" and c.metric == "val_loss")
    assert c.diff[2] < 0 < c.margin and c.level == 0.95
    assert "ties with the same on val_loss" in v.text
    assert "95% interval [" in v.text and "paired bootstrap" in v.text


def test_point_difference_inside_the_noise_ties_on_accuracy():
    """One example's worth of accuracy on 40 prompts is within the noise: ties, not beats."""
    study = _study(NoisyToy(), n=4)
    best = study.best_trial
    m = NoisyToy()(dict(best.params), None)
    hits = list(m["per_example"]["test_accuracy"]["values"])
    flip = hits.index(1)
    hits[flip] = 0  # the reference misses one more prompt than the best trial
    ref = {**m, "test_accuracy": sum(hits) / len(hits),
           "per_example": {**m["per_example"], "test_accuracy": {"values": hits}}}
    v = make_verdict(study, references={"r": {"params": {}, "state": "complete",
                                              "metrics": ref}},
                     test_metrics=["test_accuracy"])
    assert v.outcome("r", "test_accuracy") == "ties"


def test_recheck_stores_runs_resumes_and_drives_the_verdict(tmp_path):
    obj = NoisyToy(seed_effect=0.2)
    study = _study(obj, storage=f"sqlite:///{tmp_path / 's.db'}")
    record_references(study, obj)
    n_calls = len(obj.calls)
    rc = run_recheck(study, obj, top_k=2, seeds=2)
    assert rc["seeds"] == [1001, 1002] and len(rc["trials"]) == 2
    assert [s for s, _ in obj.calls[n_calls:]] == [1001, 1002, 1001, 1002]  # fresh seeds
    first = rc["trials"][0]
    assert first["trial"] == study.best_trial.number and first["n_complete"] == 2
    vals = [r["metrics"]["val_loss"] for r in first["runs"]]
    assert first["mean"]["val_loss"] == pytest.approx(np.mean(vals))
    assert first["std"]["val_loss"] == pytest.approx(np.std(vals, ddof=1))
    assert first["gap"] == pytest.approx(first["mean"]["val_loss"] - study.best_trial.value)
    winner = min(rc["trials"], key=lambda r: r["mean"]["val_loss"])["trial"]
    assert rc["winner"] == winner
    # stored, and a second call (an interrupted re-check resumed) reruns nothing
    again = llmhpo.load_study("noisy", f"sqlite:///{tmp_path / 's.db'}")
    assert get_recheck(again)["winner"] == winner
    run_recheck(again, obj, top_k=2, seeds=2)
    assert len(obj.calls) == n_calls + 4
    # the verdict judges the re-check winner with its re-check runs
    v = make_verdict(again)
    assert v.rechecked and v.best_trial == winner
    c = next(c for c in v.comparisons if c.reference == "base" and c.metric == "val_loss")
    row = next(r for r in rc["trials"] if r["trial"] == winner)
    assert c.best == pytest.approx(row["mean"]["val_loss"]) and c.outcome == "beats"
    text, _ = summary_text(again)
    assert "Re-check of the top 2 trials" in text and "Winner's curse" in text
    assert "re-checked: mean of 2 fresh seeds 1001, 1002" in text
    with pytest.raises(InvalidConfigError, match="top_k"):
        run_recheck(again, obj, top_k=0)
    with pytest.raises(InvalidConfigError, match="seeds"):
        run_recheck(again, obj, seeds=[1, 1])


def test_boundary_optimum_triggers_the_warning_and_an_interior_one_does_not():
    def edge(params, ctx):  # better and better with alpha: the optimum is beyond the box
        return 10.0 - params["lora_alpha"] + 0.01 * abs(np.log10(params["learning_rate"]) + 3)

    space = llmhpo.SearchSpace([llmhpo.Float("learning_rate", 1e-6, 1e-2, log=True),
                                llmhpo.Int("lora_alpha", 1, 4)])
    # LHS: 12 points put exactly 3 in each of the 4 integer bins of lora_alpha
    study = llmhpo.create_study(space, optimizer="lhs", optimizer_kwargs={"n_points": 12},
                                study_name="edge", budget=12, seed=0)
    study.optimize(edge, show_progress=False)
    (w,) = boundary_warnings(study)
    assert (w.variable, w.side, w.bound, w.count, w.top, w.suggestion) == (
        "lora_alpha", "upper", 4, 3, 5, 8)
    assert w.text == ("lora_alpha: best 3 of the top 5 trials at the upper bound 4 — "
                      "consider widening to 8")
    assert f"WARNING: {w.text}" in summary_text(study)[0]
    assert not [w for w in boundary_warnings(_study(NoisyToy(), n=12, name="in"))
                if w.variable == "lora_rank"]  # optimum at rank 16, inside


def test_importance_ranks_the_variable_that_matters_first():
    def obj(params, ctx):
        return {"val_loss": (np.log10(params["learning_rate"]) + 3) ** 2
                + 1e-4 * params["lora_rank"]}

    study = _study(obj, n=16, name="imp")
    imp, name = param_importances(study)
    assert list(imp)[0] == "learning_rate" and sum(imp.values()) == pytest.approx(1.0)
    assert f"Hyperparameter importance ({name} over 16 complete trials" in summary_text(study)[0]


def test_repro_record_is_stored_once_per_environment_and_printed_by_status(tmp_path, capsys):
    from llmhpo.cli.main import main

    url = f"sqlite:///{tmp_path / 'r.db'}"
    study = _study(NoisyToy(), n=2, name="repro", storage=url)
    rec = collect_repro(None, seeds={"study": 3})
    assert rec["packages"]["optuna"] == __import__("optuna").__version__
    assert rec["packages"]["llmhpo"] is not None and rec["seeds"] == {"study": 3}
    record_repro(study, rec)
    record_repro(study, {**rec, "recorded_at": "later"})  # same environment: not stored again
    assert len(get_repro(study)) == 1
    record_repro(study, {**rec, "packages": {**rec["packages"], "torch": "0.0"}})
    assert len(get_repro(study)) == 2
    assert main(["status", url]) == 0
    out = capsys.readouterr().out
    assert "reproducibility record" in out and "torch 0.0" in out and "seeds: study 3" in out


def test_objective_fingerprint_failure_is_recorded_not_raised():
    class Broken:
        def fingerprint(self):
            raise OSError("no model file")

    assert collect_repro(Broken())["objective"] == {"error": "OSError: no model file"}


def test_loss_of_is_the_toy_centre():
    assert NoisyToy()(dict(DEFAULTS), None)["val_loss"] == pytest.approx(
        loss_of(DEFAULTS) + np.mean(np.random.default_rng(123).normal(0.0, 0.5, 40)), abs=1e-5)
