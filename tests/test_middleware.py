"""CassandraMiddleware with the real driver over real sockets (the CQL test server, or a real cluster)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import call, free_port
from tests.support.forks import in_fork
from tests.support.wait import stays
from wsgi_cassandra import CassandraMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.target import Target

Environ = dict[str, Any]


def read_items(environ: Environ, start_response: Any) -> list[bytes]:
    """A bare WSGI app reading rows through the session the middleware put in its environ."""
    session = environ["cassandra.session"]
    rows = session.execute("SELECT id, name FROM items")
    body = {
        "pid": os.getpid(),
        "session": id(session),
        "cluster_is_sessions": environ["cassandra.cluster"] is session.cluster,
        "items": sorted([row.id, row.name] for row in rows),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


@pytest.fixture
def middleware(cassandra: Target, keyspace: str) -> Iterator[CassandraMiddleware]:
    app = CassandraMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    yield app
    assert app.shutdown(timeout=10)


EXPECTED_ITEMS = [[0, "item-0"], [1, "item-1"], [2, "item-2"]]


def test_app_reads_rows_through_environ_session(middleware: CassandraMiddleware) -> None:
    status, _, body = call(middleware)
    assert status == "200 OK"
    payload = json.loads(body)
    assert payload["items"] == EXPECTED_ITEMS
    assert payload["cluster_is_sessions"] is True


def test_two_requests_in_one_process_share_one_session(middleware: CassandraMiddleware) -> None:
    first = json.loads(call(middleware)[2])
    second = json.loads(call(middleware)[2])
    assert first["session"] == second["session"]
    connected = middleware.holder.current()
    assert connected is not None
    assert connected.pid == os.getpid()


def test_lazy_warmer_connects_on_first_request_only(cassandra: Target, keyspace: str) -> None:
    server = cassandra.embedded
    before = server.stats.startups
    app = CassandraMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    try:
        assert app.holder.state.thread is None  # nothing at construction: no connect started...
        assert stays(lambda: server.stats.startups == before, seconds=0.2)  # ...nor any handshake
        assert call(app)[0] == "200 OK"
        assert server.stats.startups > before
    finally:
        app.shutdown(timeout=10)


def test_forked_child_builds_its_own_session_and_parent_keeps_working(middleware: CassandraMiddleware) -> None:
    assert json.loads(call(middleware)[2])["items"] == EXPECTED_ITEMS  # the parent is warm before the fork
    parent = middleware.holder.current()
    assert parent is not None

    def child() -> dict[str, Any]:
        inherited_visible = middleware.holder.current() is not None
        payload = json.loads(call(middleware)[2])
        connected = middleware.holder.current()
        report = {
            "inherited_visible": inherited_visible,
            "pid": os.getpid(),
            "served_by": payload["pid"],
            "built_in": connected.pid if connected else None,
            "same_session_object": connected is not None and connected.session is parent.session,
            "items": payload["items"],
        }
        middleware.shutdown(timeout=10)
        return report

    report = in_fork(child)
    assert report["inherited_visible"] is False  # the parent's objects are never handed out in the child
    assert report["pid"] != os.getpid()
    assert report["served_by"] == report["pid"]
    assert report["built_in"] == report["pid"]
    assert report["same_session_object"] is False
    assert report["items"] == EXPECTED_ITEMS
    # The parent's session was neither used nor shut down by the child.
    assert middleware.holder.current() is parent
    assert json.loads(call(middleware)[2])["items"] == EXPECTED_ITEMS


def test_fifty_cold_threads_cause_exactly_one_connect(cassandra: Target, keyspace: str) -> None:
    server = cassandra.embedded
    # What one connect costs in handshakes with these settings (control connection + one pool per host).
    baseline_app = CassandraMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    before = server.stats.startups
    assert call(baseline_app)[0] == "200 OK"
    one_connect = server.stats.startups - before
    baseline_app.shutdown(timeout=10)
    assert one_connect >= 1

    app = CassandraMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    barrier = threading.Barrier(50, timeout=30)
    results: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        status, _, body = call(app)
        with lock:
            results.append((status, json.loads(body)["session"]))

    before = server.stats.startups
    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert len(results) == 50
        assert {status for status, _ in results} == {"200 OK"}
        assert len({session for _, session in results}) == 1
        assert stays(lambda: server.stats.startups - before == one_connect, seconds=0.3)  # no stray connect
    finally:
        app.shutdown(timeout=10)


def test_shutdown_closes_every_connection(cassandra: Target, keyspace: str) -> None:
    server = cassandra.embedded
    app = CassandraMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    assert call(app)[0] == "200 OK"
    assert server.stats.connections_open >= 1
    assert app.shutdown(timeout=10)
    assert server.stats.wait_for("connections_open", 0, timeout=10) == 0


def mixed_app(environ: Environ, start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/static":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"no cassandra needed"]
    rows = environ["cassandra.session"].execute("SELECT now() FROM system.local")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(list(rows)).encode()]


def framework_like_app(environ: Environ, start_response: Any) -> list[bytes]:
    """Catches every exception and answers 500 itself, like Flask or web.py do."""
    try:
        return mixed_app(environ, start_response)
    except Exception:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"internal error"]


@pytest.mark.integration
@pytest.mark.parametrize("app", [pytest.param(mixed_app, id="bare"), pytest.param(framework_like_app, id="framework")])
def test_unreachable_cassandra_gives_fast_503_and_other_routes_work(app: Any) -> None:
    port = free_port()  # nothing listens there: connections are refused at once
    middleware = CassandraMiddleware(
        app, contact_points=f"127.0.0.1:{port}", warmer="lazy", warm_timeout=5, connect_timeout=10, environ={}
    )
    try:
        status, headers, body = call(middleware)  # first request waits for the first attempt (bounded)
        assert status.startswith("503")
        assert int(headers["Retry-After"]) >= 1
        assert b"no Cassandra host reachable" in body
        assert f"127.0.0.1:{port}".encode() in body
        started = time.perf_counter()
        status, headers, _ = call(middleware)
        assert status.startswith("503")
        assert time.perf_counter() - started < 5.0  # no connect timeout (10 s) paid per request
        assert call(middleware, "/static")[0] == "200 OK"
    finally:
        middleware.shutdown(timeout=5)


def test_on_unavailable_app_lets_the_app_handle_it() -> None:
    from wsgi_cassandra import SessionUnavailable

    def app(environ: Environ, start_response: Any) -> list[bytes]:
        try:
            environ["cassandra.session"].execute("SELECT 1")
        except SessionUnavailable as exc:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"degraded: retry in {exc.retry_after}s".encode()]
        raise AssertionError("the stand-in session must raise")

    middleware = CassandraMiddleware(
        app, contact_points=f"127.0.0.1:{free_port()}", warmer="lazy", warm_timeout=5, on_unavailable="app", environ={}
    )
    try:
        status, _, body = call(middleware)
        assert status == "200 OK"
        assert body.startswith(b"degraded: retry in")
    finally:
        middleware.shutdown(timeout=5)


def test_a_request_that_connects_is_served_without_reentering_the_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first request connects and is served in the same call: the health check and pid check run once."""
    from wsgi_cassandra.connect import Connected
    from wsgi_cassandra.holder import SessionHolder

    class Cluster:
        def register_listener(self, listener: Any) -> None:
            pass

        def shutdown(self) -> None:
            pass

    session = object()
    middleware = CassandraMiddleware(
        lambda environ, start_response: [repr(environ["cassandra.session"] is session).encode()],
        warmer="lazy",
        health_path="/healthz",
        environ={},
    )
    middleware.holder = SessionHolder(lambda pid: Connected(cluster=Cluster(), session=session, pid=pid))  # type: ignore[arg-type]
    calls: list[str] = []
    original = CassandraMiddleware.__call__

    def counting(self: CassandraMiddleware, environ: Any, start_response: Any) -> Any:
        calls.append(environ["PATH_INFO"])
        return original(self, environ, start_response)

    monkeypatch.setattr(CassandraMiddleware, "__call__", counting)
    try:
        assert b"".join(middleware({"PATH_INFO": "/item"}, lambda *args: None)) == b"True"
        assert calls == ["/item"]
    finally:
        middleware.shutdown()
