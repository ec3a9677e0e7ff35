"""`llmhpo compare`'s web app in a real headless Chromium: a person clicks through a judging
session; the votes are stored with the study and rank the candidates."""

from __future__ import annotations

import threading

import pytest
from browser_helpers import screenshot

import llmhpo
from llmhpo.compare.ranking import rank_candidates
from llmhpo.compare.server import make_server
from llmhpo.compare.store import get_votes, set_answers

PROMPTS = [{"prompt": "What is 17 + 25?", "expected": "42"},
           {"prompt": "Reverse the word 'lamp'.", "expected": "pmal"},
           {"prompt": "Convert 3 km to m.", "expected": "3000"}]
ANSWERS = {  # the tuned trial is right everywhere, the default model once, the base never
    "base": ["17 + 25 is a sum of two numbers.", "lamp", "3 km is a distance."],
    "peft_default": ["41", "pmal", "300"],
    "trial_1": ["42", "pmal", "3000"],
}


@pytest.fixture
def served(tmp_path):
    study = llmhpo.create_study({"x": {"type": "float", "low": 0, "high": 1}},
                                optimizer="random", storage=f"sqlite:///{tmp_path / 's.db'}",
                                study_name="cmp", budget=2, seed=0)
    study.optimize(lambda p, ctx: (p["x"] - 0.3) ** 2)
    set_answers(study, {"prompts": PROMPTS, "candidates": {
        k: {"label": {"base": "base model", "peft_default": "default hyperparameters",
                      "trial_1": "trial 1 (rank 1)"}[k],
            "kind": "trial" if k.startswith("trial") else "reference",
            "trial": 1 if k == "trial_1" else None, "answers": a}
        for k, a in ANSWERS.items()}})
    server = make_server(study, "127.0.0.1", 0, seed=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield study, server
    server.shutdown()
    server.server_close()


def _judge(a: str, b: str, expected: str) -> str:
    """A careful person: the correct answer wins; both right: tie; both wrong: both bad."""
    ok_a, ok_b = a.strip() == expected, b.strip() == expected
    return {(True, False): "A", (False, True): "B", (True, True): "tie"}.get((ok_a, ok_b),
                                                                            "both_bad")


def test_a_judging_session_in_chromium(served, page, tmp_path):
    study, server = served
    page.goto(server.url)
    assert page.errors == []
    labels = ("base model", "default hyperparameters", "trial 1")
    for i in range(9):
        text = page.content()
        assert not any(lab in text for lab in labels)  # anonymized
        assert f"{i} judgements so far" in page.locator("main").inner_text()
        prompt = page.locator("#prompt pre").inner_text()
        expected = next(p["expected"] for p in PROMPTS if p["prompt"] == prompt)
        a = page.locator("#answer-a pre").inner_text()
        b = page.locator("#answer-b pre").inner_text()
        if i == 0:
            screenshot(page, tmp_path, "compare.png")
        page.click(f"#choose-{_judge(a, b, expected)}")
        page.wait_for_load_state()
    assert page.errors == []
    votes = get_votes(study, "human")
    assert len(votes) == 9
    # every pair judged equally often (3 candidates: 3 pairs x 3), on different prompts
    pairs = [frozenset((v["a"], v["b"])) for v in votes]
    assert all(pairs.count(p) == 3 for p in set(pairs))
    for v in votes:  # what was stored is what the person saw and chose
        a = ANSWERS[v["a"]][v["prompt"]]
        b = ANSWERS[v["b"]][v["prompt"]]
        expected = {"A": "a", "B": "b", "tie": "tie", "both_bad": "both_bad"}[
            _judge(a, b, PROMPTS[v["prompt"]]["expected"])]
        assert v["outcome"] == expected and v["judge"] == "human"
    ranked = rank_candidates(votes)
    assert [r.key for r in ranked] == ["trial_1", "peft_default", "base"]
    assert ranked[0].ci_low > ranked[2].ci_high - 1e-9 or ranked[0].score > ranked[2].score
    page.goto(server.url + "ranking")
    assert page.errors == []
    rows = page.locator("table.ranking tbody tr")
    assert rows.count() == 3
    assert rows.first.locator("td").nth(1).inner_text() == "trial 1 (rank 1)"
    from llmhpo.reporting.metrics import format_metric

    assert rows.first.locator("td").nth(4).inner_text() == format_metric(study.trials[1].value)
    screenshot(page, tmp_path, "compare_ranking.png")


def test_an_expired_or_forged_vote_is_refused(served, page):
    study, server = served
    page.goto(server.url)
    page.evaluate("document.querySelector('input[name=token]').value = 'forged'")
    page.click("#choose-A")
    assert "expired" in page.locator("main").inner_text()
    assert get_votes(study, "human") == []
