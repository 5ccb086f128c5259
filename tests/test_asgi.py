"""ASGI, as really run: a Starlette app under ``gunicorn -k uvicorn_worker.UvicornWorker`` and ``uvicorn --workers``.

The server tests start real servers on 127.0.0.1 against the CQL test server and assert on what it saw:
handshakes for exactly two sessions before any HTTP request, none more while 200 requests are served,
each worker's connections its own (the sockets in its ``/proc/PID/fd``), answers from the session built
in the pid that served them, every connection closed after the stop. Then: ``503`` with ``Retry-After``
while Cassandra is down and recovery without a restart; no lifespan (the first request connects); and
the awaitable bridge, 100 ``execute`` awaits in flight while the same loop answers another route.
The in-process tests drive the middleware's lifespan and :func:`execute` with the real driver.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.asgi import Lifespan, http_call
from tests.support.clients import Reply, get
from tests.support.forks import in_fork
from tests.support.servers import (
    READY_LINE,
    ROWS,
    assert_warm_workers,
    get_many,
    handshakes_per_session,
    ready_pids,
    running,
    stop_and_check_closed,
)
from tests.support.wait import eventually
from wsgi_cassandra.asgi import CassandraASGIMiddleware, execute
from wsgi_cassandra.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

APP = "tests.apps.asgi_items:application"
UVICORN_WORKER = ["--workers", "2", "--worker-class", "uvicorn_worker.UvicornWorker"]


def client_ports(pid: int, server_port: int) -> set[int]:
    """Local ports of process ``pid``'s TCP connections to ``server_port`` (its fds, /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes and state == "01" and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        pytest.param("gunicorn", UVICORN_WORKER, id="gunicorn-uvicorn-worker"),
        pytest.param("gunicorn", [*UVICORN_WORKER, "--preload"], id="gunicorn-uvicorn-worker-preload"),
        pytest.param("uvicorn", ["--workers", "2"], id="uvicorn-workers"),
    ],
)
def test_each_worker_reads_through_its_own_session(
    cassandra: Target, keyspace: str, kind: str, args: list[str]
) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    stats = cassandra.embedded.stats
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running(kind, APP, *args, env=env) as server:
        served = assert_warm_workers(server, cassandra, per_session, workers=2)
        assert len(served) == 2
        if "--preload" in args:
            assert server.get("/").json()["loaded_in"] == server.pid, "the app was loaded in the arbiter"
        # Each worker's connections are its own: the sockets it holds, and those the test server saw.
        seen = {port for _, port in stats.client_addresses}
        owned = {pid: client_ports(pid, cassandra.port) for pid in served}
        first, second = owned.values()
        assert first, "the first worker holds connections of its own"
        assert second, "the second worker holds connections of its own"
        assert not first & second
        assert first | second <= seen
        assert len(first) + len(second) == stats.connections_open, "every open connection is one worker's"
        # A declared statement, prepared by each worker during its warm-up.
        names = {reply.json()["name"] for reply in get_many(server, "/item/1", 20)}
        assert names == {"item-1"}
        assert stats.startups == 2 * per_session, "no request paid for a connect"
        stop_and_check_closed(server, cassandra)
    assert server.log().count("Cassandra cluster shut down") >= 2, server.log()


def test_cassandra_down_503_then_recovery(cassandra: Target, keyspace: str) -> None:
    faults = cassandra.embedded.faults
    faults.refuse_connections()
    env = cassandra.subprocess_env(
        CASSANDRA_KEYSPACE=keyspace,
        CASSANDRA_CONNECT_TIMEOUT="1",
        WSGI_CASSANDRA_WARM_TIMEOUT="1",
        WSGI_CASSANDRA_RETRY_MAX="1",
        WSGI_CASSANDRA_HEALTH_PATH="/healthz",
    )
    with running("uvicorn", APP, "--workers", "2", env=env) as server:
        assert server.wait_http("/ping").status == 200, "workers boot without Cassandra"
        down = server.get("/")
        assert down.status == 503, down.body
        assert int(down.headers["Retry-After"]) >= 1
        assert b"Cassandra is unavailable" in down.body
        health = server.get("/healthz")
        assert health.status == 503
        assert health.json()["state"] == "unavailable"
        assert "Exception in ASGI application" not in server.log(), "the 503 is an answer, not a crash"

        faults.accept_connections()
        server.wait_log(READY_LINE, count=2, timeout=30)  # each worker, by itself, without a restart
        replies = get_many(server, "/", 40)
        assert {reply.status for reply in replies} == {200}
        assert all(reply.json()["rows"] == ROWS for reply in replies)
        assert {reply.json()["pid"] for reply in replies} <= set(ready_pids(server.log()))
        assert server.get("/healthz").json()["state"] == "ready"
        stop_and_check_closed(server, cassandra)


