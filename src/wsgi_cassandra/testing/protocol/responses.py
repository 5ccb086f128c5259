"""Response bodies a node sends: ERROR (with each code's extra fields), RESULT kinds, SUPPORTED, EVENT.

Each function returns ``(opcode, body)``; the connection wraps it in a frame (and a v5 segment). The
layouts follow native_protocol_v4/v5.spec section 4.2 and match what ``cassandra.protocol`` decodes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..cql import _errors as errors
from ..cql import _results as results
from . import _type_options as typecodes
from . import _wire as wire
from . import frames

RESULT_VOID = wire.int32(0x0001)
RESULT_ROWS = wire.int32(0x0002)
RESULT_SET_KEYSPACE = wire.int32(0x0003)
RESULT_PREPARED = wire.int32(0x0004)
RESULT_SCHEMA_CHANGE = wire.int32(0x0005)

_GLOBAL_TABLES_SPEC = 0x0001
_HAS_MORE_PAGES = 0x0002
_NO_METADATA = 0x0004
_METADATA_CHANGED = 0x0008

Response = tuple[int, bytes]


def error(exc: errors.CQLError) -> Response:
    body = wire.int32(exc.code) + wire.string(exc.message)
    if isinstance(exc, errors.Unavailable):
        body += wire.short(exc.consistency) + wire.int32(exc.required) + wire.int32(exc.alive)
    elif isinstance(exc, errors.WriteTimeout):
        body += (
            wire.short(exc.consistency)
            + wire.int32(exc.received)
            + wire.int32(exc.block_for)
            + wire.string(exc.write_type)
        )
    elif isinstance(exc, errors.ReadTimeout):
        body += (
            wire.short(exc.consistency)
            + wire.int32(exc.received)
            + wire.int32(exc.block_for)
            + (b"\x01" if exc.data_present else b"\x00")
        )
    elif isinstance(exc, errors.AlreadyExists):
        body += wire.string(exc.keyspace) + wire.string(exc.table)
    elif isinstance(exc, errors.Unprepared):
        body += wire.short_bytes(exc.query_id)
    return frames.ERROR, body


def supported(cql_version: str, protocol_versions: list[str]) -> Response:
    options = {"CQL_VERSION": [cql_version], "COMPRESSION": [], "PROTOCOL_VERSIONS": protocol_versions}
    return frames.SUPPORTED, wire.string_multimap(options)


def metadata_id(columns: list[results.Column] | None) -> bytes:
    """v5 result metadata id: a digest of the result columns, so a changed table changes the id."""
    digest = hashlib.blake2b(digest_size=16)
    for column in columns or ():
        spec = (column.keyspace, column.table, column.name, column.cqltype.cass_parameterized_type(True))
        digest.update("\x00".join(spec).encode("utf-8") + b"\x01")
    return digest.digest()


def _column_specs(columns: list[results.Column], version: int) -> bytes:
    """Column specs, with the global table spec when every column shares one table (as Cassandra does)."""
    if not columns:
        return b""
    first = columns[0]
    if all(c.keyspace == first.keyspace and c.table == first.table for c in columns):
        head = wire.string(first.keyspace) + wire.string(first.table)
        return head + b"".join(wire.string(c.name) + typecodes.option(c.cqltype, version) for c in columns)
    return b"".join(
        wire.string(c.keyspace) + wire.string(c.table) + wire.string(c.name) + typecodes.option(c.cqltype, version)
        for c in columns
    )


def _global_flag(columns: list[results.Column]) -> int:
    if not columns:
        return 0
    first = columns[0]
    same = all(c.keyspace == first.keyspace and c.table == first.table for c in columns)
    return _GLOBAL_TABLES_SPEC if same else 0


def rows_metadata(
    columns: list[results.Column],
    version: int,
    *,
    paging_state: bytes | None = None,
    skip_metadata: bool = False,
    new_metadata_id: bytes | None = None,
) -> bytes:
    flags = _HAS_MORE_PAGES if paging_state is not None else 0
    tail = wire.bytes_(paging_state) if paging_state is not None else b""
    if new_metadata_id is not None:
        flags |= _METADATA_CHANGED
        tail += wire.short_bytes(new_metadata_id)
    elif skip_metadata:
        return wire.int32(flags | _NO_METADATA) + wire.int32(len(columns)) + tail
    flags |= _global_flag(columns)
    return wire.int32(flags) + wire.int32(len(columns)) + tail + _column_specs(columns, version)


def rows(
    result: results.Rows,
    version: int,
    *,
    skip_metadata: bool = False,
    new_metadata_id: bytes | None = None,
) -> Response:
    columns = result.columns
    meta = rows_metadata(
        columns,
        version,
        paging_state=result.paging_state,
        skip_metadata=skip_metadata,
        new_metadata_id=new_metadata_id,
    )
    serializers = [c.cqltype.to_binary for c in columns]
    parts: list[bytes] = [RESULT_ROWS, meta, wire.int32(len(result.rows))]
    append = parts.append
    for row in result.rows:
        for serialize, value in zip(serializers, row):
            if value is None:
                append(b"\xff\xff\xff\xff")
            else:
                raw = serialize(value, version)
                append(wire.int32(len(raw)))
                append(raw)
    return frames.RESULT, b"".join(parts)


def prepared(result: results.Prepared, version: int) -> Response:
    body = RESULT_PREPARED + wire.short_bytes(result.query_id)
    if version >= 5:
        body += wire.short_bytes(metadata_id(result.result_columns))
    binds = result.bind_columns
    body += wire.int32(_global_flag(binds)) + wire.int32(len(binds))
    if version >= 4:
        body += wire.int32(len(result.pk_indexes)) + b"".join(wire.short(i) for i in result.pk_indexes)
    body += _column_specs(binds, version)
    if result.result_columns is None:
        body += wire.int32(_NO_METADATA) + wire.int32(0)
    else:
        body += rows_metadata(result.result_columns, version)
    return frames.RESULT, body


def schema_change_body(change: results.SchemaChange) -> bytes:
    body = wire.string(change.change_type) + wire.string(change.target) + wire.string(change.keyspace)
    if change.target != "KEYSPACE":
        body += wire.string(change.name or "")
    if change.target in ("FUNCTION", "AGGREGATE"):
        body += wire.string_list(list(change.arguments))
    return body


def result(res: Any, version: int) -> Response:
    """Any engine result except Rows/Prepared needing per-request options (handled by the caller)."""
    if isinstance(res, results.Void):
        return frames.RESULT, RESULT_VOID
    if isinstance(res, results.Rows):
        return rows(res, version)
    if isinstance(res, results.SetKeyspace):
        return frames.RESULT, RESULT_SET_KEYSPACE + wire.string(res.keyspace)
    if isinstance(res, results.Prepared):
        return prepared(res, version)
    if isinstance(res, results.SchemaChange):
        return frames.RESULT, RESULT_SCHEMA_CHANGE + schema_change_body(res)
    raise TypeError(f"Unknown engine result {res!r}")


def schema_change_event(change: results.SchemaChange) -> Response:
    return frames.EVENT, wire.string("SCHEMA_CHANGE") + schema_change_body(change)


def node_event(kind: str, change: str, address: str, port: int) -> Response:
    """STATUS_CHANGE (UP/DOWN) or TOPOLOGY_CHANGE (NEW_NODE/REMOVED_NODE) for one node."""
    return frames.EVENT, wire.string(kind) + wire.string(change) + wire.inet(address, port)
