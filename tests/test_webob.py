"""wsgi_cassandra.webob: the session and statements from a webob.Request, and a clear error without the middleware."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pytest

from tests.support.clients import free_port
from wsgi_cassandra import CassandraMiddleware, ConfigurationError

with warnings.catch_warnings():  # WebOb 1.8 imports the cgi module, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob
    from webob.dec import wsgify

    from wsgi_cassandra.webob import Request, cassandra_session, cassandra_statements

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.target import Target


@wsgify(RequestClass=Request)
def items_app(request: Request) -> webob.Response:
    rows = request.cassandra.execute(request.cassandra_statements["names"])
    return webob.Response(text="\n".join(sorted(row.name for row in rows)), content_type="text/plain")


@pytest.fixture
def middleware(cassandra: Target, keyspace: str) -> Iterator[CassandraMiddleware]:
    app = CassandraMiddleware(
        items_app,
        keyspace=keyspace,
        warmer="lazy",
        statements={"names": "SELECT name FROM items"},
        **cassandra.middleware_kwargs(),
    )
    yield app
    app.shutdown()


def test_request_is_a_webob_request() -> None:
    assert issubclass(Request, webob.Request)


def test_reads_what_the_middleware_put_in_the_environ() -> None:
    session, statements = object(), {"names": object()}
    request = Request.blank("/", environ={"cassandra.session": session, "cassandra.statements": statements})

    assert request.cassandra is session
    assert request.cassandra_statements is statements
    assert cassandra_session(webob.Request(request.environ)) is session
    assert cassandra_statements(webob.Request(request.environ)) is statements


def test_custom_environ_key() -> None:
    session = object()

    assert cassandra_session(webob.Request.blank("/", environ={"db.session": session}), key="db.session") is session


@pytest.mark.parametrize(
    ("read", "key"),
    [
        pytest.param(lambda r: r.cassandra, "cassandra.session", id="session"),
        pytest.param(lambda r: r.cassandra_statements, "cassandra.statements", id="statements"),
    ],
)
def test_without_the_middleware_the_error_says_so(read: object, key: str) -> None:
    request = Request.blank("/")

    with pytest.raises(ConfigurationError, match=rf"environ\['{key}'\] is not set: wrap the WSGI app with Cassandra"):
        read(request)  # type: ignore[operator]


@pytest.mark.integration
def test_rows_through_the_real_driver(middleware: CassandraMiddleware) -> None:
    response = webob.Request.blank("/").get_response(middleware)

    assert response.status_int == 200
    assert response.text.splitlines() == ["item-0", "item-1", "item-2"]


@pytest.mark.integration
def test_while_cassandra_is_unreachable_the_app_answers_503() -> None:
    port = free_port()  # nothing listens there
    app = CassandraMiddleware(
        items_app,
        warmer="lazy",
        environ={"CASSANDRA_CONTACT_POINTS": "127.0.0.1", "CASSANDRA_PORT": str(port)},
        connect_timeout=1,
        warm_timeout=3,
    )
    try:
        response = webob.Request.blank("/").get_response(app)
    finally:
        app.shutdown()

    assert response.status_int == 503
    assert "Retry-After" in response.headers
