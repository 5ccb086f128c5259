"""The 503 path of ``unavailable.py``, in-process: the WSGI contract while no session is ready."""

from __future__ import annotations

from typing import Any

import pytest

from wsgi_cassandra.exceptions import SessionUnavailable
from wsgi_cassandra.unavailable import serve_unavailable

Environ = dict[str, Any]


class ClosingBody:
    """An iterable body whose iteration uses the stand-in session, and which records ``close()``."""

    def __init__(self, environ: Environ) -> None:
        self.environ, self.closed = environ, False

    def __iter__(self) -> Any:
        self.environ["cassandra.session"].execute("SELECT 1")
        yield b"never"

    def close(self) -> None:
        self.closed = True


def test_body_is_closed_when_its_first_chunk_uses_the_stand_in() -> None:
    bodies: list[ClosingBody] = []

    def app(environ: Environ, start_response: Any) -> ClosingBody:
        start_response("200 OK", [("Content-Type", "text/plain")])
        bodies.append(ClosingBody(environ))
        return bodies[0]

    statuses: list[str] = []
    result = serve_unavailable(
        app,
        {},
        lambda status, headers, exc_info=None: statuses.append(status),
        SessionUnavailable("down"),
        session_key="cassandra.session",
        cluster_key="cassandra.cluster",
        statements_key="cassandra.statements",
        convert=True,
    )
    assert statuses == ["503 Service Unavailable"]
    assert b"".join(result).startswith(b"503")
    assert bodies[0].closed  # PEP 3333: the app's iterable is closed whatever happens


def test_stand_in_used_after_write_never_calls_start_response_again() -> None:
    """The legacy ``write()`` already sent a status: a 503 cannot follow it (PEP 3333 allows one call)."""

    def app(environ: Environ, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial ")
        environ["cassandra.session"].execute("SELECT 1")
        return [b"never"]

    calls: list[tuple[str, Any]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        calls.append((status, exc_info))
        return lambda data: None

    with pytest.raises(SessionUnavailable):
        serve_unavailable(
            app,
            {},
            start_response,
            SessionUnavailable("down"),
            session_key="cassandra.session",
            cluster_key="cassandra.cluster",
            statements_key="cassandra.statements",
            convert=True,
        )
    assert calls == [("200 OK", None)]


def serve(app: Any, *, convert: bool = True) -> tuple[list[str], bytes, Environ]:
    environ: Environ = {}
    statuses: list[str] = []
    body = serve_unavailable(
        app,
        environ,
        lambda status, headers, exc_info=None: statuses.append(status),
        SessionUnavailable("down", retry_after=3),
        session_key="cassandra.session",
        cluster_key="cassandra.cluster",
        statements_key="cassandra.statements",
        convert=convert,
    )
    return statuses, b"".join(body), environ


def uses_session(environ: Environ, start_response: Any) -> list[bytes]:
    environ["cassandra.session"].execute("SELECT 1")
    return [b"never"]


def uses_statement(environ: Environ, start_response: Any) -> list[bytes]:
    environ["cassandra.statements"]["get_item"]
    return [b"never"]


def own_500(environ: Environ, start_response: Any) -> list[bytes]:
    """A framework catching SessionUnavailable and answering its own 500."""
    try:
        environ["cassandra.statements"].get("get_item")
    except SessionUnavailable:
        start_response("500 Internal Server Error", [])
        return [b"framework error page"]
    return [b"never"]


def no_cassandra(environ: Environ, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"about page"]


@pytest.mark.parametrize(
    ("app", "status", "body"),
    [
        pytest.param(uses_session, "503 Service Unavailable", b"503 Service Unavailable: down\n", id="session"),
        pytest.param(uses_statement, "503 Service Unavailable", b"503 Service Unavailable: down\n", id="statement"),
        pytest.param(own_500, "503 Service Unavailable", b"503 Service Unavailable: down\n", id="framework-500"),
        pytest.param(no_cassandra, "200 OK", b"about page", id="route-without-cassandra"),
    ],
)
def test_what_a_request_sees_while_no_session_is_ready(app: Any, status: str, body: bytes) -> None:
    statuses, sent, environ = serve(app)
    assert statuses == [status]
    assert sent == body
    assert environ["cassandra.cluster"] is None
    assert not environ["cassandra.session"]
    assert not environ["cassandra.statements"]


def test_on_unavailable_app_lets_the_exception_reach_the_app_s_caller() -> None:
    with pytest.raises(SessionUnavailable, match="down") as info:
        serve(uses_statement, convert=False)
    assert info.value.retry_after == 3
