"""Gunicorn, as really run: every worker builds its own session after the fork, before its first request.

Each test starts a real ``gunicorn`` on 127.0.0.1 against the CQL test server and asserts on what the
server saw: STARTUP handshakes for exactly the number of workers *before* any HTTP request, none more
while 200 requests are served, each answer coming from a session built in the pid that served it, the
rows read back, and every connection closed after the server stops.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import (
    assert_replacement_warm,
    assert_warm_workers,
    at_least,
    handshakes_per_session,
    running,
    stop_and_check_closed,
)

if TYPE_CHECKING:
    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = "tests.apps.items:application"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--workers", "2"], id="sync-no-hooks"),
        pytest.param(["--workers", "2", "-c", "python:wsgi_cassandra.gunicorn"], id="sync-hooks-module"),
        pytest.param(["--workers", "2", "--worker-class", "gthread", "--threads", "4"], id="gthread"),
        pytest.param(["--workers", "2", "--preload"], id="preload-no-hooks"),
        pytest.param(
            ["--workers", "2", "--preload", "-c", "python:wsgi_cassandra.gunicorn"], id="preload-hooks-module"
        ),
    ],
)
def test_each_worker_warm_before_first_request(cassandra: Target, keyspace: str, args: list[str]) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("gunicorn", APP, *args, env=env) as server:
        served = assert_warm_workers(server, cassandra, per_session, workers=2)
        assert served, "some worker answered"
        if "--preload" in args:
            assert "loaded_in" in server.get("/").json()
            assert server.get("/").json()["loaded_in"] == server.pid, "the app was loaded in the arbiter"
        stop_and_check_closed(server, cassandra)
    assert "Cassandra cluster shut down" in server.log(), "worker_exit closed the session"


def test_user_hooks_chained_not_replaced(cassandra: Target, keyspace: str) -> None:
    """A gunicorn.conf.py with its own post_fork, composed with ours by ``chain``: both run."""
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    conf = "python:tests.apps.gunicorn_conf"
    with running("gunicorn", APP, "--workers", "2", "--preload", "-c", conf, env=env) as server:
        assert_warm_workers(server, cassandra, per_session, workers=2)
        assert len(server.wait_log(r"user post_fork ran in pid \d+", count=2)) >= 2
        stop_and_check_closed(server, cassandra)


def test_recycled_worker_comes_back_warm(cassandra: Target, keyspace: str) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    args = ["--workers", "1", "--max-requests", "20", "--max-requests-jitter", "0"]
    stats = cassandra.embedded.stats
    with running("gunicorn", APP, *args, env=env) as server:
        stats.wait_for("startups", per_session, timeout=20, compare=at_least)
        first = server.get("/").json()
        for _ in range(25):  # crosses --max-requests: the worker exits and a new one is forked
            server.get("/ping")
        # The new worker warms before it accepts: its handshakes come without any request to it.
        assert_replacement_warm(server, cassandra, per_session, first["pid"])
        stop_and_check_closed(server, cassandra)


def test_cassandra_down_worker_boots_and_answers_503(cassandra: Target) -> None:
    """A Cassandra that is not there never keeps a worker from booting, nor halts the server."""
    from tests.support.clients import free_port

    env = cassandra.subprocess_env(
        CASSANDRA_CONTACT_POINTS="127.0.0.1",
        CASSANDRA_PORT=str(free_port()),
        CASSANDRA_KEYSPACE="nowhere",
        WSGI_CASSANDRA_WARM_TIMEOUT="1",
        CASSANDRA_CONNECT_TIMEOUT="1",
    )
    started = time.monotonic()
    with running("gunicorn", APP, "--workers", "2", "-c", "python:wsgi_cassandra.gunicorn", env=env) as server:
        reply = server.wait_http("/ping", timeout=15)
        assert reply.status == 200
        assert time.monotonic() - started < 20  # booted: not held by the warm-up (a bound, not a speed claim)
        down = server.get("/")
        assert down.status == 503
        assert "Retry-After" in down.headers
