"""Prepared-statement warm-up: declared once, prepared by each worker during its warm-up, ready in environ."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import call
from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.prepare import StatementError, StatementRegistry, as_statements

if TYPE_CHECKING:
    from tests.support.target import Target

Environ = dict[str, Any]


def get_item(environ: Environ, start_response: Any) -> list[bytes]:
    """A handler that executes a statement it never prepares itself."""
    statement = environ["cassandra.statements"]["get_item"]
    row = environ["cassandra.session"].execute(statement, (1,)).one()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"pid": os.getpid(), "name": row.name}).encode()]


# --- the registry -----------------------------------------------------------------------------------------


def test_registry_keeps_declaration_order_and_returns_names() -> None:
    statements = StatementRegistry({"b": "SELECT 1 FROM t"})
    assert statements.add("a", "SELECT 2 FROM t") == "a"
    statements.add("a", "SELECT 2 FROM t")  # same text again: harmless
    assert list(statements) == ["b", "a"]
    assert "a" in statements
    assert len(statements) == 2


@pytest.mark.parametrize(
    ("name", "cql", "message"),
    [
        pytest.param("", "SELECT 1", "name", id="empty-name"),
        pytest.param("x", "  ", "'x' has no CQL", id="empty-cql"),
        pytest.param("x", 42, "'x' has no CQL", id="not-text"),
    ],
)
def test_registry_rejects_bad_declarations(name: str, cql: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StatementRegistry().add(name, cql)


def test_registry_rejects_a_name_declared_twice_differently() -> None:
    statements = StatementRegistry({"a": "SELECT 1 FROM t"})
    with pytest.raises(ConfigurationError, match="'a' is already declared"):
        statements.add("a", "SELECT 2 FROM t")


def test_statements_argument_must_be_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="statements="):
        as_statements(["SELECT 1"])  # type: ignore[arg-type]


def test_registry_is_used_as_is() -> None:
    statements = StatementRegistry()
    assert as_statements(statements) is statements


# --- with the driver ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_handlers_get_prepared_statements_and_requests_never_prepare(cassandra: Target, keyspace: str) -> None:
    app = CassandraMiddleware(
        get_item,
        keyspace=keyspace,
        warmer="lazy",
        statements={"get_item": "SELECT name FROM items WHERE id = ?", "all": "SELECT id FROM items"},
        **cassandra.middleware_kwargs(),
    )
    try:
        connected = app.holder.get()
        assert connected is not None
        assert set(connected.statements) == {"get_item", "all"}
        assert "prepare" in connected.phases
        server = cassandra.server
        if server is not None:
            prepared_at_warmup = server.stats.snapshot().requests.get("PREPARE", 0)
            assert prepared_at_warmup == 2
        for _ in range(3):
            status, _, body = call(app)
            assert status == "200 OK"
            assert json.loads(body)["name"] == "item-1"
        if server is not None:
            assert server.stats.snapshot().requests.get("PREPARE", 0) == prepared_at_warmup  # none per request
    finally:
        app.shutdown()


@pytest.mark.integration
def test_statement_environ_key_is_configurable(cassandra: Target, keyspace: str) -> None:
    seen: dict[str, Any] = {}

    def app(environ: Environ, start_response: Any) -> list[bytes]:
        seen.update(environ["db.statements"])
        start_response("204 No Content", [])
        return []

    wrapped = CassandraMiddleware(
        app,
        keyspace=keyspace,
        warmer="lazy",
        statements={"one": "SELECT name FROM items WHERE id = ?"},
        statements_environ_key="db.statements",
        **cassandra.middleware_kwargs(),
    )
    try:
        assert call(wrapped)[0] == "204 No Content"
        assert type(seen["one"]).__name__ == "PreparedStatement"
    finally:
        wrapped.shutdown()


@pytest.mark.integration
def test_a_bad_statement_is_a_named_failed_attempt(cassandra: Target, keyspace: str) -> None:
    app = CassandraMiddleware(
        get_item,
        keyspace=keyspace,
        warmer="lazy",
        statements={"get_item": "SELECT name FROM items WHERE id = ?", "broken": "SELECT nope FROM no_such_table"},
        **cassandra.middleware_kwargs(),
    )
    try:
        assert app.holder.get(timeout=10) is None
        status = app.holder.status()
        assert status["state"] == "unavailable"
        assert status["attempts"] >= 1
        assert "'broken'" in status["last_error"]
        code, _, body = call(app)  # the handler's statement lookup is answered with a clean 503
        assert code.startswith("503")
        assert b"broken" in body
    finally:
        app.shutdown()


def test_statement_error_names_the_statement() -> None:
    error = StatementError("get_item", ValueError("unconfigured table items"), others=1)
    assert "'get_item'" in str(error)
    assert "1 more" in str(error)
    assert error.name == "get_item"


@pytest.mark.integration
def test_each_forked_worker_prepares_its_own(cassandra: Target, keyspace: str) -> None:
    """Built in the parent, warmed in each child after a real ``os.fork()``: every child prepares the
    statements on its own Cluster (the server sees one PREPARE per statement per worker) and executes them."""
    server = cassandra.embedded
    app = CassandraMiddleware(
        get_item,
        keyspace=keyspace,
        warmer="fork",
        statements={"get_item": "SELECT name FROM items WHERE id = ?", "count": "SELECT id FROM items"},
        **cassandra.middleware_kwargs(),
    )
    server.stats.reset()
    workers = 2
    children: list[tuple[int, int]] = []
    try:
        for _ in range(workers):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: answer one request, report, and leave without running pytest's teardown
                code = 1
                try:
                    os.close(read_end)
                    connected = app.holder.get(timeout=20)
                    status, _, body = call(app)
                    report = {
                        "status": status,
                        "body": json.loads(body) if status == "200 OK" else body.decode(),
                        "statements": sorted(connected.statements) if connected else [],
                        "statement_pid": connected.pid if connected else None,
                    }
                    os.write(write_end, json.dumps(report).encode())
                    code = 0
                finally:
                    os._exit(code)
            os.close(write_end)
            children.append((pid, read_end))
        reports = []
        for pid, read_end in children:
            chunks = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            os.close(read_end)
            _, exit_status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(exit_status) == 0
            reports.append(json.loads(b"".join(chunks)))
    finally:
        app.shutdown()
    for (pid, _), report in zip(children, reports):
        assert report["status"] == "200 OK"
        assert report["body"] == {"pid": pid, "name": "item-1"}
        assert report["statements"] == ["count", "get_item"]
        assert report["statement_pid"] == pid  # prepared in that worker, not inherited
    assert app.holder.current() is None  # the parent never connected, so had nothing to share
    assert server.stats.snapshot().requests.get("PREPARE", 0) == 2 * workers
