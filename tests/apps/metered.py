"""The items app with a declared statement, for the metrics tests (``WSGI_CASSANDRA_METRICS_*`` from the
environment). ``GET /`` runs the declared statement ``items``; ``GET /ping`` touches nothing."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    payload: dict[str, object] = {"pid": os.getpid()}
    if environ.get("PATH_INFO") != "/ping":
        rows = environ["cassandra.session"].execute(environ["cassandra.statements"]["items"])
        payload["rows"] = len(list(rows))
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = CassandraMiddleware(app, statements={"items": "SELECT id, name FROM items"})
