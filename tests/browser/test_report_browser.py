"""The HTML report in a real headless Chromium: it loads from a file with no console error,
shows every section with its figure, and is one self-contained page."""

from __future__ import annotations

import re

import pytest
from browser_helpers import build_study, screenshot

from llmhpo.reporting.html import write_html_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    study = build_study(d)
    return study, write_html_report(study, d / "report.html")


def test_report_is_self_contained(report):
    _, path = report
    text = path.read_text()
    assert "<script" not in text
    assert not re.search(r"""(src|href)=["']https?://""", text)  # nothing from the network
    assert path.stat().st_size < 1_000_000


def test_report_in_chromium(report, page, tmp_path):
    study, path = report
    page.goto(path.as_uri())
    assert page.errors == []
    assert page.title() == "llmhpo report: demo"
    for sid in ("references", "verdict", "results", "history", "parallel", "importance",
                "curves", "pareto", "answers", "judgements"):
        assert page.locator(f"section#{sid}").is_visible(), sid
    for sid in ("history", "parallel", "importance", "curves", "pareto"):
        assert page.locator(f"section#{sid} svg").count() == 1, sid
    # the references and the verdict come first
    ids = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
    assert ids[:3] == ["references", "verdict", "results"]
    assert "base model (no fine-tuning)" in page.locator("#references").inner_text()
    assert f"best trial {study.best_trial.number}" in page.locator("#verdict").inner_text()
    # results: two reference rows, then the ranked trials
    rows = page.locator("#results tbody tr")
    assert rows.count() == 2 + 10
    assert rows.nth(2).locator("td").nth(1).inner_text() == str(study.best_trial.number)
    # history legend names the optimizer phases of TPE (startup = initial design)
    hist = page.locator("#history svg").text_content()
    assert "initial design (5)" in hist and "model-based (6)" in hist
    # learning curves: one line per reporting trial
    assert page.locator("#curves svg [id^=curve-]").count() == 11
    # importances: every free hyperparameter, fANOVA
    imp = page.locator("#importance").inner_text()
    assert "fANOVA" in imp and "lora_rank" in imp and "lora_dropout" in imp
    # sample answers, human ranking with intervals and the rank correlation
    assert page.locator("#answers .prompt").count() == 3
    judged = page.locator("#judgements").inner_text()
    assert "12 votes" in judged and "Spearman" in judged
    assert page.locator("#judgements tbody tr").first.locator("td").nth(1).inner_text() == \
        f"trial {study.best_trial.number} (rank 1)"
    screenshot(page, tmp_path, "report_top.png")
    screenshot(page, tmp_path, "report.png", full_page=True)
