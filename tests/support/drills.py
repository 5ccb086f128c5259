"""Run real Gunicorn / uWSGI workers serving ``tests.support.drill_app`` and talk to them over HTTP.

Used by the resilience drills and ``bench/load_outage.py``. Everything listens on 127.0.0.1 on a free port,
every wait is bounded (a count and a deadline), and :meth:`WebServer.stop` always stops what it started::

    with WebServer("gunicorn", env, workers=2) as web:
        assert get(web.port, "/plain").status == 200
        pids = web.worker_pids()
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = "tests.support.drill_app:application"


def seed(contact_points: list[str], port: int, **cluster_kwargs: Any) -> None:
    """Create keyspace ``drill`` with table ``items`` (ids 0..9), replicated to every node."""
    from cassandra.cluster import Cluster

    with Cluster(contact_points, port=port, **cluster_kwargs) as cluster:
        session = cluster.connect()
        replicas = len(contact_points)
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS drill WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': {replicas}}}"
        )
        session.execute("CREATE TABLE IF NOT EXISTS drill.items (id int PRIMARY KEY, v text)")
        for i in range(10):
            session.execute("INSERT INTO drill.items (id, v) VALUES (%s, %s)", (i, f"item-{i}"))


def drill_env(contact_points: list[str], port: int, **extra: str) -> dict[str, str]:
    """A clean environment for the server: no stray Cassandra settings, short retry and shutdown bounds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_", "DRILL_"))}
    env.update(
        CASSANDRA_CONTACT_POINTS=",".join(contact_points),
        CASSANDRA_PORT=str(port),
        CASSANDRA_KEYSPACE="drill",
        CASSANDRA_CONNECT_TIMEOUT="5",
        WSGI_CASSANDRA_HEALTH_PATH="/healthz",
        WSGI_CASSANDRA_RETRY_MAX="1",
        WSGI_CASSANDRA_SHUTDOWN_TIMEOUT="2",
        WSGI_CASSANDRA_WARM_TIMEOUT="2",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def get(port: int, path: str, *, timeout: float = 10.0) -> Response:
    """One GET on a fresh connection to 127.0.0.1:``port``; ``status`` 0 when the connection failed."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, headers, body, time.monotonic() - started)
    except (OSError, http.client.HTTPException):
        return Response(0, {}, b"", time.monotonic() - started)
    finally:
        connection.close()


def wait_until(predicate: Callable[[], bool], *, timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass (bounded in count too)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 2):
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return sorted(int(part) for part in text.split())


class WebServer:
    """A Gunicorn or uWSGI master with ``workers`` worker processes (``threads`` threads each)."""

    def __init__(
        self,
        kind: str,
        env: Mapping[str, str],
        *,
        workers: int = 2,
        threads: int = 1,
        graceful: float = 20.0,
        app: str = APP,
    ) -> None:
        if kind not in ("gunicorn", "uwsgi"):
            raise ValueError(f"kind must be 'gunicorn' or 'uwsgi', got {kind!r}")
        self.kind, self.workers, self.threads, self.graceful, self.app = kind, workers, threads, graceful, app
        self.env = {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"drill-{kind}-", suffix=".log", delete=False)  # noqa: SIM115

    def command(self) -> list[str]:
        if self.kind == "gunicorn":
            worker = ["--worker-class", "gthread", "--threads", str(self.threads)] if self.threads > 1 else []
            return [
                str(BIN / "gunicorn"),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), *worker),
                *("--graceful-timeout", str(int(self.graceful)), "--timeout", "60", "--log-level", "info"),
                self.app,
            ]
        return [
            str(BIN / "uwsgi"),
            *("--http-socket", f"127.0.0.1:{self.port}", "--master", "--processes", str(self.workers)),
            *("--threads", str(self.threads), "--enable-threads", "--die-on-term", "--need-app"),
            *("--worker-reload-mercy", str(int(self.graceful)), "--module", self.app, "--chdir", str(ROOT)),
            *("--home", str(Path(sys.prefix)), "--disable-logging"),
        ]

    def start(self, *, timeout: float = 20.0) -> WebServer:
        """Start the master and wait until every worker is forked and ``/plain`` answers."""
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        ready = wait_until(
            lambda: len(self.worker_pids()) == self.workers and get(self.port, "/plain", timeout=2).status == 200,
            timeout=timeout,
            step=0.1,
        )
        if not ready:
            self.stop()
            raise RuntimeError(f"{self.kind} did not come up on port {self.port}:\n{self.log()[-3000:]}")
        return self

    def worker_pids(self) -> list[int]:
        return [] if self.process is None else children(self.process.pid)

    def wait_ready(self, *, timeout: float = 15.0) -> bool:
        """Wait until the health endpoint said ``ready`` from every worker (``/healthz`` in ``drill_env``)."""
        seen: set[int] = set()

        def all_ready() -> bool:
            response = get(self.port, "/healthz", timeout=2)
            if response.status == 200:
                seen.add(int(response.json()["pid"]))
            return seen >= set(self.worker_pids())

        return wait_until(all_ready, timeout=timeout, step=0.02)

    def stop(self, *, timeout: float = 30.0) -> float:
        """SIGTERM (graceful stop for Gunicorn, and for uWSGI with --die-on-term); SIGKILL after ``timeout``.

        Returns how long the whole server took to exit.
        """
        process = self.process
        if process is None:
            self._log.close()
            return 0.0
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.process = None
        self._log.close()
        return time.monotonic() - started

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None:
            Path(self._log.name).unlink(missing_ok=True)


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the hammer started
    status: int
    seconds: float


def hammer(port: int, path: str, *, seconds: float, threads: int = 4, limit: int = 100_000) -> list[Sample]:
    """GET ``path`` from ``threads`` client threads for ``seconds`` (at most ``limit`` requests in all)."""
    import threading

    started = time.monotonic()
    samples: list[Sample] = []
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() - started < seconds:
            with lock:
                if len(samples) >= limit:
                    return
            response = get(port, path, timeout=10)
            with lock:
                samples.append(Sample(time.monotonic() - started - response.seconds, response.status, response.seconds))

    workers = [threading.Thread(target=client, name=f"hammer-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 30)
    return sorted(samples, key=lambda sample: sample.at)
