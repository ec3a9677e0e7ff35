"""Running untrusted (LLM-written) training code: its own process, no network, a read-only
filesystem except its scratch directory, CPU-time / memory / file-size / wall-clock limits,
and only a JSON metric line read back.

Isolation is bubblewrap's (``bwrap``, the sandbox of Flatpak): a new network namespace (only a
loopback interface, so nothing on this machine or beyond is reachable), a new PID namespace
(``--die-with-parent``: nothing outlives the run), the root filesystem bound read-only with a
private ``/tmp``, and the scratch directory the only writable place. Resource limits are
``setrlimit`` in the child before ``bwrap`` starts (they hold for everything it runs):
RLIMIT_CPU (killed by SIGXCPU/SIGKILL), RLIMIT_AS (allocations fail with MemoryError),
RLIMIT_FSIZE. The wall-clock limit kills the whole process group.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llmhpo.exceptions import InvalidConfigError

__all__ = ["SandboxLimits", "SandboxResult", "run_sandboxed", "check_sandbox"]


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandboxed run."""

    cpu_s: int = 60
    memory_mb: int = 2048
    wall_s: float = 120.0
    file_mb: int = 64


@dataclass(frozen=True)
class SandboxResult:
    """What came back: the metrics of the last JSON line of stdout, or why there are none."""

    metrics: dict[str, float] | None
    error: str | None
    returncode: int | None
    wall_s: float
    stdout_tail: str
    stderr_tail: str


def check_sandbox() -> str:
    """The ``bwrap`` executable, or an error saying how to install it."""
    path = shutil.which("bwrap")
    if path is None:
        raise InvalidConfigError(
            "the codegen sandbox needs bubblewrap (`bwrap`); install it with "
            "`apt-get install bubblewrap`"
        )
    return path


def _limits(lim: SandboxLimits):  # runs in the child between fork and exec
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 1))
        mem = lim.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        fsize = lim.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _explain(code: int | None, lim: SandboxLimits, stderr: str) -> str:
    last = (stderr.strip().splitlines() or [""])[-1]
    if code is not None and 128 < code < 128 + 65:  # bwrap passes a signal on as 128 + sig
        code = -(code - 128)
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return f"CPU time limit of {lim.cpu_s} s exceeded (SIGXCPU)"
        return f"killed by signal {signal.Signals(sig).name}: {last}"
    if "MemoryError" in stderr:
        return f"memory limit of {lim.memory_mb} MB exceeded (MemoryError)"
    return f"exit status {code}: {last}" if last else f"exit status {code}"


def run_sandboxed(
    code: str,
    scratch: str | Path,
    *,
    limits: SandboxLimits = SandboxLimits(),
    files: dict[str, bytes] | None = None,
    python: str | None = None,
) -> SandboxResult:
    """Run ``code`` as ``train.py`` in ``scratch`` under the sandbox.

    Args:
        code: the Python source.
        scratch: a fresh directory; the only place the code may write (created if missing).
        limits: CPU seconds, memory, wall-clock seconds, largest file.
        files: extra files written into ``scratch`` first (e.g. the data split).
        python: the interpreter (default: this one).

    Returns:
        The metrics of the last stdout line that is a JSON object of numbers, else the reason
        there are none (exit status, limit, no metric line).
    """
    bwrap = check_sandbox()
    d = Path(scratch).resolve()
    d.mkdir(parents=True, exist_ok=True)
    (d / "train.py").write_text(code, encoding="utf-8")
    for name, data in (files or {}).items():
        (d / name).write_bytes(data)
    cmd = [
        bwrap, "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", str(d), str(d),
        "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--unshare-pid", "--unshare-ipc",
        "--die-with-parent", "--chdir", str(d),
        python or sys.executable, "-I", "train.py",
    ]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(d), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONHASHSEED": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=_limits(limits))
    try:
        out, err = proc.communicate(timeout=limits.wall_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        timed_out = True
    wall = time.perf_counter() - t0
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    tail_o, tail_e = stdout[-2000:], stderr[-4000:]
    if timed_out:
        return SandboxResult(None, f"wall-clock limit of {limits.wall_s:g} s exceeded",
                             None, wall, tail_o, tail_e)
    if proc.returncode != 0:
        return SandboxResult(None, _explain(proc.returncode, limits, stderr), proc.returncode,
                             wall, tail_o, tail_e)
    for line in reversed(stdout.strip().splitlines()):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            try:
                return SandboxResult({str(k): float(v) for k, v in obj.items()}, None, 0, wall,
                                     tail_o, tail_e)
            except (TypeError, ValueError):
                break
    return SandboxResult(None, "the script printed no JSON metric line (e.g. "
                         '{"val_error": 0.12}) on stdout', 0, wall, tail_o, tail_e)
