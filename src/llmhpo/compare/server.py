"""``llmhpo compare``'s web app: a small standard-library HTTP server (bound to 127.0.0.1 by
default) showing a prompt and two anonymized answers in random order; each click stores one
vote with the study. No JavaScript, no assets from the network.

Routes: ``GET /`` the next judgement, ``POST /vote`` (form: ``token``, ``choice``),
``GET /ranking`` the Bradley–Terry ranking, ``GET /votes.json`` the stored votes.
"""

from __future__ import annotations

import html
import json
import random
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from llmhpo.compare.session import Matchup, next_matchup, outcome_of_choice
from llmhpo.compare.store import add_vote, get_answers, get_votes

__all__ = ["CompareServer", "make_server"]

_CSS = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1000px;margin:0 auto;padding:24px}
.prompt{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 16px}
.pair{display:flex;gap:16px;margin:16px 0}
.answer{flex:1;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 16px}
.answer pre{white-space:pre-wrap;font:14px/1.4 ui-monospace,Menlo,monospace}
button{font-size:15px;padding:8px 16px;margin-right:8px;border-radius:6px;border:1px solid #8a94a6;
background:#fff;cursor:pointer}button.pick{background:#e8f0fe}
.muted{color:#5b6475}table{border-collapse:collapse}td,th{padding:4px 10px;
border-bottom:1px solid #e3e6eb;text-align:left}
"""


def _page(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    ).encode()


class CompareServer(ThreadingHTTPServer):
    """The judging server of one study; ``serve_forever()`` runs it."""

    daemon_threads = True

    def __init__(self, study: Any, host: str = "127.0.0.1", port: int = 0,
                 seed: int | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.study = study
        self.answers = get_answers(study)
        if not self.answers or len(self.answers["candidates"]) < 2:
            from llmhpo.exceptions import InvalidConfigError

            raise InvalidConfigError(
                f"study {study.study_name!r} has no sample answers of two or more candidates "
                "to compare; generate them with `llmhpo compare CONFIG` (a run config)"
            )
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.pending: dict[str, Matchup] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: CompareServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet terminal
        return

    def _send(self, code: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        if path == "/":
            self._send(200, self._judge_page())
        elif path == "/ranking":
            self._send(200, self._ranking_page())
        elif path == "/votes.json":
            body = json.dumps(get_votes(self.server.study, "human")).encode()
            self._send(200, body, "application/json")
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, _page("not found", "<p>Not found. <a href=\"/\">Back</a></p>"))

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/vote":
            self._send(404, b"not found", "text/plain")
            return
        n = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
        s = self.server
        with s.lock:
            m = s.pending.pop(form.get("token", ""), None)
            outcome = outcome_of_choice(form.get("choice", ""))
            if m is None or not outcome:
                self._send(400, _page("bad vote", "<p>That judgement expired or the choice is "
                                      "unknown. <a href=\"/\">Next judgement</a></p>"))
                return
            add_vote(s.study, prompt=m.prompt, a=m.left, b=m.right, outcome=outcome,
                     left=m.left, judge="human")
        self._send(303, b"", headers={"Location": "/"})

    def _judge_page(self) -> bytes:
        s = self.server
        with s.lock:
            votes = get_votes(s.study, "human")
            m = next_matchup(s.answers, votes, s.rng)
            token = secrets.token_urlsafe(12)
            s.pending[token] = m  # type: ignore[assignment]
        e = html.escape
        p = s.answers["prompts"][m.prompt]  # type: ignore[union-attr]
        ans = s.answers["candidates"]
        expected = (f'<p class="muted">Expected answer: {e(p["expected"])}</p>'
                    if p.get("expected") else "")
        buttons = "".join(
            f'<button class="pick" name="choice" value="{v}" id="choose-{v}">{label}</button>'
            for v, label in (("A", "A is better"), ("B", "B is better"), ("tie", "Tie"),
                             ("both_bad", "Both bad"))
        )
        body = (
            f"<h1>Which answer is better?</h1><p class=\"muted\">Study "
            f"{e(s.study.study_name)}: {len(ans)} models, answers anonymized and shuffled; "
            f"{len(votes)} judgements so far. <a href=\"/ranking\">Ranking</a></p>"
            f'<div class="prompt" id="prompt"><b>Prompt</b><pre>{e(p["prompt"])}</pre>'
            f"{expected}</div>"
            f'<div class="pair"><div class="answer" id="answer-a"><b>A</b><pre>'
            f'{e(ans[m.left]["answers"][m.prompt])}</pre></div>'  # type: ignore[union-attr]
            f'<div class="answer" id="answer-b"><b>B</b><pre>'
            f'{e(ans[m.right]["answers"][m.prompt])}</pre></div></div>'  # type: ignore[union-attr]
            f'<form method="post" action="/vote"><input type="hidden" name="token" '
            f'value="{token}">{buttons}</form>'
        )
        return _page("llmhpo compare", body)

    def _ranking_page(self) -> bytes:
        from llmhpo.compare.ranking import ranking_table

        s = self.server
        with s.lock:
            votes = get_votes(s.study, "human")
        table = (ranking_table(s.study, votes) if votes
                 else "<p>No judgements yet.</p>")
        return _page("llmhpo compare: ranking",
                     f"<h1>Ranking by {len(votes)} human judgements</h1>{table}"
                     "<p><a href=\"/\">Judge more</a></p>")


def make_server(study: Any, host: str = "127.0.0.1", port: int = 0,
                seed: int | None = None) -> CompareServer:
    """A :class:`CompareServer` for ``study`` on ``host:port`` (port 0: a free port)."""
    return CompareServer(study, host, port, seed)
