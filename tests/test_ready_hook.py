"""The ``on_ready`` hook: called with the worker's Session once it is ready, before the first request it
serves; what it raises is logged and never costs the worker its session. (Under real Gunicorn and uWSGI
workers: tests/test_cqlengine.py.)"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
import webob

from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from tests.support.target import Target

pytestmark = pytest.mark.integration


def test_called_once_with_the_requests_session_before_it_is_served(cassandra: Target, keyspace: str) -> None:
    calls: list[tuple[Session, int]] = []
    served: list[Any] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        served.append(environ["cassandra.session"])
        start_response("200 OK", [])
        return [b""]

    def on_ready(session: Session) -> None:
        calls.append((session, len(served)))
        session.execute("SELECT id FROM items")  # the session is usable from the hook

    middleware = CassandraMiddleware(
        app, keyspace=keyspace, warmer="lazy", on_ready=on_ready, **cassandra.middleware_kwargs()
    )
    try:
        for _ in range(5):
            assert webob.Request.blank("/").get_response(middleware).status_int == 200
    finally:
        middleware.shutdown()
    assert len(calls) == 1
    session, served_before = calls[0]
    assert served_before == 0, "before the first request"
    assert all(each is session for each in served), "the session requests get"


def test_a_raising_hook_is_logged_and_the_session_still_served(
    cassandra: Target, keyspace: str, caplog: pytest.LogCaptureFixture
) -> None:
    def on_ready(session: Session) -> None:
        raise RuntimeError("boom")

    def app(environ: Any, start_response: Any) -> list[bytes]:
        rows = environ["cassandra.session"].execute("SELECT id FROM items")
        start_response("200 OK", [])
        return [str(len(list(rows))).encode()]

    middleware = CassandraMiddleware(
        app, keyspace=keyspace, warmer="lazy", on_ready=on_ready, **cassandra.middleware_kwargs()
    )
    try:
        with caplog.at_level(logging.ERROR, logger="wsgi_cassandra"):
            response = webob.Request.blank("/").get_response(middleware)
        status = middleware.holder.status()
    finally:
        middleware.shutdown()
    assert (response.status_int, response.text) == (200, "3")
    assert "ready" in status["warmup_ms"], "the hook's time is its own phase"
    [record] = [r for r in caplog.records if "on_ready hook" in r.getMessage()]
    assert "the session is used anyway" in record.getMessage()
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])
