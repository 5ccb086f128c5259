"""A test app: which process answered, which process built its session, and the rows it read.

Served by uWSGI/Gunicorn in the integration tests. Settings come from the environment
(``CASSANDRA_CONTACT_POINTS``, ``CASSANDRA_PORT``, ``CASSANDRA_KEYSPACE``, ``WSGI_CASSANDRA_WARMER``...).
``GET /`` reads the ``items`` table; ``GET /ping`` answers without touching the session;
``GET /status`` returns the holder's status.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Our log lines ("session ready", "shut down") go to the server's log, where tests read them.
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s: %(message)s"))
logging.getLogger("wsgi_cassandra").addHandler(_handler)
logging.getLogger("wsgi_cassandra").setLevel(logging.DEBUG)

LOADED_IN = os.getpid()


def _json(start_response: StartResponse, payload: object, status: str = "200 OK") -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/ping":
        return _json(start_response, {"pid": os.getpid()})
    if path == "/status":
        return _json(start_response, application.holder.status())
    session = environ["cassandra.session"]
    rows = [[row.id, row.name] for row in session.execute("SELECT id, name FROM items")]
    connected = application.holder.current()
    return _json(
        start_response,
        {
            "pid": os.getpid(),
            "built_pid": None if connected is None else connected.pid,
            "loaded_in": LOADED_IN,
            "warmer": application.warmer.name,
            "chosen": getattr(application.warmer, "chosen", None),
            "rows": sorted(rows),
            "connection_class": None if connected is None else connected.cluster.connection_class.__name__,
        },
    )


application = CassandraMiddleware(app)
