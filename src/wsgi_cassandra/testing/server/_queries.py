"""QUERY, PREPARE, EXECUTE and BATCH: decode the request, call the engine, encode what it answers.

This is where the codec and the engine meet: bound values go to the engine with unset ones marked as the
engine's ``UNSET``; the engine's results become RESULT messages and its errors (``cql.CQLError``) ERROR
messages with the same code. It is also the hot path of the server (the benchmark's prepared reads go
through :meth:`QueryRunner.run`), so it does no work the spec does not need: the engine parses once at
PREPARE and caches; here the only per-request costs are decoding the values and serializing the rows.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from ..cql import UNSET, AlreadyExists, Column, CQLError, Rows, SchemaChange, SetKeyspace, Unprepared, Void
from ..protocol import frames
from ..protocol import requests as decode
from ..protocol import responses as enc

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ..cql import Engine, NodeInfo, Result
    from ._hub import EventHub
    from ._stats import Stats


class QueryRunner:
    """Runs statements for one node (its ``NodeInfo`` is what ``system.local`` describes)."""

    def __init__(self, engine: Engine, node: NodeInfo, hub: EventHub, stats: Stats | None = None) -> None:
        self._engine = engine
        self._stats = stats
        self._node = node
        self._hub = hub
        self._metadata_ids: dict[tuple[Column, ...], bytes] = {}

    def run(self, opcode: int, r: decode.Reader, version: int, keyspace: str | None) -> tuple[enc.Response, str | None]:
        """The response, and the connection's keyspace after the statement (``USE`` changes it)."""
        try:
            return self._run(opcode, r, version, keyspace)
        except CQLError as exc:
            raise engine_error(exc) from None

    def _run(
        self, opcode: int, r: decode.Reader, version: int, keyspace: str | None
    ) -> tuple[enc.Response, str | None]:
        engine = self._engine
        if opcode == frames.EXECUTE:
            query_id, metadata_id, p = decode.execute(r, version)
            run = partial(engine.execute_prepared, query_id)
            return self._statement("EXECUTE", run, p, version=version, keyspace=keyspace, metadata_id=metadata_id)
        if opcode == frames.QUERY:
            text, p = decode.query(r, version)
            return self._statement("QUERY", partial(engine.execute, text), p, version=version, keyspace=keyspace)
        if opcode == frames.PREPARE:
            text, prepare_keyspace = decode.prepare(r, version)
            prepared = engine.prepare(text, keyspace=prepare_keyspace or keyspace, node=self._node)
            self._hub.remember_prepared(prepared.query_id, text)
            response = enc.prepared(
                prepared.query_id, prepared.bind_columns, prepared.pk_indexes, prepared.result_columns, version
            )
            return response, keyspace
        batch = decode.batch(r, version)
        if self._stats is not None:
            self._stats.consistency("BATCH", batch.consistency, batch.serial_consistency)
        statements = [(target, _engine_values(values)) for target, values in batch.statements]
        res = engine.batch(statements, keyspace=batch.keyspace or keyspace, node=self._node, protocol_version=version)
        return self._other(res, version, keyspace)

    def _statement(
        self,
        kind: str,
        run: Callable[..., Result],
        p: decode.QueryParams,
        *,
        version: int,
        keyspace: str | None,
        metadata_id: bytes | None = None,
    ) -> tuple[enc.Response, str | None]:
        """QUERY and EXECUTE alike once decoded: the same parameters, the same answer. ``metadata_id`` is the
        result metadata id a v5 EXECUTE says the client holds: a different one is sent back if it changed."""
        if self._stats is not None:
            self._stats.consistency(kind, p.consistency, p.serial_consistency)
        res = run(
            _engine_values(p.values),
            keyspace=p.keyspace or keyspace,
            node=self._node,
            protocol_version=version,
            page_size=p.page_size,
            paging_state=p.paging_state,
        )
        if not isinstance(res, Rows):
            return self._other(res, version, keyspace)
        changed = None
        if metadata_id is not None:
            current = self._metadata_id(res.columns)
            changed = current if current != metadata_id else None
        response = enc.rows(
            res.columns,
            res.rows,
            version,
            paging_state=res.paging_state,
            skip_metadata=p.skip_metadata,
            new_metadata_id=changed,
        )
        return response, keyspace

    def _other(self, res: Result, version: int, keyspace: str | None) -> tuple[enc.Response, str | None]:
        if isinstance(res, Void):
            return enc.void(), keyspace
        if isinstance(res, SetKeyspace):
            return enc.set_keyspace(res.keyspace), res.keyspace
        if isinstance(res, SchemaChange):
            self._hub.schema_changed(res)
            return enc.schema_change(res.change_type, res.target, res.keyspace, res.name, res.arguments), keyspace
        if isinstance(res, Rows):
            return enc.rows(res.columns, res.rows, version, paging_state=res.paging_state), keyspace
        raise TypeError(f"Unexpected engine result {res!r}")

    def _metadata_id(self, columns: list[Column]) -> bytes:
        key = tuple(columns)
        found = self._metadata_ids.get(key)
        if found is None:
            found = self._metadata_ids[key] = enc.metadata_id(columns)
        return found


def engine_error(exc: CQLError) -> enc.ErrorMessage:
    """The ERROR message for an error the engine raised: same code, same text, the code's extra fields."""
    if isinstance(exc, AlreadyExists):
        return enc.already_exists(exc.message, keyspace=exc.keyspace, table=exc.table)
    if isinstance(exc, Unprepared):
        return enc.unprepared(exc.message, query_id=exc.query_id)
    return enc.ErrorMessage(exc.code, exc.message)


def _engine_values(values: decode.Values) -> Sequence[Any] | Mapping[str, Any] | None:
    """Bound values for the engine: bytes, None, or the engine's ``UNSET`` where the client sent "unset"."""
    unset = decode.UNSET_VALUE
    if isinstance(values, dict):
        if unset in values.values():
            return {name: UNSET if value is unset else value for name, value in values.items()}
    elif values and unset in values:  # a C-level scan: the common case (nothing unset) copies nothing
        return [UNSET if value is unset else value for value in values]
    return values
