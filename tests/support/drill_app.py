"""The WSGI app the resilience drills run under real Gunicorn and uWSGI workers.

Configured only through the environment (``CASSANDRA_*`` / ``WSGI_CASSANDRA_*``), like a production app:

- ``/plain`` never touches Cassandra (must keep working during any outage);
- ``/read`` reads one row at consistency ONE through ``environ["cassandra.session"]``;
- ``/proc`` reports this worker's pid, thread count and open file descriptors (for leak checks);
- ``/environ`` shows the ``repr`` of every WSGI environ value (the secrets drill greps it for the password);
- the health path is whatever ``WSGI_CASSANDRA_HEALTH_PATH`` says (the drills use ``/healthz``).

The recovery drill and bench also set how the driver reconnects to a down node: ``DRILL_RECONNECT_DELAY=N``
(constant, N s), ``DRILL_RECONNECT_MAX=N`` (exponential from 1 s, capped at N s), and ``DRILL_NO_RECOVERY=1``
turns the library's probing while every host is down off (the bench's "without" figure).

An exception from the driver propagates, as in a bare app: the server answers ``500``, which the drills
count as a failure.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, Callable

from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from cassandra.cluster import Cluster

_statement: Any = None


def _read_statement() -> Any:
    global _statement
    if _statement is None:
        from cassandra import ConsistencyLevel
        from cassandra.query import SimpleStatement

        _statement = SimpleStatement("SELECT id, v FROM items WHERE id = %s", consistency_level=ConsistencyLevel.ONE)
    return _statement


def proc_figures(pid: int | str = "self") -> dict[str, int]:
    """Threads (from /proc/PID/status) and open file descriptors (entries of /proc/PID/fd) of a process."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    return {"threads": threads, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def _json(start_response: StartResponse, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/plain":
        return _json(start_response, {"pid": os.getpid()})
    if path == "/proc":
        import threading

        names = sorted(thread.name for thread in threading.enumerate())
        return _json(start_response, {"pid": os.getpid(), **proc_figures(), "python_threads": names})
    if path == "/environ":
        return _json(start_response, {key: repr(value) for key, value in environ.items()})
    if path == "/read":
        key = int(environ.get("QUERY_STRING") or 0) % 10
        row = environ["cassandra.session"].execute(_read_statement(), (key,)).one()
        return _json(start_response, {"pid": os.getpid(), "id": row.id, "v": row.v})
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]


if os.environ.get("DRILL_LOG_LEVEL"):  # every logger, the driver's included, to the server's log
    logging.basicConfig(level=os.environ["DRILL_LOG_LEVEL"], format="%(process)d %(name)s %(levelname)s %(message)s")


def _cluster_factory() -> Callable[[], Cluster] | None:
    """The library's own Cluster, with the reconnection policy the ``DRILL_RECONNECT_*`` variables ask for."""
    constant, cap = os.environ.get("DRILL_RECONNECT_DELAY"), os.environ.get("DRILL_RECONNECT_MAX")
    if not constant and not cap:
        return None
    from cassandra.policies import ConstantReconnectionPolicy, ExponentialReconnectionPolicy

    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.driver import cluster_factory

    build = cluster_factory(Settings.resolve({}, os.environ))

    def factory() -> Cluster:
        cluster = build()
        if constant:
            cluster.reconnection_policy = ConstantReconnectionPolicy(float(constant), max_attempts=None)
        else:
            cluster.reconnection_policy = ExponentialReconnectionPolicy(1.0, float(cap or 60), max_attempts=None)
        return cluster

    return factory


if os.environ.get("DRILL_NO_RECOVERY"):
    from wsgi_cassandra.recovery import Recovery

    Recovery.start = lambda self: None  # type: ignore[method-assign]

application = CassandraMiddleware(app, cluster_factory=_cluster_factory())
