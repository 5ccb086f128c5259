"""The ASGI twin of :mod:`tests.apps.items`: a Starlette app served by Uvicorn and Gunicorn's Uvicorn worker.

Settings come from the environment (``CASSANDRA_CONTACT_POINTS``, ``CASSANDRA_KEYSPACE``...).

- ``GET /`` reads the ``items`` table with ``await execute(...)`` and says which process answered and
  which built its session (the same JSON as ``tests.apps.items``, so the shared checks apply);
- ``GET /item/{id}`` reads one row through a declared (prepared) statement;
- ``GET /ping`` never touches Cassandra and says how many ``execute`` awaits are in flight in this worker;
- ``GET /fanout?n=100`` awaits ``n`` queries at once (``SELECT name FROM items WHERE id = ...``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from wsgi_cassandra.asgi import CassandraASGIMiddleware, execute

if TYPE_CHECKING:
    from starlette.requests import Request

_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s: %(message)s"))
logging.getLogger("wsgi_cassandra").addHandler(_handler)
logging.getLogger("wsgi_cassandra").setLevel(logging.DEBUG)

LOADED_IN = os.getpid()
in_flight = 0


async def rows(request: Request) -> JSONResponse:
    result = await execute(request.scope["cassandra.session"], "SELECT id, name FROM items")
    connected = application.holder.current()
    return JSONResponse(
        {
            "pid": os.getpid(),
            "built_pid": None if connected is None else connected.pid,
            "loaded_in": LOADED_IN,
            "warmer": application.warmer.name,
            "rows": sorted([row.id, row.name] for row in result.current_rows),
        }
    )


async def item(request: Request) -> JSONResponse:
    statement = request.scope["cassandra.statements"]["by_id"]
    result = await execute(request.scope["cassandra.session"], statement, (int(request.path_params["id"]),))
    return JSONResponse({"pid": os.getpid(), "name": result.one().name})


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid(), "in_flight": in_flight})


async def fanout(request: Request) -> JSONResponse:
    session = request.scope["cassandra.session"]

    async def one(key: int) -> Any:
        global in_flight
        in_flight += 1
        try:
            return await execute(session, "SELECT name FROM items WHERE id = %s", (key,), timeout=60)
        finally:
            in_flight -= 1

    results = await asyncio.gather(*(one(i % 3) for i in range(int(request.query_params.get("n", "100")))))
    return JSONResponse({"pid": os.getpid(), "names": sorted(result.one().name for result in results)})


app = Starlette(
    routes=[
        Route("/", rows),
        Route("/item/{id:int}", item),
        Route("/ping", ping),
        Route("/fanout", fanout),
    ]
)
application = CassandraASGIMiddleware(app, statements={"by_id": "SELECT id, name FROM items WHERE id = ?"})
