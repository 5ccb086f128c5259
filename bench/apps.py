"""The WSGI apps the server benches run, one per ``BENCH_VARIANT``; every one does one prepared read.

- ``library``: this library (settings from the ``CASSANDRA_*`` / ``WSGI_CASSANDRA_*`` environment).
- ``recipe_uwsgi``: the hand-written recipe -- a global session built in uWSGI's ``@postfork``.
- ``recipe_module``: a global session built when the module is imported (right under Gunicorn without
  ``--preload``, where the app is imported in each worker after the fork).
- ``per_request``: connect, prepare, read and shut down in every request.
- ``none``: no Cassandra at all (the HTTP floor).

ASGI (served by Gunicorn's Uvicorn worker): ``asgi_library`` (``CassandraASGIMiddleware`` and ``await
execute``), ``recipe_asgi`` (a global session built at import in each worker, ``session.execute`` run in
the loop's thread pool) and ``asgi_none`` (the HTTP floor).
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


async def asgi_respond(send: Any, name: str) -> None:
    body = json.dumps({"pid": os.getpid(), "name": name}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def asgi_read_with_library(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: the middleware answers it
    from wsgi_cassandra.asgi import execute

    result = await execute(scope["cassandra.session"], scope["cassandra.statements"]["get"], (7,))
    await asgi_respond(send, result.one().name)


async def asgi_read_with_global(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    import asyncio

    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, _global["session"].execute, _global["get"], (7,))
    await asgi_respond(send, result.one().name)


async def asgi_no_cassandra(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await asgi_respond(send, "item-7")


def build() -> Any:
    if VARIANT == "asgi_library":
        from wsgi_cassandra.asgi import CassandraASGIMiddleware

        return CassandraASGIMiddleware(asgi_read_with_library, statements={"get": READ_CQL})
    if VARIANT == "recipe_asgi":
        connect_global()
        return asgi_read_with_global
    if VARIANT == "asgi_none":
        return asgi_no_cassandra
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
