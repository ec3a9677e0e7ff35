"""A real OpenAI-compatible chat server on 127.0.0.1 for the LLM optimizer's tests.

``ScriptedLLMServer`` speaks the two endpoints the ``openai`` client uses here
(``GET /v1/models``, ``POST /v1/chat/completions``) over a real socket. Its answers are a
deterministic function of the request (messages, seed, the JSON schema in ``response_format``):
a config drawn inside the schema with a random generator seeded by a hash of the request, so the
same prompt always gets the same answer, like a greedy LLM. ``faults`` is a queue of things to
do instead of answering, one per request: ``"429"``/``"500"`` (error status with a short
``retry-after-ms``), ``"timeout"`` (answer after the client's timeout), ``"malformed"`` (a body
that is not JSON), ``"garbage"`` (a well-formed reply whose content is not a config),
``"out_of_range"`` (a config with a value outside the space), ``"refuse_schema"`` (400 when the
request carries ``response_format``). Every request is recorded (path, headers, body).

Run as a script it serves until killed: ``python llm_server.py PORT``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-llm"


def _draw(schema: dict[str, Any], rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    t = schema.get("type")
    if t == "object":
        return {k: _draw(v, rng) for k, v in schema.get("properties", {}).items()}
    if t == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 100)))
    if t == "number":
        lo, hi = float(schema.get("minimum", 0.0)), float(schema.get("maximum", 1.0))
        return round(lo + (hi - lo) * rng.random(), 6)
    if t == "string":
        return "The loss went down; try a nearby point."
    return None


class ScriptedLLMServer:
    """A threaded HTTP server on 127.0.0.1 (port 0: a free port) speaking the OpenAI chat API."""

    def __init__(self, port: int = 0, faults: list[str] | None = None,
                 sleep_s: float = 3.0) -> None:
        self.faults: list[str] = list(faults or [])
        self.requests: list[dict[str, Any]] = []
        self.sleep_s = sleep_s
        self.schema_hint: dict[str, Any] | None = None  # used when no response_format is sent
        self.contents: list[str] = []  # canned answers, served first, one per request
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                server._record(self, None)
                if self.path.rstrip("/").endswith("/models"):
                    body = {"object": "list", "data": [{"id": MODEL, "object": "model",
                                                        "created": 0, "owned_by": "tests"}]}
                    self._send(200, json.dumps(body).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(n) or b"{}")
                fault = server._record(self, req)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                if fault in ("429", "500"):
                    self._send(int(fault), json.dumps(
                        {"error": {"message": f"scripted {fault}", "type": "scripted"}}).encode(),
                        {"retry-after-ms": "10"})
                    return
                if fault == "timeout":
                    time.sleep(server.sleep_s)
                if fault == "malformed":
                    self._send(200, b'{"id": "x", "choices": [ this is not json')
                    return
                if fault == "refuse_schema" and "response_format" in req:
                    self._send(400, json.dumps({"error": {
                        "message": "response_format json_schema is not supported",
                        "type": "invalid_request_error"}}).encode())
                    return
                self._send(200, json.dumps(server.reply(req, fault)).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # ----- behaviour -----------------------------------------------------------------------
    def _record(self, handler: BaseHTTPRequestHandler, body: dict | None) -> str | None:
        with self._lock:
            self.requests.append({"path": handler.path, "headers": dict(handler.headers),
                                  "body": body})
            if body is not None and self.faults:
                fault = self.faults.pop(0)
                return None if fault == "ok" else fault
        return None

    def reply(self, req: dict[str, Any], fault: str | None) -> dict[str, Any]:
        """The deterministic answer to a chat request."""
        key = json.dumps([req.get("messages"), req.get("seed")], sort_keys=True)
        rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
        fmt = req.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") or self.schema_hint or {}
        with self._lock:
            canned = self.contents.pop(0) if self.contents else None
        answer = _draw(schema, rng) if canned is None else None
        if canned is not None:
            fault = "canned"
        if fault == "out_of_range":
            cfg = answer.get("config", answer)
            name = next(iter(cfg))
            cfg[name] = 1e9 if not isinstance(cfg[name], str) else "no-such-choice"
        if fault == "canned":
            content = canned
        elif fault == "garbage":
            content = "I think you should try a larger learning rate."
        elif fmt:
            content = json.dumps(answer)
        else:  # a model without JSON mode: prose around the config
            content = f"Sure! Here is the next config: {json.dumps(answer)} Good luck."
        text_in = sum(len(str(m.get("content", ""))) for m in req.get("messages", []))
        return {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
            "model": req.get("model", MODEL),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": text_in // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": text_in // 4 + len(content) // 4},
        }

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["body"] is not None]

    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":  # a standalone server (e.g. for a study run in a subprocess)
    import sys

    srv = ScriptedLLMServer(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(srv.port, flush=True)
    srv.httpd.serve_forever()
