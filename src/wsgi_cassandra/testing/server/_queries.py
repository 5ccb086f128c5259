"""QUERY, PREPARE, EXECUTE and BATCH: decode the request, call the engine, encode its result.

This is the hot path of the server (the benchmark's prepared reads go through :meth:`Statements.run`),
so it does no work the spec does not need: the engine parses once at PREPARE and caches; here the
only per-request costs are decoding the values and serializing the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..cql import _results as results
from ..protocol import frames
from ..protocol import requests as decode
from ..protocol import responses as enc

if TYPE_CHECKING:
    from ..cql import NodeInfo
    from ..protocol.requests import Reader
    from ._hub import EventHub
    from ._stats import Stats


class Statements:
    """Runs statements for one node (its ``NodeInfo`` is what ``system.local`` describes)."""

    def __init__(self, engine: Any, node: NodeInfo, hub: EventHub, stats: Stats | None = None) -> None:
        self._engine = engine
        self._stats = stats
        self._node = node
        self._hub = hub
        self._metadata_ids: dict[tuple[results.Column, ...], bytes] = {}

    def run(self, opcode: int, r: Reader, version: int, keyspace: str | None) -> tuple[enc.Response, str | None]:
        """The response, and the connection's keyspace after the statement (``USE`` changes it)."""
        engine = self._engine
        if opcode == frames.EXECUTE:
            query_id, metadata_id, p = decode.execute(r, version)
            if self._stats is not None:
                self._stats.consistency("EXECUTE", p.consistency, p.serial_consistency)
            res = engine.execute_prepared(
                query_id,
                p.values,
                keyspace=p.keyspace or keyspace,
                node=self._node,
                protocol_version=version,
                page_size=p.page_size,
                paging_state=p.paging_state,
            )
            if isinstance(res, results.Rows):
                changed = None
                if metadata_id is not None:
                    current = self._metadata_id(res.columns)
                    changed = current if current != metadata_id else None
                return enc.rows(res, version, skip_metadata=p.skip_metadata, new_metadata_id=changed), keyspace
            return self._other(res, version, keyspace)
        if opcode == frames.QUERY:
            text, p = decode.query(r, version)
            if self._stats is not None:
                self._stats.consistency("QUERY", p.consistency, p.serial_consistency)
            res = engine.execute(
                text,
                p.values,
                keyspace=p.keyspace or keyspace,
                node=self._node,
                protocol_version=version,
                page_size=p.page_size,
                paging_state=p.paging_state,
            )
            if isinstance(res, results.Rows):
                return enc.rows(res, version, skip_metadata=p.skip_metadata), keyspace
            return self._other(res, version, keyspace)
        if opcode == frames.PREPARE:
            text, prepare_keyspace = decode.prepare(r, version)
            prepared = engine.prepare(text, keyspace=prepare_keyspace or keyspace, node=self._node)
            self._hub.remember_prepared(prepared.query_id, text)
            return enc.prepared(prepared, version), keyspace
        batch = decode.batch(r, version)
        if self._stats is not None:
            self._stats.consistency("BATCH", batch.consistency, batch.serial_consistency)
        res = engine.batch(
            batch.statements, keyspace=batch.keyspace or keyspace, node=self._node, protocol_version=version
        )
        return self._other(res, version, keyspace)

    def _other(self, res: Any, version: int, keyspace: str | None) -> tuple[enc.Response, str | None]:
        if isinstance(res, results.SetKeyspace):
            keyspace = res.keyspace
        elif isinstance(res, results.SchemaChange):
            self._hub.schema_changed(res)
        return enc.result(res, version), keyspace

    def _metadata_id(self, columns: list[results.Column]) -> bytes:
        key = tuple(columns)
        found = self._metadata_ids.get(key)
        if found is None:
            found = self._metadata_ids[key] = enc.metadata_id(columns)
        return found
