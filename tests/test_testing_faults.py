"""Injected faults make the unmodified driver fail exactly as a sick real node would make it fail."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from cassandra import (
    AlreadyExists,
    InvalidRequest,
    OperationTimedOut,
    ReadTimeout,
    Unauthorized,
    Unavailable,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import (
    IsBootstrappingErrorMessage,
    OverloadedErrorMessage,
    ServerError,
    SyntaxException,
    TruncateError,
)
from cassandra.query import BatchStatement

from tests.support.clients import driver
from tests.support.wait import eventually

if TYPE_CHECKING:
    from wsgi_cassandra.testing import CQLServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cassandra.cluster import Session

pytestmark = pytest.mark.integration

PROBE = "SELECT release_version FROM system.local"


@pytest.fixture
def server(cql_server: CQLServer) -> CQLServer:
    """The plugin's fresh test server (``cql_server``), under the short name these tests use."""
    return cql_server


@pytest.fixture
def session(server: CQLServer) -> Iterator[Session]:
    with driver(server) as cluster:
        yield cluster.connect()


def _raised(session: Session, query: str = PROBE) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - the table below names the exact type
        session.execute(query)
    error = info.value
    # Errors the driver retries on the next host surface, on a single node, inside NoHostAvailable.
    if isinstance(error, NoHostAvailable):
        (error,) = error.errors.values()
    return error


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("overloaded", OverloadedErrorMessage, id="overloaded"),
        pytest.param("read_timeout", ReadTimeout, id="read_timeout"),
        pytest.param("write_timeout", WriteTimeout, id="write_timeout"),
        pytest.param("unavailable", Unavailable, id="unavailable"),
        pytest.param("server_error", ServerError, id="server_error"),
        pytest.param("is_bootstrapping", IsBootstrappingErrorMessage, id="is_bootstrapping"),
        pytest.param("truncate_error", TruncateError, id="truncate_error"),
        pytest.param("syntax_error", SyntaxException, id="syntax_error"),
        pytest.param("invalid", InvalidRequest, id="invalid"),
        pytest.param("unauthorized", Unauthorized, id="unauthorized"),
        pytest.param("already_exists", AlreadyExists, id="already_exists"),
    ],
)
def test_injected_error_reaches_the_driver_as_its_exception(
    server: CQLServer, session: Session, name: str, expected: type[BaseException]
) -> None:
    server.faults.error(name, query=r"system\.local")
    assert isinstance(_raised(session), expected)
    server.faults.clear()
    assert session.execute(PROBE).one().release_version == server.release_version


def test_error_with_a_custom_message_and_a_count(server: CQLServer, session: Session) -> None:
    server.faults.error("overloaded", query="system.local", message="busy, try later", times=1)
    error = _raised(session)
    assert "busy, try later" in str(error)
    assert session.execute(PROBE).one()  # the rule expired after one match


def test_error_on_execute_then_the_statement_still_works(server: CQLServer, session: Session) -> None:
    statement = session.prepare(PROBE)
    prepares = server.stats.requests["PREPARE"]
    server.faults.error("invalid", messages="EXECUTE", times=1)
    with pytest.raises(InvalidRequest):
        session.execute(statement)
    assert session.execute(statement).one()
    assert server.stats.requests["PREPARE"] == prepares


@pytest.mark.parametrize("batched", [pytest.param(False, id="execute"), pytest.param(True, id="batch")])
def test_driver_reprepares_after_an_injected_unprepared(server: CQLServer, session: Session, batched: bool) -> None:
    select = session.prepare(PROBE)
    statement: Any = select
    if batched:  # a logged batch of a prepared write: the error names the batch's prepared statement
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE ks.kv (k text PRIMARY KEY, v text)")
        # Keep it referenced: the driver finds the text to re-prepare in a weak map of prepared statements.
        insert = session.prepare("INSERT INTO ks.kv (k, v) VALUES (?, 'v')")
        statement = BatchStatement()
        statement.add(insert, ("k",))
    before = server.stats.snapshot().requests
    server.faults.error("unprepared", times=1)
    session.execute(statement)  # as with a restarted node: PREPARE again on the same host, then run it again
    after = server.stats.snapshot().requests
    kind = "BATCH" if batched else "EXECUTE"
    assert after[kind] - before.get(kind, 0) == 2
    assert after["PREPARE"] - before["PREPARE"] == 1
    assert session.execute(select).one().release_version == server.release_version


def test_unprepared_applies_to_execute_and_batch_only(server: CQLServer) -> None:
    with pytest.raises(ValueError, match="EXECUTE and BATCH only"):
        server.faults.error("unprepared", messages="QUERY")


def test_black_hole_makes_requests_time_out(server: CQLServer, session: Session) -> None:
    server.faults.black_hole()
    with pytest.raises(OperationTimedOut):
        session.execute(PROBE, timeout=0.3)
    server.faults.clear()


def test_refused_connections_mean_no_host_available(server: CQLServer) -> None:
    server.faults.refuse_connections()
    with driver(server, connect_timeout=1) as cluster, pytest.raises(NoHostAvailable):
        cluster.connect()
    server.faults.accept_connections()
    with driver(server) as cluster:
        assert cluster.connect().execute(PROBE).one()


def test_delayed_startup_slows_the_connect(server: CQLServer) -> None:
    server.faults.delay(0.3, messages="STARTUP")
    started = time.monotonic()
    with driver(server) as cluster:
        cluster.connect()
        elapsed = time.monotonic() - started
    assert elapsed >= 0.3


def test_slow_schema_queries_slow_the_connect_without_blocking_the_server(server: CQLServer) -> None:
    delay = 3.0  # the driver reads about ten schema tables: one by one, that would be 30 s (wide bounds: busy CI)
    server.faults.delay(delay, query=r"system_schema")
    started = time.monotonic()
    with driver(server, control_connection_timeout=4 * delay) as cluster:
        cluster.connect()
        elapsed = time.monotonic() - started
        # Other requests are answered meanwhile, not after the delay: the delay does not block the loop.
        quick = time.monotonic()
        cluster.connect().execute(PROBE)
        assert time.monotonic() - quick < delay
    # The driver reads the schema tables in parallel: about one delay, far from one per table.
    assert delay <= elapsed < 3 * delay


def test_close_connections_makes_the_driver_reconnect(server: CQLServer, session: Session) -> None:
    opened = server.stats.connections_opened
    assert server.faults.close_connections() == 2  # control connection + pool connection
    assert server.stats.connections_open == 0
    # Like a node restart: the driver marks the host down, reconnects (about 1 s later), and recovers.

    def reads() -> bool:
        try:
            return session.execute(PROBE).one() is not None
        except NoHostAvailable:
            return False

    assert eventually(reads, timeout=15)
    assert server.stats.connections_opened > opened


def test_unknown_fault_names_fail_at_once(server: CQLServer) -> None:
    with pytest.raises(ValueError, match="overloaded"):
        server.faults.error("overload")
    with pytest.raises(ValueError, match="QUERY"):
        server.faults.delay(0.1, messages="QUERIES")
