import math
import struct

from reporting_helpers import ToyLoRA, make_study

import llmhpo
from llmhpo import Categorical, Float, Int, Ordinal, PowerOfTwo, SearchSpace
from llmhpo.reporting import record_references
from llmhpo.reporting.plots import (
    axis_coordinate,
    history_figure,
    parallel_coordinates_figure,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


class Flaky(ToyLoRA):
    def __call__(self, params, ctx):
        if params["lora_rank"] > 48:
            raise RuntimeError("diverged")
        return super().__call__(params, ctx)


def test_history_marks_failures_best_so_far_and_references(tmp_path):
    study, _ = make_study(tmp_path, Flaky(), n=16, sqlite=False)
    refs = record_references(study, ToyLoRA())
    fig = history_figure(study)
    ax = fig.axes[0]
    failed = [t.number for t in study.trials if t.state.value == "failed"]
    done = [t for t in study.trials if t.state.value == "complete"]
    assert failed and done
    by_label = {c.get_label(): c for c in ax.collections}
    assert by_label[f"failed ({len(failed)})"].get_offsets()[:, 0].tolist() == failed
    assert by_label[f"trial ({len(done)})"].get_offsets()[:, 1].tolist() == [t.value for t in done]
    lines = {ln.get_label(): ln for ln in ax.lines}
    best = lines["best so far"].get_ydata()
    assert list(best) == [min(t.value for t in done[: i + 1]) for i in range(len(done))]
    for rec in refs.values():
        v = rec["metrics"]["val_loss"]
        (ln,) = [ln for label, ln in lines.items() if label.startswith(rec["label"])]
        assert list(ln.get_ydata()) == [v, v]
    w, h = png_size(save_figure(fig, tmp_path / "history.png"))
    assert w > 100 and h > 100


def test_parallel_coordinates_one_line_per_complete_trial(tmp_path):
    space = SearchSpace([
        Float("learning_rate", 1e-6, 1e-2, log=True),
        PowerOfTwo("lora_rank", 4, 256),
        Int("lora_alpha", 1, 64),
        Ordinal("lora_dropout", [0.0, 0.01, 0.1]),
        Categorical("optimizer", ["adamw", "sgd"]),
    ])

    def obj(p, ctx):
        if p["lora_alpha"] > 60:
            raise RuntimeError("boom")
        return math.log10(p["learning_rate"]) ** 2 + (p["optimizer"] == "sgd")

    study = llmhpo.create_study(space, study_name="pc", budget=25, seed=1)
    study.optimize(obj, show_progress=False)
    complete = [t for t in study.trials if t.state.value == "complete"]
    fig = parallel_coordinates_figure(study)
    ax = fig.axes[0]
    trial_lines = {ln.get_gid(): ln for ln in ax.lines}
    assert set(trial_lines) == {f"trial-{t.number}" for t in complete}
    # the learning-rate axis is log10 scaled to the bounds [-6, -2]; rank by exponent [2, 8]
    for t in complete:
        ys = trial_lines[f"trial-{t.number}"].get_ydata()
        assert len(ys) == 6
        assert math.isclose(ys[0], (math.log10(t.params["learning_rate"]) + 6) / 4)
        assert math.isclose(ys[1], (math.log2(t.params["lora_rank"]) - 2) / 6)
        assert ys[4] == ["adamw", "sgd"].index(t.params["optimizer"])
    assert axis_coordinate(space["lora_dropout"], 0.1) == 2.0
    # darkest colour (viridis low end) for the best trial when minimizing
    best = min(complete, key=lambda t: t.value)
    worst = max(complete, key=lambda t: t.value)
    lum = lambda c: 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]  # noqa: E731
    assert lum(trial_lines[f"trial-{best.number}"].get_color()) < lum(
        trial_lines[f"trial-{worst.number}"].get_color())
    w, h = png_size(save_figure(fig, tmp_path / "pc.png"))
    assert w > 100 and h > 100


def test_history_best_so_far_when_maximizing():
    def obj(p, ctx):
        return {"acc": p["lora_rank"] / 64}

    study = llmhpo.create_study(SearchSpace([Int("lora_rank", 2, 64)]), metric="acc",
                                direction="maximize", study_name="mx", budget=10, seed=2)
    study.optimize(obj, show_progress=False)
    ax = history_figure(study).axes[0]
    (best,) = [ln for ln in ax.lines if ln.get_label() == "best so far"]
    vals = [t.value for t in study.trials]
    assert list(best.get_ydata()) == [max(vals[: i + 1]) for i in range(len(vals))]
    assert "higher is better" in ax.get_ylabel()
