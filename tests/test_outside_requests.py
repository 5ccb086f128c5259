"""``middleware.session()``: code in the worker but outside a request (a background thread, a scheduler, a
command of the app) gets the same per-process session as requests, with the same fork safety."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import webob

from tests.support.forks import in_fork
from wsgi_cassandra import CassandraMiddleware, SessionUnavailable

if TYPE_CHECKING:
    from cassandra.cluster import Session

    from tests.support.target import Target

pytestmark = pytest.mark.integration


def remember_session(environ: Any, start_response: Any) -> list[bytes]:
    environ["test.seen"].append(environ["cassandra.session"])
    start_response("200 OK", [])
    return [b""]


def request_session(middleware: CassandraMiddleware) -> Session:
    seen: list[Session] = []
    response = webob.Request.blank("/", environ={"test.seen": seen}).get_response(middleware)
    assert response.status_int == 200
    return seen[0]


def from_thread(middleware: CassandraMiddleware) -> Session:
    """``middleware.session()`` from a background thread, as a scheduler would call it."""
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(middleware.session(20)), name="test-background")
    thread.start()
    thread.join(30)
    assert got, "the background thread got no session"
    session: Session = got[0]
    return session


def test_a_background_thread_gets_the_requests_session_and_a_forked_child_its_own(
    cassandra: Target, keyspace: str
) -> None:
    middleware = CassandraMiddleware(
        remember_session, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs()
    )
    try:
        background = from_thread(middleware)  # before any request: connects, like a request would
        assert request_session(middleware) is background
        assert len(background.execute("SELECT id FROM items").all()) == 3
        parent_cluster = background.cluster

        def child() -> dict[str, Any]:
            in_thread = from_thread(middleware)
            in_request = request_session(middleware)
            report = {
                "same_in_child": in_thread is in_request,
                "not_the_parents": in_thread.cluster is not parent_cluster,
                "rows": len(in_thread.execute("SELECT id FROM items").all()),
                "built_here": middleware.holder.current() is not None,
            }
            middleware.shutdown()
            return report

        report = in_fork(child)
        assert report == {"same_in_child": True, "not_the_parents": True, "rows": 3, "built_here": True}
        assert middleware.session() is background, "the parent's session survived the child"
        assert not parent_cluster.is_shutdown
    finally:
        middleware.shutdown()


def test_no_session_raises_session_unavailable(cassandra: Target) -> None:
    from tests.support.servers import free_port

    middleware = CassandraMiddleware(
        remember_session,
        contact_points="127.0.0.1",
        port=free_port(),
        warmer="lazy",
        connect_timeout=1,
        environ={},
    )
    try:
        with pytest.raises(SessionUnavailable) as info:
            middleware.session(timeout=5)
        assert info.value.retry_after >= 1
    finally:
        middleware.shutdown()
