"""The LLM judge against a real OpenAI-compatible HTTP server on 127.0.0.1 (a rule-based
stand-in for the model: it prefers the answer equal to the expected one)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import llmhpo
from llmhpo.compare.judge import judge_pairs, parse_verdict
from llmhpo.compare.ranking import rank_candidates
from llmhpo.compare.store import get_votes, set_answers


class _Judge(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *a):
        return

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body, self.headers.get("Authorization")))
        text = body["messages"][0]["content"]
        expected = re.search(r"Expected answer:\n(.*)\n", text).group(1)
        a = re.search(r"Answer A:\n(.*)\n", text).group(1)
        b = re.search(r"Answer B:\n(.*)\n", text).group(1)
        verdict = {(True, False): "A", (False, True): "B", (True, True): "TIE"}.get(
            (a == expected, b == expected), "BOTH_BAD")
        out = json.dumps({"choices": [{"message": {"role": "assistant",
                                                   "content": f" {verdict}."}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def judge_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_votes_are_stored_apart_and_rank(tmp_path, judge_url):
    study = llmhpo.create_study({"x": {"type": "float", "low": 0, "high": 1}},
                                storage=f"sqlite:///{tmp_path / 's.db'}", study_name="j")
    set_answers(study, {"prompts": [{"prompt": "2+2?", "expected": "4"},
                                    {"prompt": "3+3?", "expected": "6"}],
                        "candidates": {"good": {"label": "g", "answers": ["4", "6"]},
                                       "half": {"label": "h", "answers": ["4", "7"]},
                                       "bad": {"label": "b", "answers": ["5", "7"]}}})
    new = judge_pairs(study, judge_url, "tiny-judge", n=6, api_key="k")
    assert len(new) == 6 and get_votes(study, "human") == []
    votes = get_votes(study, "llm")
    assert votes == new and {v["judge"] for v in votes} == {"llm:tiny-judge"}
    path, body, auth = _Judge.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "tiny-judge"
    assert auth == "Bearer k" and body["temperature"] == 0
    assert [r.key for r in rank_candidates(votes)] == ["good", "half", "bad"]


def test_parse_verdict():
    assert parse_verdict("A") == "a" and parse_verdict("Answer B is better") == "b"
    assert parse_verdict("tie") == "tie" and parse_verdict("BOTH_BAD") == "both_bad"
    assert parse_verdict("both bad.") == "both_bad" and parse_verdict("no idea") is None


def test_a_local_model_judges_with_constrained_verdicts(tmp_path, capsys):
    """``--judge-url local``: a tiny random LLaMA in this process; the grammar makes every
    reply one of the four verdicts, so all n judgements are stored, apart from human votes."""
    pytest.importorskip("xgrammar")
    from objectives.lora_tiny import make_tiny_llama, make_tokenizer

    from llmhpo.cli.main import main

    tok = make_tokenizer()
    model_dir = tmp_path / "tiny_judge"
    make_tiny_llama(tok).save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))
    db = tmp_path / "s.db"
    study = llmhpo.create_study({"x": {"type": "float", "low": 0, "high": 1}},
                                storage=f"sqlite:///{db}", study_name="local-judge")
    set_answers(study, {"prompts": [{"prompt": "2+2?", "expected": "4"}],
                        "candidates": {"p": {"label": "p", "answers": ["4"]},
                                       "q": {"label": "q", "answers": ["5"]}}})
    assert main(["compare", str(db), "--no-serve", "--judge-url", "local",
                 "--judge-model", str(model_dir), "--judge-n", "3"]) == 0
    votes = get_votes(study, "llm")
    assert len(votes) == 3 and get_votes(study, "human") == []
    assert {v["outcome"] for v in votes} <= {"a", "b", "tie", "both_bad"}
    assert {v["judge"] for v in votes} == {f"llm:{model_dir}"}
    assert "3 judgements stored" in capsys.readouterr().err
