"""Resilience drills: real Gunicorn / uWSGI workers serving ``tests.support.drill_app``.

Used by the drill tests and ``bench/load_outage.py``. The servers are :mod:`tests.support.servers`'
(free port, bounded waits, stop that leaves nothing behind); what is drill-specific is here: the keyspace
the app reads (:func:`seed`), a clean environment with short bounds (:func:`drill_env`), and a master with
``workers`` workers that is up only when every worker is forked and ``/plain`` answers::

    with drill_server("gunicorn", drill_env(nodes.contact_points, nodes.port), workers=2) as web:
        assert get(web.port, "/plain").status == 200
        pids = web.worker_pids()
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.clients import get
from tests.support.servers import REPO, Server, start
from tests.support.wait import eventually

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

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


def drill_args(kind: str, *, workers: int = 2, threads: int = 1, graceful: float = 20.0) -> list[str]:
    """Server options for a master with ``workers`` workers of ``threads`` threads each."""
    if kind == "gunicorn":
        worker = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
        return [
            *("--workers", str(workers), *worker),
            *("--graceful-timeout", str(int(graceful)), "--timeout", "60", "--log-level", "info"),
        ]
    return [
        *("--master", "--processes", str(workers), "--threads", str(threads), "--enable-threads"),
        *("--worker-reload-mercy", str(int(graceful)), "--chdir", str(REPO)),
        *("--home", str(Path(sys.prefix)), "--disable-logging"),
    ]


def start_drill_server(
    kind: str, env: Mapping[str, str], *, workers: int = 2, threads: int = 1, timeout: float = 20.0
) -> Server:
    """Start the master and wait until every worker is forked and ``/plain`` answers; stop it if not."""
    server = start(kind, APP, *drill_args(kind, workers=workers, threads=threads), env=env)
    ready = eventually(
        lambda: len(server.worker_pids()) == workers and get(server.port, "/plain", timeout=2).status == 200,
        timeout=timeout,
        step=0.1,
    )
    if not ready:
        server.stop()
        raise RuntimeError(f"{kind} did not come up on port {server.port}:\n{server.log()[-3000:]}")
    return server


@contextlib.contextmanager
def drill_server(kind: str, env: Mapping[str, str], *, workers: int = 2, threads: int = 1) -> Iterator[Server]:
    """:func:`start_drill_server`, and a graceful stop (SIGKILL after 30 s) when the block ends."""
    server = start_drill_server(kind, env, workers=workers, threads=threads)
    try:
        yield server
    finally:
        server.stop(30.0)


def wait_ready(server: Server, *, timeout: float = 15.0) -> bool:
    """Wait until the health endpoint said ``ready`` from every worker (``/healthz`` in ``drill_env``)."""
    try:
        server.every_worker("/healthz", timeout=timeout)
    except TimeoutError:
        return False
    return True