def test_without_lifespan_the_first_request_connects(cassandra: Target, keyspace: str) -> None:
    stats = cassandra.embedded.stats
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("uvicorn", APP, "--lifespan", "off", env=env) as server:
        server.wait_log(r"Uvicorn running on")
        assert stats.startups == 0, "no lifespan: nothing connects before the first request"
        answer = server.get("/").json()
        assert answer["rows"] == ROWS
        assert answer["built_pid"] == answer["pid"] == server.pid
        assert stats.startups == per_session
        stop_and_check_closed(server, cassandra)


def test_loop_keeps_serving_during_100_awaits(cassandra: Target, keyspace: str) -> None:
    """100 ``execute`` awaits in flight at once in one worker; ``/ping`` answers meanwhile and says so.

    The test server holds the fan-out's answers back (a delay fault on that query only); ``/ping``
    reporting 100 awaits in flight is the observable fact. A machine so busy that the ping came after
    the delay is retried with a longer one (bounded)."""
    faults = cassandra.embedded.faults
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("uvicorn", APP, env=env) as server:
        server.wait_log(READY_LINE, timeout=20)
        server.wait_http("/ping")  # uvicorn listens once the lifespan start-up (the warm-up) is done
        pings: list[Reply] = []
        for delay in (2.0, 5.0, 10.0):
            rule = faults.delay(delay, query=r"^SELECT name FROM items WHERE id")
            with ThreadPoolExecutor(1) as pool:
                request = pool.submit(get, server.port, "/fanout?n=100", timeout=60)
                try:
                    ping = eventually(
                        lambda: (reply := server.get("/ping")).json()["in_flight"] == 100 and reply,
                        timeout=delay,
                        step=0.02,
                    )
                finally:
                    fanned = request.result(timeout=60)
                    faults.remove(rule)
            assert fanned.status == 200, fanned.body
            assert sorted(fanned.json()["names"]) == sorted(f"item-{i % 3}" for i in range(100))
            if ping:
                pings.append(ping)
                break
        assert pings, "/ping never answered while the 100 awaits were in flight"
        assert pings[0].json()["pid"] == fanned.json()["pid"], "the same worker, so the same event loop"
        assert server.get("/ping").json()["in_flight"] == 0
        stop_and_check_closed(server, cassandra)


# --- in process: the lifespan protocol and execute(), with the real driver ---------------------------


async def no_lifespan_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError(f"this app serves only HTTP, not {scope['type']}")


class LifespanApp:
    """Speaks lifespan, and records whether the session was ready when its own start-up ran."""

    def __init__(self) -> None:
        self.middleware: CassandraASGIMiddleware | None = None
        self.ready_at_startup: bool | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        assert self.middleware is not None
        self.ready_at_startup = self.middleware.holder.current() is not None
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})


