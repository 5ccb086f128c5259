"""A user's app as written from the README: no logging configured at all.

``GET /`` reads the ``items`` table through the session in the environ.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    rows = sorted([row.id, row.name] for row in environ["cassandra.session"].execute("SELECT id, name FROM items"))
    body = json.dumps({"pid": os.getpid(), "rows": rows}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


application = CassandraMiddleware(app)
