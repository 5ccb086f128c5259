"""Response bodies a node sends: ERROR (with each code's extra fields), READY, AUTHENTICATE, SUPPORTED,
RESULT kinds, EVENT.

Each function returns ``(opcode, body)``; the connection wraps it in a frame (and a v5 segment). The
layouts follow native_protocol_v4/v5.spec section 4.2 and match what ``cassandra.protocol`` decodes. The
codec knows nothing of the CQL engine: columns are anything with ``keyspace``, ``table``, ``name`` and a
driver type class as ``cqltype`` (:class:`ColumnSpec`); rows are sequences of Python values.

An error to answer is raised as :class:`ErrorMessage` (built by the functions named after the error, e.g.
:func:`protocol_error`, :func:`unavailable`) and encoded by :func:`error`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol

from . import _type_options as typecodes
from . import _wire as wire
from . import frames
from .compression import ALGORITHMS

if TYPE_CHECKING:
    from collections.abc import Sequence

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

# The error codes (native_protocol_v5.spec section 9) a node answers.
SERVER_ERROR = 0x0000
PROTOCOL_ERROR = 0x000A
BAD_CREDENTIALS = 0x0100
UNAVAILABLE = 0x1000
OVERLOADED = 0x1001
IS_BOOTSTRAPPING = 0x1002
TRUNCATE_ERROR = 0x1003
WRITE_TIMEOUT = 0x1100
READ_TIMEOUT = 0x1200
SYNTAX_ERROR = 0x2000
UNAUTHORIZED = 0x2100
INVALID = 0x2200
CONFIG_ERROR = 0x2300
ALREADY_EXISTS = 0x2400
UNPREPARED = 0x2500
_ONE = 0x0001  # consistency ONE, what the extra fields of injected timeouts and unavailables report


class ColumnSpec(Protocol):
    """A result or bind column as the codec needs it (the engine's ``Column`` is one)."""

    @property
    def keyspace(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def cqltype(self) -> Any: ...  # a subclass of cassandra.cqltypes._CassandraType (untyped upstream)


class ErrorMessage(Exception):
    """An ERROR message to answer: its code, its text and the code's extra fields, already encoded."""

    def __init__(self, code: int, message: str, extra: bytes = b"") -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


def error(exc: ErrorMessage) -> Response:
    return frames.ERROR, wire.int32(exc.code) + wire.string(exc.message) + exc.extra


def protocol_error(message: str) -> ErrorMessage:
    return ErrorMessage(PROTOCOL_ERROR, message)


def server_error(message: str) -> ErrorMessage:
    return ErrorMessage(SERVER_ERROR, message)


def bad_credentials(message: str) -> ErrorMessage:
    return ErrorMessage(BAD_CREDENTIALS, message)


def unavailable(message: str, *, consistency: int = _ONE, required: int = 1, alive: int = 0) -> ErrorMessage:
    return ErrorMessage(UNAVAILABLE, message, wire.short(consistency) + wire.int32(required) + wire.int32(alive))


def write_timeout(
    message: str, *, consistency: int = _ONE, received: int = 0, block_for: int = 1, write_type: str = "SIMPLE"
) -> ErrorMessage:
    extra = wire.short(consistency) + wire.int32(received) + wire.int32(block_for) + wire.string(write_type)
    return ErrorMessage(WRITE_TIMEOUT, message, extra)


def read_timeout(
    message: str, *, consistency: int = _ONE, received: int = 0, block_for: int = 1, data_present: bool = False
) -> ErrorMessage:
    extra = wire.short(consistency) + wire.int32(received) + wire.int32(block_for) + bytes([data_present])
    return ErrorMessage(READ_TIMEOUT, message, extra)


def already_exists(message: str, *, keyspace: str, table: str = "") -> ErrorMessage:
    return ErrorMessage(ALREADY_EXISTS, message, wire.string(keyspace) + wire.string(table))


def unprepared(message: str, *, query_id: bytes) -> ErrorMessage:
    return ErrorMessage(UNPREPARED, message, wire.short_bytes(query_id))


def ready() -> Response:
    return frames.READY, b""


def authenticate(authenticator: str) -> Response:
    return frames.AUTHENTICATE, wire.string(authenticator)


def auth_success() -> Response:
    return frames.AUTH_SUCCESS, wire.bytes_(None)


def supported(cql_version: str, protocol_versions: list[str]) -> Response:
    options = {"CQL_VERSION": [cql_version], "COMPRESSION": list(ALGORITHMS), "PROTOCOL_VERSIONS": protocol_versions}
    return frames.SUPPORTED, wire.string_multimap(options)


def metadata_id(columns: Sequence[ColumnSpec] | None) -> bytes:
    """v5 result metadata id: a digest of the result columns, so a changed table changes the id."""
    digest = hashlib.blake2b(digest_size=16)
    for column in columns or ():
        spec = (column.keyspace, column.table, column.name, column.cqltype.cass_parameterized_type(True))
        digest.update("\x00".join(spec).encode("utf-8") + b"\x01")
    return digest.digest()


def _column_specs(columns: Sequence[ColumnSpec], version: int) -> bytes:
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


def _global_flag(columns: Sequence[ColumnSpec]) -> int:
    if not columns:
        return 0
    first = columns[0]
    same = all(c.keyspace == first.keyspace and c.table == first.table for c in columns)
    return _GLOBAL_TABLES_SPEC if same else 0


def rows_metadata(
    columns: Sequence[ColumnSpec],
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
    columns: Sequence[ColumnSpec],
    values: Sequence[Sequence[Any]],
    version: int,
    *,
    paging_state: bytes | None = None,
    skip_metadata: bool = False,
    new_metadata_id: bytes | None = None,
) -> Response:
    """RESULT Rows: the metadata (unless ``skip_metadata``), then each row's values serialized by its column's type."""
    meta = rows_metadata(
        columns,
        version,
        paging_state=paging_state,
        skip_metadata=skip_metadata,
        new_metadata_id=new_metadata_id,
    )
    serializers = [c.cqltype.to_binary for c in columns]
    parts: list[bytes] = [RESULT_ROWS, meta, wire.int32(len(values))]
    append = parts.append
    for row in values:
        for serialize, value in zip(serializers, row):
            if value is None:
                append(b"\xff\xff\xff\xff")
            else:
                raw = serialize(value, version)
                append(wire.int32(len(raw)))
                append(raw)
    return frames.RESULT, b"".join(parts)


def prepared(
    query_id: bytes,
    binds: Sequence[ColumnSpec],
    pk_indexes: Sequence[int],
    result_columns: Sequence[ColumnSpec] | None,
    version: int,
) -> Response:
    """RESULT Prepared; ``result_columns`` None for a statement that returns no rows."""
    body = RESULT_PREPARED + wire.short_bytes(query_id)
    if version >= 5:
        body += wire.short_bytes(metadata_id(result_columns))
    body += wire.int32(_global_flag(binds)) + wire.int32(len(binds))
    if version >= 4:
        body += wire.int32(len(pk_indexes)) + b"".join(wire.short(i) for i in pk_indexes)
    body += _column_specs(binds, version)
    if result_columns is None:
        body += wire.int32(_NO_METADATA) + wire.int32(0)
    else:
        body += rows_metadata(result_columns, version)
    return frames.RESULT, body


def void() -> Response:
    return frames.RESULT, RESULT_VOID


def set_keyspace(keyspace: str) -> Response:
    return frames.RESULT, RESULT_SET_KEYSPACE + wire.string(keyspace)


def _schema_change_body(
    change_type: str, target: str, keyspace: str, name: str | None, arguments: Sequence[str]
) -> bytes:
    body = wire.string(change_type) + wire.string(target) + wire.string(keyspace)
    if target != "KEYSPACE":
        body += wire.string(name or "")
    if target in ("FUNCTION", "AGGREGATE"):
        body += wire.string_list(list(arguments))
    return body


def schema_change(
    change_type: str, target: str, keyspace: str, name: str | None = None, arguments: Sequence[str] = ()
) -> Response:
    """RESULT Schema_change: ``change_type`` CREATED/UPDATED/DROPPED, ``target`` KEYSPACE/TABLE/TYPE/..."""
    return frames.RESULT, RESULT_SCHEMA_CHANGE + _schema_change_body(change_type, target, keyspace, name, arguments)


def schema_change_event(
    change_type: str, target: str, keyspace: str, name: str | None = None, arguments: Sequence[str] = ()
) -> Response:
    return frames.EVENT, wire.string("SCHEMA_CHANGE") + _schema_change_body(
        change_type, target, keyspace, name, arguments
    )


def node_event(kind: str, change: str, address: str, port: int) -> Response:
    """STATUS_CHANGE (UP/DOWN) or TOPOLOGY_CHANGE (NEW_NODE/REMOVED_NODE) for one node."""
    return frames.EVENT, wire.string(kind) + wire.string(change) + wire.inet(address, port)
