"""A Hugging Face hub on 127.0.0.1: the endpoints ``huggingface_hub`` (and through it
transformers and datasets) call to resolve and download a model or dataset repository.

Written by hand because no package ships a test hub server; it implements only what
``from_pretrained`` and ``load_dataset`` of public repos need (repo info, file tree,
``resolve`` HEAD/GET with the commit and ETag headers, the hub's 404 error codes). Point a
subprocess at it with ``HF_ENDPOINT``. Repositories are folders under
``root/models/<org>/<name>`` and ``root/datasets/<org>/<name>``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class LocalHub:
    """Serves the repositories under ``root``; ``requests`` lists ``"METHOD path"`` served."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, head=False)

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def gets(self, suffix: str) -> int:
        """How many GET requests asked for a path ending in ``suffix``."""
        return sum(r.startswith("GET ") and r.split("?")[0].endswith(suffix)
                   for r in self.requests)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, body: bytes, headers: dict, head: bool):
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        self.requests.append(f"{h.command} {h.path}")
        parts = unquote(urlparse(h.path).path).strip("/").split("/")
        missing_repo = {"X-Error-Code": "RepositoryNotFound",
                        "X-Error-Message": "Repository not found"}
        if parts[0] == "api":  # /api/{models,datasets}/org/name[/revision/..|/tree/..]
            repo = self.root / parts[1] / "/".join(parts[2:4])
            if not repo.is_dir():
                return self._send(h, 404, b'{"error": "Repository not found"}', missing_repo,
                                  head)
            files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
            if "tree" in parts[4:]:
                body = [{"type": "file", "path": f, "size": (repo / f).stat().st_size,
                         "oid": COMMIT} for f in files]
            else:
                body = {"id": "/".join(parts[2:4]), "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": f} for f in files]}
            return self._send(h, 200, json.dumps(body).encode(),
                              {"Content-Type": "application/json"}, head)
        kind = "models"
        if parts[0] == "datasets":
            kind, parts = "datasets", parts[1:]
        # /org/name/resolve/<revision>/<file path>
        repo, path = self.root / kind / "/".join(parts[:2]), "/".join(parts[4:])
        if not repo.is_dir():
            return self._send(h, 404, b"", missing_repo, head)
        file = repo / path
        if not file.is_file():
            return self._send(h, 404, b"", {"X-Error-Code": "EntryNotFound",
                                            "X-Repo-Commit": COMMIT}, head)
        body = file.read_bytes()
        return self._send(h, 200, body, {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
            "Content-Type": "application/octet-stream",
        }, head)
