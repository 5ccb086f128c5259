"""Shared bench machinery: a Cassandra to talk to, the bench app under real servers, timed GETs, tables.

Everything runs on 127.0.0.1 with bounded loops. Without ``CASSANDRA_CONTACT_POINTS`` the CQL test server
runs as a separate process (so its CPU is not mixed into the client's); with it, the real cluster is used
and the bench keyspace ``wsgi_cassandra_bench`` is created there (and left for the next run).

Servers, free ports and HTTP are the tests' harness (``tests/support``), so benches and tests drive
Gunicorn and uWSGI the same way. Every bench takes ``--quick`` (:func:`parse_args`): seconds, tiny counts,
for the suite's smoke test (``tests/test_benches.py``); its figures mean nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the real-server harness is the tests' (tests/support): one copy for both
    sys.path.insert(0, str(ROOT))

from tests.support.clients import every_worker, fetch  # noqa: E402
from tests.support.servers import Server, running  # noqa: E402
from tests.support.wait import wait_until  # noqa: E402

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence

BENCH = ROOT / "bench"
PYTHON = sys.executable
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


@dataclass
class Cassandra:
    env: dict[str, str]
    embedded: bool

    def cluster_kwargs(self) -> dict[str, Any]:
        """Plain driver arguments for setup (contact points and port; credentials when set)."""
        kwargs: dict[str, Any] = {
            "contact_points": self.env.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1").split(","),
            "port": int(self.env.get("CASSANDRA_PORT", "9042")),
        }
        if self.env.get("CASSANDRA_USERNAME"):
            from cassandra.auth import PlainTextAuthProvider

            kwargs["auth_provider"] = PlainTextAuthProvider(
                self.env["CASSANDRA_USERNAME"], self.env.get("CASSANDRA_PASSWORD", "")
            )
        return kwargs


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
# ASGI under Gunicorn's Uvicorn worker (its --worker-class comes after "sync" and wins).
UVICORN_WORKER = ("--worker-class", "uvicorn_worker.UvicornWorker")
LIBRARY_ASGI = Variant(
    "library ASGI, Gunicorn Uvicorn worker (await execute)", "gunicorn", "asgi_library", UVICORN_WORKER
)
RECIPE_ASGI = Variant(
    "recipe: global at import, execute in a thread, Uvicorn worker", "gunicorn", "recipe_asgi", UVICORN_WORKER
)
FLOOR_ASGI = Variant("no Cassandra at all (HTTP floor), Uvicorn worker", "gunicorn", "asgi_none", UVICORN_WORKER)


def runnable(variants: Sequence[Variant], result: Result) -> list[Variant]:
    """The ``variants`` the installed driver can serve, with a note in ``result`` naming those left out: a
    gevent worker refuses to start on a driver without the gevent reactor (scylla-driver, cassandra-driver
    3.31+)."""
    from wsgi_cassandra.reactors import GREEN_REACTORS, driver_version

    module, _ = GREEN_REACTORS["gevent"]
    left_out = [v for v in variants if "gevent" in v.options and importlib.util.find_spec(module) is None]
    if left_out:
        labels = ", ".join(v.label for v in left_out)
        result.notes.append(f"Left out: {labels} (the installed {driver_version()} ships no gevent reactor).")
    return [v for v in variants if v not in left_out]


def app_env(target: Cassandra, variant: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_", "BENCH_"))}
    env.update(target.env)
    env.update({"BENCH_VARIANT": variant, "PYTHONPATH": str(BENCH)})
    env.update(extra)
    return env


def server_args(kind: str, workers: int) -> list[str]:
    """``workers`` pre-forked workers; uWSGI with a master and the driver's event-loop thread allowed."""
    if kind == "gunicorn":
        return ["--workers", str(workers), "--worker-class", "sync"]
    if kind == "uwsgi":
        return ["--master", "--processes", str(workers), "--enable-threads", "--disable-logging"]
    raise ValueError(f"unknown server kind {kind!r}; accepted: gunicorn, uwsgi")


def serve(variant: Variant, target: Cassandra, workers: int, **extra: str) -> contextlib.AbstractContextManager[Server]:
    return serving(variant.kind, target, variant.app, workers, variant.options, **dict(variant.env), **extra)


@contextlib.contextmanager
def serving(
    kind: str, target: Cassandra, variant: str, workers: int, options: Sequence[str] = (), **extra: str
) -> Iterator[Server]:
    """``kind`` serving bench/apps.py's ``variant`` with ``workers`` workers on a free port, listening when
    the block starts (bounded wait) and stopped when it ends; ``options`` are extra server arguments
    (``--preload``, ``--lazy-apps``), ``extra`` environment variables."""
    args = [*server_args(kind, workers), *options]
    with running(kind, "apps:application", *args, env=app_env(target, variant, **extra)) as server:
        try:
            server.wait_listening(timeout=60)
        except (TimeoutError, RuntimeError) as exc:
            raise SystemExit(f"{kind} did not start ({variant}): {exc}\n{server.log()[-2000:]}") from exc
        yield server


def get(port: int, path: str = "/item", timeout: float = 30.0) -> tuple[float, dict[str, Any]]:
    """One GET on a new connection: (seconds, JSON body). Raises on a non-200 answer."""
    reply = fetch(port, path, timeout=timeout)
    if reply.status != 200:
        raise RuntimeError(f"GET {path} -> {reply.status}: {reply.body[:300]!r}")
    return reply.seconds, reply.json()


def worker_pids(server: Server, workers: int, timeout: float = 60.0) -> set[int]:
    """The ``workers`` worker pids of ``server``, once each has answered a read (bounded)."""
    try:
        pids: set[int] = wait_until(
            lambda: len(server.worker_pids()) == workers and server.worker_pids(), timeout=timeout, what="workers"
        )
    except TimeoutError as exc:
        raise SystemExit(f"{server.kind}: {len(server.worker_pids())} workers, expected {workers}") from exc
    return set(every_worker(server.port, "/item", pids, timeout=timeout))


def parse_args(parser: argparse.ArgumentParser, quick: dict[str, Any]) -> argparse.Namespace:
    """Add ``--quick`` to a bench's options: the values in ``quick`` (seconds, tiny counts) replace the
    defaults, so that the suite can run every bench as a smoke test."""
    parser.add_argument(
        "--quick", action="store_true", help="seconds, tiny counts: a smoke test (figures mean nothing)"
    )
    args = parser.parse_args()
    if args.quick:
        for name, value in quick.items():
            setattr(args, name, value)
    return args


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")
