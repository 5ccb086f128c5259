"""WebOb helpers: the worker's session from a ``webob.Request`` (WebOb apps, Pyramid, webapp-style code).

The middleware puts the session in the WSGI environ; these read it back with an error that says what is
wrong when the middleware is missing, instead of a bare ``KeyError``::

    from webob.dec import wsgify
    from wsgi_cassandra import CassandraMiddleware
    from wsgi_cassandra.webob import Request

    @wsgify(RequestClass=Request)
    def app(request):
        return "\\n".join(row.name for row in request.cassandra.execute("SELECT name FROM items"))

    application = CassandraMiddleware(app)

Pyramid: ``config.add_request_method(cassandra_session, "cassandra", reify=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import webob

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement

__all__ = ["Request", "cassandra_session", "cassandra_statements"]


def cassandra_session(request: webob.Request, key: str = "cassandra.session") -> Session:
    """This worker's ``Session`` (or, while none is ready, the stand-in whose use answers 503)."""
    try:
        session: Session = request.environ[key]
    except KeyError:
        raise _missing(key) from None
    return session


def cassandra_statements(request: webob.Request, key: str = "cassandra.statements") -> Mapping[str, PreparedStatement]:
    """The prepared statements declared with ``CassandraMiddleware(statements=...)``, by name."""
    try:
        statements: Mapping[str, PreparedStatement] = request.environ[key]
    except KeyError:
        raise _missing(key) from None
    return statements


def _missing(key: str) -> ConfigurationError:
    return ConfigurationError(
        f"environ[{key!r}] is not set: wrap the WSGI app with CassandraMiddleware (or pass the environ_key it uses)"
    )


class Request(webob.Request):  # type: ignore[misc]  # webob ships no type hints
    """A ``webob.Request`` with ``.cassandra`` (the session) and ``.cassandra_statements``."""

    @property
    def cassandra(self) -> Session:
        return cassandra_session(self)

    @property
    def cassandra_statements(self) -> Mapping[str, PreparedStatement]:
        return cassandra_statements(self)