@pytest.mark.parametrize("speaks_lifespan", [False, True], ids=["app-without-lifespan", "app-with-lifespan"])
def test_lifespan_warms_and_closes(cassandra: Target, keyspace: str, speaks_lifespan: bool) -> None:
    stats = cassandra.embedded.stats
    per_session = handshakes_per_session(cassandra, keyspace)
    app = LifespanApp() if speaks_lifespan else no_lifespan_app
    middleware = CassandraASGIMiddleware(app, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    if isinstance(app, LifespanApp):
        app.middleware = middleware

    async def serve() -> None:
        lifespan = Lifespan(middleware)
        await lifespan.start()
        assert middleware.holder.current() is not None, "warm when start-up completes"
        assert stats.startups == per_session
        await lifespan.stop()
        assert middleware.holder.current() is None

    try:
        asyncio.run(serve())
    finally:
        middleware.holder.shutdown()
    if isinstance(app, LifespanApp):
        assert app.ready_at_startup, "the app's own start-up already finds the session"
    stats.wait_for("connections_open", 0, timeout=5)


def test_execute_pages_errors_and_cancellation(cassandra: Target, keyspace: str) -> None:
    from cassandra import InvalidRequest
    from cassandra.query import SimpleStatement

    faults = cassandra.embedded.faults
    errors: list[dict[str, Any]] = []

    async def run(session: Any) -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
        statement = SimpleStatement("SELECT id, name FROM items", fetch_size=2)
        first = await execute(session, statement)
        assert len(first.current_rows) == 2, "the first page, as the driver returns it"
        assert first.has_more_pages
        rest = await execute(session, statement, paging_state=first.paging_state)
        assert not rest.has_more_pages
        assert sorted(row.name for row in [*first.current_rows, *rest.current_rows]) == [
            "item-0",
            "item-1",
            "item-2",
        ]
        with pytest.raises(InvalidRequest):
            await execute(session, "SELECT id FROM no_such_table")

        # Cancelled while the test server holds the answer back; the late answer arrives before the
        # next (equally delayed) answer on the same connection, and must reach no finished future.
        rule = faults.delay(2.0, query=r"WHERE id = 2")
        stats = cassandra.embedded.stats
        sent_before = stats.requests.get("QUERY", 0)
        held = asyncio.create_task(execute(session, "SELECT name FROM items WHERE id = %s", (2,)))
        for _ in range(500):
            if stats.requests.get("QUERY", 0) > sent_before:
                break
            await asyncio.sleep(0.01)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        after = await execute(session, "SELECT name FROM items WHERE id = %s", (2,))
        faults.remove(rule)
        assert after.one().name == "item-2"

    with cassandra.cluster() as cluster:
        asyncio.run(run(cluster.connect(keyspace)))
    assert errors == [], "a late or cancelled answer never reaches a finished future"


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        pytest.param({"environ_key": "session"}, "scope_key", id="wsgi-key-name"),
        pytest.param({"port": "not-a-port"}, "port", id="bad-setting"),
        pytest.param({"on_unavailable": "500"}, "on_unavailable", id="bad-on-unavailable"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        CassandraASGIMiddleware(no_lifespan_app, warmer="lazy", environ={}, **kwargs)


# --- in process: the request path (a forked child, every host gone mid-request) ---------------------


async def read_items(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app reading rows with ``execute`` through the session in its scope."""
    session = scope["cassandra.session"]
    result = await execute(session, "SELECT id, name FROM items")
    body = json.dumps({"pid": os.getpid(), "session": id(session), "rows": sorted([r.id, r.name] for r in result)})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})


def test_forked_child_builds_its_own_session(cassandra: Target, keyspace: str) -> None:
    middleware = CassandraASGIMiddleware(read_items, keyspace=keyspace, warmer="lazy", **cassandra.middleware_kwargs())
    try:
        status, _, body = http_call(middleware)  # no lifespan: the first request connects, off the loop
        assert status == 200
        assert json.loads(body)["rows"] == ROWS
        parent = middleware.holder.current()
        assert parent is not None

        def child() -> dict[str, Any]:
            inherited_visible = middleware.holder.current() is not None
            status, _, body = http_call(middleware)
            connected = middleware.holder.current()
            report = {
                "inherited_visible": inherited_visible,
                "status": status,
                "pid": os.getpid(),
                "served_by": json.loads(body)["pid"],
                "built_in": connected.pid if connected else None,
                "parents_session": json.loads(body)["session"] == id(parent.session),
                "rows": json.loads(body)["rows"],
            }
            middleware.holder.shutdown(10)
            return report

        report = in_fork(child)
        assert report["inherited_visible"] is False
        assert report["status"] == 200
        assert report["served_by"] == report["built_in"] == report["pid"] != os.getpid()
        assert report["parents_session"] is False
        assert report["rows"] == ROWS
        assert json.loads(http_call(middleware)[2])["pid"] == os.getpid(), "the parent keeps serving"
    finally:
        middleware.holder.shutdown(10)


def test_every_host_gone_mid_request_is_a_503(cassandra: Target, keyspace: str) -> None:
    """A ``NoHostAvailable`` escaping the app becomes the same 503 as an outage, unless the app had
    already started its response (then the server sees the error)."""
    from cassandra.cluster import NoHostAvailable

    async def gone(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/started":
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise NoHostAvailable("Unable to complete the operation against any hosts", {"127.0.0.1": OSError()})

    middleware = CassandraASGIMiddleware(gone, keyspace=keyspace, warmer="eager", **cassandra.middleware_kwargs())
    try:
        assert middleware.holder.current() is not None
        status, headers, body = http_call(middleware)
        assert status == 503
        assert headers["retry-after"] == "2"
        assert b"no Cassandra host could serve this request (OSError)" in body
        with pytest.raises(NoHostAvailable):
            http_call(middleware, "/started")
    finally:
        middleware.holder.shutdown(10)


def test_import_starts_nothing_and_needs_no_framework() -> None:
    import subprocess
    import sys

    probe = (
        "import json, sys, threading, wsgi_cassandra.asgi\n"
        "print(json.dumps({'threads': threading.active_count(), 'modules': sorted(m for m in sys.modules if "
        "m.split('.')[0] in ('starlette', 'fastapi', 'uvicorn', 'uvicorn_worker', 'cassandra'))}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    facts = json.loads(out.stdout)
    assert facts["threads"] == 1
    assert not [m for m in facts["modules"] if not m.startswith("cassandra")], "pure ASGI: no framework imported"
    assert "cassandra.cluster" not in facts["modules"]
