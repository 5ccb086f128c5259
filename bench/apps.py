"""The WSGI apps the server benches run, one per ``BENCH_VARIANT``; every one does one prepared read.

- ``library``: this library (settings from the ``CASSANDRA_*`` / ``WSGI_CASSANDRA_*`` environment).
- ``recipe_uwsgi``: the hand-written recipe -- a global session built in uWSGI's ``@postfork``.
- ``recipe_module``: a global session built when the module is imported (right under Gunicorn without
  ``--preload``, where the app is imported in each worker after the fork).
- ``per_request``: connect, prepare, read and shut down in every request.
- ``none``: no Cassandra at all (the HTTP floor).
"""

from __future__ import annotations

import json
import os
from typing import Any

KEYSPACE = "wsgi_cassandra_bench"
READ_CQL = f"SELECT id, name FROM {KEYSPACE}.items WHERE id = ?"
VARIANT = os.environ.get("BENCH_VARIANT", "library")


def respond(start_response: Any, name: str) -> list[bytes]:
    body = json.dumps({"pid": os.getpid(), "name": name}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def new_cluster() -> Any:
    """What a hand-written recipe builds: a driver Cluster from the same environment the library reads."""
    from cassandra.cluster import Cluster

    contact_points = os.environ.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1").split(",")
    options: dict[str, Any] = {"port": int(os.environ.get("CASSANDRA_PORT", "9042"))}
    if os.environ.get("CASSANDRA_PROTOCOL_VERSION"):
        options["protocol_version"] = int(os.environ["CASSANDRA_PROTOCOL_VERSION"])
    return Cluster(contact_points, **options)


def read_with_library(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    row = environ["cassandra.session"].execute(environ["cassandra.statements"]["get"], (7,)).one()
    return respond(start_response, row.name)


_global: dict[str, Any] = {}


def connect_global() -> None:
    cluster = new_cluster()
    session = cluster.connect()
    _global.update(cluster=cluster, session=session, get=session.prepare(READ_CQL))


def read_with_global(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    row = _global["session"].execute(_global["get"], (7,)).one()
    return respond(start_response, row.name)


def read_per_request(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    cluster = new_cluster()
    try:
        session = cluster.connect()
        row = session.execute(session.prepare(READ_CQL), (7,)).one()
    finally:
        cluster.shutdown()
    return respond(start_response, row.name)


def no_cassandra(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    return respond(start_response, "item-7")


def build() -> Any:
    if VARIANT == "library":
        from wsgi_cassandra import CassandraMiddleware

        return CassandraMiddleware(read_with_library, statements={"get": READ_CQL})
    if VARIANT == "recipe_uwsgi":
        import uwsgidecorators  # type: ignore[import-not-found]

        uwsgidecorators.postfork(connect_global)
        return read_with_global
    if VARIANT == "recipe_module":
        connect_global()
        return read_with_global
    if VARIANT == "per_request":
        return read_per_request
    if VARIANT == "none":
        return no_cassandra
    raise SystemExit(f"unknown BENCH_VARIANT {VARIANT!r}")


application = build()
