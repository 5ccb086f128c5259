"""Prepared-statement warm-up: declare statements once, every worker prepares them before its first request.

A ``PREPARE`` is a round trip to the coordinator (and, with the driver's ``prepare_on_all_hosts``, to every
other host). Paid inside a request, it lands on that worker's first request for each statement. Declared
here, each worker prepares them during its warm-up -- after its own connect, so after the fork: a prepared
statement belongs to the Cluster that prepared it and is never shared across a fork -- and handlers get
them ready to execute::

    application = CassandraMiddleware(app, keyspace="shop", statements={
        "get_item": "SELECT id, name FROM items WHERE id = ?",
    })

    def handler(environ, start_response):
        get_item = environ["cassandra.statements"]["get_item"]     # a PreparedStatement
        row = environ["cassandra.session"].execute(get_item, (42,)).one()

or with a registry the app fills at import time (read again at every connect attempt)::

    statements = StatementRegistry()
    GET_ITEM = statements.add("get_item", "SELECT id, name FROM items WHERE id = ?")
    application = CassandraMiddleware(app, statements=statements)

A statement that fails to prepare fails the whole connect attempt with :class:`StatementError` naming it;
the holder counts it as a failed attempt and retries with backoff, like any other connect failure.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .diagnose import describe_error
from .exceptions import ConfigurationError, WsgiCassandraError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement

__all__ = ["StatementError", "StatementRegistry", "as_statements", "prepare_all"]

log = logging.getLogger(__name__)

# Prepares in flight at once during a warm-up: enough to overlap round trips, few enough to be polite.
MAX_PARALLEL_PREPARES = 8

EMPTY: Mapping[str, PreparedStatement] = MappingProxyType({})


class StatementError(WsgiCassandraError):
    """A declared statement could not be prepared; ``name`` says which (the message never holds secrets)."""

    def __init__(self, name: str, cause: BaseException, others: int = 0) -> None:
        more = f" (and {others} more statement(s))" if others else ""
        super().__init__(f"statement {name!r} failed to prepare{more}: {describe_error(cause)}")
        self.name = name


class StatementRegistry:
    """A registry of named CQL statements that every worker prepares during its warm-up.

    Names must be unique; adding the same name with the same text again is harmless (modules imported
    twice), with a different text it is a :class:`~wsgi_cassandra.exceptions.ConfigurationError`.
    """

    __slots__ = ("_cql",)

    def __init__(self, statements: Mapping[str, str] | None = None) -> None:
        self._cql: dict[str, str] = {}
        for name, cql in (statements or {}).items():
            self.add(name, cql)

    def add(self, name: str, cql: str) -> str:
        """Declare ``cql`` under ``name``; returns the name, to keep as a constant."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"statements: name {name!r} is not valid; accepted: a non-empty string")
        if not isinstance(cql, str) or not cql.strip():
            raise ConfigurationError(f"statements: {name!r} has no CQL text; accepted: a non-empty CQL string")
        known = self._cql.get(name)
        if known is not None and known != cql:
            raise ConfigurationError(f"statements: {name!r} is already declared with a different CQL text")
        self._cql[name] = cql
        return name

    def __len__(self) -> int:
        return len(self._cql)

    def __iter__(self) -> Iterator[str]:
        return iter(self._cql)

    def __contains__(self, name: object) -> bool:
        return name in self._cql

    def items(self) -> list[tuple[str, str]]:
        return list(self._cql.items())

    def __repr__(self) -> str:
        return f"<StatementRegistry {sorted(self._cql)}>"


def as_statements(value: Mapping[str, str] | StatementRegistry | None) -> StatementRegistry:
    """The ``statements=`` argument as a registry (a registry given is used as is, not copied)."""
    if value is None:
        return StatementRegistry()
    if isinstance(value, StatementRegistry):
        return value
    if not hasattr(value, "items"):
        raise ConfigurationError(
            f"statements= {value!r} is not valid; accepted: a mapping of name -> CQL, or a StatementRegistry"
        )
    return StatementRegistry(value)


def prepare_all(session: Session, statements: StatementRegistry) -> Mapping[str, PreparedStatement]:
    """Prepare every declared statement on ``session``, several at a time; read-only name -> statement.

    Raises :class:`StatementError` naming the first statement (in declaration order) that failed.
    """
    todo = statements.items()
    if not todo:
        return EMPTY
    results: list[Any]
    if len(todo) == 1:
        results = [_prepare(session, todo[0][1])]
    else:
        with ThreadPoolExecutor(
            min(MAX_PARALLEL_PREPARES, len(todo)), thread_name_prefix="wsgi-cassandra-prepare"
        ) as pool:
            results = list(pool.map(lambda item: _prepare(session, item[1]), todo))
    failed = [(name, result) for (name, _), result in zip(todo, results) if isinstance(result, BaseException)]
    if failed:
        name, cause = failed[0]
        raise StatementError(name, cause, len(failed) - 1) from cause
    return MappingProxyType({name: result for (name, _), result in zip(todo, results)})


def _prepare(session: Session, cql: str) -> PreparedStatement | Exception:
    try:
        prepared: PreparedStatement = session.prepare(cql)
    except Exception as exc:  # reported with its statement's name by prepare_all
        return exc
    return prepared
