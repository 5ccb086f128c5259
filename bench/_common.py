"""Shared bench machinery: a Cassandra to talk to, WSGI servers on free ports, HTTP timing, result tables.

Everything runs on 127.0.0.1 with bounded loops. Without ``CASSANDRA_CONTACT_POINTS`` the CQL test server
runs as a separate process (so its CPU is not mixed into the client's); with it, the real cluster is used
and the bench keyspace ``wsgi_cassandra_bench`` is created there (and left for the next run).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
BIN = Path(sys.executable).parent
KEYSPACE = "wsgi_cassandra_bench"
READ_CQL = f"SELECT id, name FROM {KEYSPACE}.items WHERE id = ?"


# --- results --------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One bench's table: printed, written to docs/bench-results.md and charted by run_all.py."""

    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chart: dict[str, float] = field(default_factory=dict)  # label -> value, for the PNG
    chart_unit: str = "ms"

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "---|" * len(self.headers))
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def show(self) -> Result:
        print(self.markdown(), flush=True)
        return self

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def emit(result: Result) -> None:
    """Print the table; when run by run_all.py, also append it as one JSON line to BENCH_RESULT_FILE."""
    result.show()
    path = os.environ.get("BENCH_RESULT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(result.to_json() + "\n")


# --- Cassandra ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cassandra:
    env: dict[str, str]
    embedded: bool

    def cluster_kwargs(self) -> dict[str, Any]:
        from wsgi_cassandra.config import Settings
        from wsgi_cassandra.driver import cluster_kwargs

        return cluster_kwargs(Settings.resolve({}, self.env))


def real_cluster_env() -> dict[str, str] | None:
    if not os.environ.get("CASSANDRA_CONTACT_POINTS"):
        return None
    return {k: v for k, v in os.environ.items() if k.startswith("CASSANDRA_")}


@contextlib.contextmanager
def cassandra_process() -> Iterator[Cassandra]:
    """The real cluster, or ``python -m wsgi_cassandra.testing`` on a free port; the bench schema made."""
    real = real_cluster_env()
    if real is not None:
        target = Cassandra(real, embedded=False)
        create_schema(target)
        yield target
        return
    from wsgi_cassandra.testing import ServerProcess

    with ServerProcess(python=PYTHON) as server:
        target = Cassandra({"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}, embedded=True)
        create_schema(target)
        yield target


def create_schema(target: Cassandra, tables: int = 0) -> None:
    """The bench keyspace with ``items`` (one row per id 0..99) and ``tables`` extra tables of 5 columns."""
    from cassandra.cluster import Cluster

    cluster = Cluster(**target.cluster_kwargs())
    try:
        session = cluster.connect()
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute(f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.items (id int PRIMARY KEY, name text)")
        insert = session.prepare(f"INSERT INTO {KEYSPACE}.items (id, name) VALUES (?, ?)")
        for i in range(100):
            session.execute(insert, (i, f"item-{i}"))
        for i in range(tables):
            session.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.wide_{i} "
                "(id int, part text, a text, b bigint, c map<text, text>, PRIMARY KEY ((id), part))"
            )
    finally:
        cluster.shutdown()


# --- WSGI servers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way of serving the bench app: server kind, app variant, server options, environment."""

    label: str
    kind: str
    app: str
    options: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


# The library under each server with each warmer that applies there, the recipe, connect-per-request.
LIBRARY_GUNICORN = Variant("library, Gunicorn (warmer auto)", "gunicorn", "library")
LIBRARY_GUNICORN_PRELOAD = Variant(
    "library, Gunicorn --preload (warmer fork)",
    "gunicorn",
    "library",
    ("--preload",),
    (("WSGI_CASSANDRA_WARMER", "fork"),),
)
LIBRARY_UWSGI = Variant("library, uWSGI (warmer auto)", "uwsgi", "library")
LIBRARY_UWSGI_LAZY_APPS = Variant(
    "library, uWSGI --lazy-apps (warmer eager)",
    "uwsgi",
    "library",
    ("--lazy-apps",),
    (("WSGI_CASSANDRA_WARMER", "eager"),),
)
LIBRARY_GUNICORN_GEVENT = Variant(
    "library, Gunicorn -k gevent (warmer auto)", "gunicorn", "library", ("--worker-class", "gevent")
)
RECIPE_UWSGI = Variant("recipe: uWSGI @postfork global", "uwsgi", "recipe_uwsgi")
RECIPE_GUNICORN = Variant("recipe: global at import, Gunicorn", "gunicorn", "recipe_module")
RECIPE_GUNICORN_GEVENT = Variant(
    "recipe: global at import, Gunicorn -k gevent", "gunicorn", "recipe_module", ("--worker-class", "gevent")
)
PER_REQUEST = Variant("connect per request, Gunicorn", "gunicorn", "per_request")
FLOOR_GUNICORN = Variant("no Cassandra at all (HTTP floor), Gunicorn", "gunicorn", "none")
FLOOR_UWSGI = Variant("no Cassandra at all (HTTP floor), uWSGI", "uwsgi", "none")


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            # uWSGI: SIGINT is a brutal, immediate shutdown; Gunicorn: SIGINT is a quick shutdown.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def app_env(target: Cassandra, variant: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_", "BENCH_"))}
    env.update(target.env)
    env.update({"BENCH_VARIANT": variant, "PYTHONPATH": str(BENCH)})
    env.update(extra)
    return env


def start_server(
    kind: str, target: Cassandra, variant: str, workers: int, options: Sequence[str] = (), **extra: str
) -> Server:
    """Start ``kind`` (``gunicorn`` or ``uwsgi``) serving bench/apps.py's ``variant`` on a free port;
    ``options`` are extra server arguments (``--preload``, ``--lazy-apps``), ``extra`` environment variables."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"bench-{kind}-{variant}-", suffix=".log")[1])
    if kind == "gunicorn":
        command = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--graceful-timeout",
            "5",
            *options,
            "apps:application",
        ]
    elif kind == "uwsgi":
        command = [
            str(BIN / "uwsgi"),
            "--master",
            "--http-socket",
            f"127.0.0.1:{port}",
            "--processes",
            str(workers),
            "--enable-threads",  # the driver's event loop is a thread
            "--module",
            "apps:application",
            "--need-app",
            "--disable-logging",
            "--die-on-term",
            "--hook-master-start",
            "unix_signal:2 gracefully_kill_them_all",
            "--worker-reload-mercy",
            "5",
            *options,
        ]
    else:
        raise ValueError(kind)
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=BENCH, env=app_env(target, variant, **extra), stdout=out, stderr=out)
    server = Server(kind, port, proc, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited at start ({variant}); see {log}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return server
        time.sleep(0.05)
    server.stop()
    raise SystemExit(f"{kind} did not listen within 20 s ({variant}); see {log}")


def serve(variant: Variant, target: Cassandra, workers: int, **extra: str) -> contextlib.AbstractContextManager[Server]:
    return running(variant.kind, target, variant.app, workers, variant.options, **dict(variant.env), **extra)


@contextlib.contextmanager
def running(
    kind: str, target: Cassandra, variant: str, workers: int, options: Sequence[str] = (), **extra: str
) -> Iterator[Server]:
    server = start_server(kind, target, variant, workers, options, **extra)
    try:
        yield server
    finally:
        server.stop()


def get(port: int, path: str = "/item", timeout: float = 30.0) -> tuple[float, dict[str, Any]]:
    """One GET on a new connection: (seconds, JSON body). Raises on a non-200 answer."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"GET {path} -> {response.status}: {body[:300]!r}")
    return elapsed, json.loads(body)


def worker_pids(port: int, workers: int, attempts: int = 200) -> set[int]:
    """The pids of the workers behind ``port``, found by asking (bounded)."""
    pids: set[int] = set()
    for _ in range(attempts):
        pids.add(int(get(port)[1]["pid"]))
        if len(pids) >= workers:
            break
    return pids


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")
