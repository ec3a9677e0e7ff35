"""Real servers for the distributed tests: a throwaway PostgreSQL cluster and a multi-node Ray
cluster, both on 127.0.0.1, started from their own binaries and torn down after.

No mocks: the PostgreSQL server is Debian's ``postgres`` run by ``initdb`` + ``pg_ctl`` in a
temporary directory (as the ``postgres`` user when the tests run as root, which PostgreSQL
refuses); the Ray nodes are ``ray start --block`` processes, one per node, so one node can be
killed on its own (kill -9 of its process tree) as when a machine dies.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresServer", "RayCluster", "postgres_binaries", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for d in candidates:
        if all((d / b).exists() for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


class PostgresServer:
    """A PostgreSQL server in a temporary directory, listening on 127.0.0.1:``port``.

    Trust authentication for the ``postgres`` role (a test server on the loopback only).
    :meth:`create_database` gives each test its own empty database.
    """

    def __init__(self) -> None:
        bindir = postgres_binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="llmhpo-pg-"))
        self._user: str | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user") from None
            self._user = "postgres"
            shutil.chown(self.root, user="postgres")
        self._n_db = 0

    def _run(self, *cmd: str) -> None:
        full = list(cmd)
        if self._user is not None:
            full = ["runuser", "-u", self._user, "--", *full]
        subprocess.run(full, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )
        # fsync off: a throwaway test server; max_connections: 4 drivers x a few connections
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(data), "-o", opts,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import sqlalchemy

        self._n_db += 1
        name = f"{prefix}{self._n_db}"
        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                "-w", "stop",
            )
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class RayNode:
    """One ``ray start --block`` process and everything it started."""

    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc = proc
        self.log = log

    def kill(self) -> None:
        """kill -9 the node's whole process tree (raylet, agents, workers), as a dead machine."""
        import psutil

        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            procs = []
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=10)
        self.proc.wait(timeout=10)


class RayCluster:
    """A Ray cluster of separate node processes on 127.0.0.1 (head + :meth:`add_node`).

    Every port the head binds is picked free, and the session files live in a private
    temporary directory, so the cluster does not collide with another Ray instance on the
    machine. Object stores are kept small (the test machine has little memory to spare).
    """

    OBJECT_STORE = str(80 * 1024 * 1024)

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="llmhpo-ray-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[RayNode] = []
        here = str(Path(__file__).resolve().parent)  # test objectives importable on every node
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
            "RAY_USAGE_STATS_ENABLED": "0",
            # a test cluster on 127.0.0.1: no token (Ray >= 2.5x turns token auth on when a
            # ~/.ray/auth_token exists, which then every node and driver must share)
            "RAY_AUTH_MODE": "disabled",
            # notice a dead node within ~3 s instead of ~15 s (Ray's defaults)
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3",
        }

    def _ray_start(self, args: list[str], name: str) -> RayNode:
        ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
        log = self.root / f"{name}.log"
        fh = log.open("w")
        proc = subprocess.Popen(
            [ray_bin, "start", "--block", "--disable-usage-stats",
             "--object-store-memory", self.OBJECT_STORE, *args],
            stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True, text=True,
        )
        fh.close()
        node = RayNode(proc, log)
        self.nodes.append(node)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if "Ray runtime started" in text:
                return node
            if proc.poll() is not None:
                raise RuntimeError(f"ray start ({name}) exited {proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"ray start ({name}) not ready in 90 s:\n{log.read_text()[-3000:]}")

    def start_head(
        self, num_cpus: float = 1, resources: dict[str, float] | None = None
    ) -> RayNode:
        import json

        args = [
            "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port),
            "--num-cpus", str(num_cpus), "--include-dashboard", "false",
            "--dashboard-port", str(free_port()),
            "--temp-dir", str(self.root),
        ]
        if resources:
            args += ["--resources", json.dumps(resources)]
        return self._ray_start(args, "head")

    def add_node(self, num_cpus: float = 1, resources: dict[str, float] | None = None) -> RayNode:
        """Start one more node joining the head, with its own CPUs and custom resources."""
        import json

        args = [
            "--address", self.address, "--node-ip-address", "127.0.0.1",
            "--num-cpus", str(num_cpus),
        ]
        if resources:
            args += ["--resources", json.dumps(resources)]
        return self._ray_start(args, f"node{len(self.nodes)}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        self.nodes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
