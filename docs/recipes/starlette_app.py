from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from wsgi_cassandra.asgi import CassandraASGIMiddleware, execute


async def items(request):
    session = request.scope["cassandra.session"]  # this worker's ready cassandra.cluster.Session
    rows = await execute(session, "SELECT id, name FROM items")  # the loop serves others meanwhile
    return JSONResponse({"items": [row.name for row in rows]})


app = CassandraASGIMiddleware(Starlette(routes=[Route("/items", items)]))  # uvicorn module:app
