"""A test app with cqlengine models and an ``on_ready`` hook, served by real Gunicorn and uWSGI workers.

Settings come from the environment (``WSGI_CASSANDRA_CQLENGINE=1`` turns cqlengine on); the models' table
is created by the test. Routes (all GET, so the shared HTTP helper drives them):

- ``/ping``: the pid, without touching the session;
- ``/create?sensor=a&seq=1&value=x``: ``Reading.create(...)``;
- ``/read?sensor=a`` and ``/read?sensor=a&after=1``: the readings of a sensor (filtered on the clustering key);
- ``/raw``: the type of a row read through ``environ["cassandra.session"]``;
- ``/whoami``: the pid, the pid that built the session, the hook's calls in this process and the local ports
  of the cqlengine session's and the raw session's connections (what the test server saw as clients).

``TEST_ON_READY=raise`` makes the hook raise after it has logged, to show that it never kills a worker.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from cassandra.cqlengine import connection

from tests.apps.readings import Reading
from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from cassandra.cluster import Session

_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s: %(message)s"))
logging.getLogger("wsgi_cassandra").addHandler(_handler)
logging.getLogger("wsgi_cassandra").setLevel(logging.DEBUG)


HOOK_CALLS: list[dict[str, Any]] = []
SERVED = [0]  # requests served by this process


def on_ready(session: Session) -> None:
    HOOK_CALLS.append({"pid": os.getpid(), "served_before": SERVED[0], "keyspace": session.keyspace})
    print(f"on_ready ran in pid {os.getpid()}", file=sys.stderr, flush=True)
    if os.environ.get("TEST_ON_READY") == "raise":
        raise RuntimeError("the test hook fails on purpose")


def local_ports(session: Any) -> list[int]:
    ports = []
    for pool in session.get_pools():
        # cassandra-driver's pool holds a list; scylla-driver's a dict of one connection per shard.
        held = getattr(pool, "_connections", None) or []
        held = list(held.values()) if isinstance(held, dict) else list(held)
        for conn in [getattr(pool, "_connection", None), *held]:
            sock = getattr(conn, "_socket", None)
            if sock is not None:
                ports.append(sock.getsockname()[1])
    return ports


def _json(start_response: StartResponse, payload: object) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    SERVED[0] += 1
    path = environ.get("PATH_INFO", "/")
    query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    pid = os.getpid()
    if path == "/ping":
        return _json(start_response, {"pid": pid})
    if path == "/create":
        Reading.create(sensor=query["sensor"], seq=int(query["seq"]), value=query["value"])
        return _json(start_response, {"pid": pid})
    if path == "/read":
        readings = Reading.objects(sensor=query["sensor"])
        if "after" in query:
            readings = readings.filter(seq__gt=int(query["after"]))
        return _json(start_response, {"pid": pid, "readings": [dict(reading) for reading in readings]})
    if path == "/raw":
        row = environ["cassandra.session"].execute("SELECT sensor, seq, value FROM readings LIMIT 1").one()
        return _json(start_response, {"pid": pid, "type": type(row).__name__, "is_dict": isinstance(row, dict)})
    connected = application.holder.current()
    registered = connection.DEFAULT_CONNECTION in connection._connections  # WSGI_CASSANDRA_CQLENGINE=1
    return _json(
        start_response,
        {
            "pid": pid,
            "built_pid": None if connected is None else connected.pid,
            "hook_calls": HOOK_CALLS,
            "cqlengine_ports": local_ports(connection.get_connection().session.session) if registered else None,
            "raw_ports": local_ports(environ["cassandra.session"]),
        },
    )


application = CassandraMiddleware(app, on_ready=on_ready)
