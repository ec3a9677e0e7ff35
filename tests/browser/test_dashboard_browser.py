"""The real ``optuna-dashboard`` on a llmhpo SQLite study (127.0.0.1), checked in headless
Chromium: the study, its trials, parameters and learning curves (intermediate values) show."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from browser_helpers import missing, screenshot

import llmhpo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    exe = shutil.which("optuna-dashboard")
    if exe is None:
        missing("optuna-dashboard is not installed (pip install optuna-dashboard)")
    study = llmhpo.create_study(
        {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
         "lora_rank": {"type": "pow2", "low": 2, "high": 32}},
        optimizer="random", metric="val_loss", budget=4, seed=0,
        storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="dash-demo")
    storage = study._records.storage
    for _ in range(4):  # trials that report a learning curve, as a pruning-aware objective does
        (p,) = study.ask()
        v = 1 + abs(math.log10(p.params["learning_rate"]) + 3)
        for step in range(0, 40, 10):
            storage.set_trial_intermediate_value(p.trial_id, step, v + 2 * math.exp(-step / 10))
        study.tell(p, {"val_loss": v})
    port = _free_port()
    proc = subprocess.Popen([exe, f"sqlite:///{tmp_path / 'study.db'}", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/studies", timeout=5) as r:
                    summaries = json.loads(r.read())["study_summaries"]
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert [s["study_name"] for s in summaries] == ["dash-demo"]
        yield study, url, summaries[0]["study_id"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_shows_trials_params_and_learning_curves(dashboard, page, tmp_path):
    study, url, sid = dashboard
    page.goto(f"{url}/dashboard/studies/{sid}")
    plot = page.get_by_text("Intermediate values").first
    plot.wait_for(timeout=60_000)
    assert "dash-demo" in page.locator("body").inner_text()
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the plot draw
    screenshot(page, tmp_path, "dashboard.png")
    page.goto(f"{url}/dashboard/studies/{sid}/trials")
    page.get_by_text("4 Trials").wait_for(timeout=60_000)
    for n in range(4):
        assert page.get_by_text(f"Trial {n}", exact=True).count() == 1
    best = study.best_trial
    page.get_by_text(f"Trial {best.number}", exact=True).click()
    page.get_by_text(f"Trial {best.number} (trial_id=").wait_for()
    text = page.locator("body").inner_text()
    assert f"learning_rate {best.params['learning_rate']}" in text
    assert f"lora_rank {best.params['lora_rank']}" in text
    assert f"val_loss {best.value}" in text  # metrics are user attributes
    shown = text.split("Intermediate Values", 1)[1].split("Parameter", 1)[0].split()
    curve = study.to_optuna().trials[best.number].intermediate_values
    screenshot(page, tmp_path, "dashboard_trial.png")
    assert [float(x) for x in shown] == [x for step in sorted(curve)
                                         for x in (step, curve[step])]  # the learning curve
    assert page.errors == [] or all("favicon" in e for e in page.errors)
