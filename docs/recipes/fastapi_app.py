from cassandra.cluster import Session
from fastapi import Depends, FastAPI, Request

from wsgi_cassandra.asgi import CassandraASGIMiddleware, execute


def cassandra(request: Request) -> Session:
    return request.scope["cassandra.session"]  # this worker's ready cassandra.cluster.Session


app = FastAPI()
app.add_middleware(CassandraASGIMiddleware)  # `app` stays the FastAPI object: uvicorn module:app


@app.get("/items")
async def items(session: Session = Depends(cassandra)):
    rows = await execute(session, "SELECT id, name FROM items")
    return {"items": [row.name for row in rows]}
