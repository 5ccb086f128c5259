"""wsgi-cassandra: a ready, fork-safe Cassandra session in every WSGI worker.

::

    from wsgi_cassandra import CassandraMiddleware
    application = CassandraMiddleware(app)     # environ["cassandra.session"] in every request

Importing this package starts no thread, opens no socket and imports neither ``uwsgi`` nor ``gunicorn``.
"""

from __future__ import annotations

from .exceptions import ConfigurationError, SessionUnavailable, WarmerUnavailable, WsgiCassandraError
from .holder import SessionHolder
from .middleware import CassandraMiddleware
from .prepare import StatementError, StatementRegistry

__all__ = [
    "CassandraMiddleware",
    "ConfigurationError",
    "SessionHolder",
    "SessionUnavailable",
    "StatementError",
    "StatementRegistry",
    "WarmerUnavailable",
    "WsgiCassandraError",
]
