"""Recast NOMAD's callback-driven ``PyNomad.optimize`` into ask/tell, through a child process.

Nevergrad's "recaster" runs a callback-driven optimizer in a thread whose blackbox blocks on a
queue. For NOMAD we use a child process instead, for three reasons found on PyNomadBBO 4.6.0:

* NOMAD keeps process-global state (its evaluation cache, the evaluator control and the random
  generator are singletons). Two ``PyNomad.optimize`` runs alive in one process at the same time
  (two optimizers, or a study and its resumed copy) raise "We should not have points left running
  for evaluation" or hang, and the random streams interleave, which breaks determinism.
* A bad parameter line makes NOMAD throw a C++ exception that ends in ``std::terminate``: in a
  thread that would abort the user's whole Python process; in a child it is an error we report.
* A run that we abandon (the study stopped early) is ended by closing a pipe or killing the
  child; nothing is left blocked inside C++ code.

``PyNomad.suggest``/``observe`` (the other ask/tell route) was rejected: ``suggest`` needs a cache
that already holds evaluations (no X0), supports only ``MEGA_SEARCH_POLL``, and carries the
algorithm's state only through the few parameter lines ``observe`` returns (frame size), so
neither the full MADS iteration nor a faithful replay is available through it.

Protocol (one JSON object per line). The parent writes the configuration
``{"x0", "lb", "ub", "params"}`` to the child's stdin; the child answers each blackbox call
with ``{"block": [[x...], ...]}`` on a private copy of its stdout and reads
``{"values": [f|null, ...]}`` back (``null`` = failed evaluation); at the end it writes
``{"done": {...}}``. The child is the script ``_nomad_child.py`` (standard library and PyNomad
only). Its own stdout (NOMAD's prints) and stderr go to a log file, so NOMAD never writes to
the user's terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from llmhpo.exceptions import LLMHPOError

__all__ = ["NomadProcess", "NomadProcessError"]


class NomadProcessError(LLMHPOError, RuntimeError):
    """The NOMAD child process stopped unexpectedly (bad parameters, crash)."""


class NomadProcess:
    """One ``PyNomad.optimize`` run in a child process, driven block by block.

    Args:
        x0: the initial point (internal coordinates).
        lb: lower bounds.
        ub: upper bounds.
        params: NOMAD parameter lines (``BB_OUTPUT_TYPE OBJ`` etc.).
        log_path: file that receives the child's stdout and stderr.
    """

    def __init__(
        self,
        x0: list[float],
        lb: list[float],
        ub: list[float],
        params: list[str],
        log_path: Path,
    ) -> None:
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-u", str(Path(__file__).with_name("_nomad_child.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._send({"x0": x0, "lb": lb, "ub": ub, "params": params})

    def next_message(self) -> tuple[str, Any]:
        """Wait for NOMAD's next request: ``("block", points)`` or ``("done", result)``."""
        proc = self._alive()
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            code = proc.wait(timeout=10)
            self.close()
            raise NomadProcessError(
                f"the NOMAD process exited with code {code} before finishing; "
                f"its output ends with: {self._log_tail()!r}"
            )
        msg = json.loads(line)
        if "block" in msg:
            return "block", msg["block"]
        return "done", msg["done"]

    def send_values(self, values: list[float | None]) -> None:
        """Answer the current block (``None`` marks a failed evaluation)."""
        self._send({"values": values})

    def close(self) -> None:
        """End the child (closing its stdin makes it exit; kill it if it does not)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not self._log.closed:
            self._log.close()

    @property
    def closed(self) -> bool:
        return self._proc is None

    # ----- helpers ----------------------------------------------------------------------------
    def _alive(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise NomadProcessError("the NOMAD process is closed")
        return self._proc

    def _send(self, obj: dict[str, Any]) -> None:
        proc = self._alive()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(obj) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            code = proc.poll()
            self.close()
            raise NomadProcessError(
                f"the NOMAD process exited (code {code}); its output ends with: "
                f"{self._log_tail()!r}"
            ) from None

    def _log_tail(self, n: int = 600) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:].strip()
        except OSError:
            return ""
