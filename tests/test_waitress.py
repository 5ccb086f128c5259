"""Threaded servers that never fork, as really run: ``waitress-serve`` with a pool of threads.

Nothing forks, so neither a post-fork hook nor ``os.register_at_fork`` ever fires: ``eager`` builds the
session while the app loads (before the server listens), ``lazy`` on the first request -- once, however
many threads arrive together. Asserted at the CQL test server: handshakes for exactly one session, none
more while 200 requests are served from 8 client threads, every answer from the one process that built
it, the rows read back, and no connection left after the server stops.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import (
    ROWS,
    at_least,
    get_many,
    handshakes_per_session,
    running,
    stop_and_check_closed,
)

if TYPE_CHECKING:
    from tests.support.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

APP = "tests.apps.items:application"
LISTENING = r"Serving on http://127\.0\.0\.1"


@pytest.fixture(autouse=True)
def _needs_waitress() -> None:
    if importlib.util.find_spec("waitress") is None:
        pytest.skip("needs waitress (pip install -e '.[test]')")


def _serve_and_check(server: object, cassandra: Target, per_session: int) -> None:
    stats = cassandra.embedded.stats
    replies = get_many(server, "/", 200)  # type: ignore[arg-type]
    assert {reply.status for reply in replies} == {200}
    answers = [reply.json() for reply in replies]
    assert all(answer["rows"] == ROWS for answer in answers)
    assert {answer["pid"] for answer in answers} == {server.pid}  # type: ignore[attr-defined]
    assert all(answer["built_pid"] == answer["pid"] for answer in answers)
    assert stats.startups == per_session, "one session for all threads, none built while serving"


def test_eager_warms_before_listening(cassandra: Target, keyspace: str) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, WSGI_CASSANDRA_WARMER="eager")
    with running("waitress", APP, "--threads", "8", env=env) as server:
        server.wait_log(LISTENING, timeout=20)
        log = server.log()
        assert log.index("Cassandra session ready") < log.index("Serving on"), "warmed before listening"
        cassandra.embedded.stats.wait_for("startups", per_session, timeout=5, compare=at_least)
        assert cassandra.embedded.stats.startups == per_session, "warmed before any request"
        _serve_and_check(server, cassandra, per_session)
        assert {reply.json()["warmer"] for reply in get_many(server, "/", 4)} == {"eager"}
        stop_and_check_closed(server, cassandra)


def test_lazy_connects_once_for_concurrent_first_requests(cassandra: Target, keyspace: str) -> None:
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace, WSGI_CASSANDRA_WARMER="lazy")
    with running("waitress", APP, "--threads", "8", env=env) as server:
        server.wait_log(LISTENING, timeout=20)
        assert cassandra.embedded.stats.startups == 0, "lazy: nothing before the first request"
        _serve_and_check(server, cassandra, per_session)
        stop_and_check_closed(server, cassandra)


def test_auto_in_waitress_is_fork_plus_lazy(cassandra: Target, keyspace: str) -> None:
    """``auto`` finds no server hook and nothing forks: the first request connects (lazy underneath)."""
    per_session = handshakes_per_session(cassandra, keyspace)
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    with running("waitress", APP, "--threads", "8", env=env) as server:
        server.wait_log(LISTENING, timeout=20)
        assert server.get("/").json()["chosen"] == ["fork", "lazy"]
        _serve_and_check(server, cassandra, per_session)
        stop_and_check_closed(server, cassandra)
