"""Request bodies a client sends (STARTUP, REGISTER, AUTH_RESPONSE, QUERY, PREPARE, EXECUTE, BATCH).

The query parameters differ by version: v3/v4 carry the flags in one byte, v5 in four bytes with two
more fields (keyspace, now_in_seconds); unset values (length -2) exist from v4. Every field the spec
defines is read even when the engine ignores it (serial consistency, timestamp) so the body stays in sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from ._wire import UNSET_VALUE, Malformed, Reader, UnsetValue, Value

__all__ = [
    "UNSET_VALUE",
    "BatchRequest",
    "Malformed",
    "QueryParams",
    "Reader",
    "UnsetValue",
    "Value",
    "Values",
    "batch",
    "execute",
    "prepare",
    "query",
    "query_params",
    "reader",
    "register",
    "sasl_plain",
    "startup",
]

_VALUES = 0x01
_SKIP_METADATA = 0x02
_PAGE_SIZE = 0x04
_PAGING_STATE = 0x08
_SERIAL_CONSISTENCY = 0x10
_TIMESTAMP = 0x20
_NAMES_FOR_VALUES = 0x40
_KEYSPACE = 0x80
_NOW_IN_SECONDS = 0x100
_PREPARE_WITH_KEYSPACE = 0x01

Values = Union[Sequence[Value], Mapping[str, Value], None]


@dataclass(frozen=True)
class QueryParams:
    consistency: int
    values: Values = None
    skip_metadata: bool = False
    page_size: int | None = None
    paging_state: bytes | None = None
    serial_consistency: int | None = None
    timestamp: int | None = None
    keyspace: str | None = None
    now_in_seconds: int | None = None


@dataclass(frozen=True)
class BatchRequest:
    batch_type: int  # 0 logged, 1 unlogged, 2 counter
    statements: list[tuple[str | bytes, Sequence[Value]]]
    consistency: int
    keyspace: str | None
    serial_consistency: int | None = None


def reader(body: bytes, flags: int, custom_payload_flag: int) -> Reader:
    """A reader positioned after the optional custom payload (flag 0x04 puts a [bytes map] first)."""
    r = Reader(body)
    if flags & custom_payload_flag:
        r.bytes_map()
    return r


def _check_value(value: Value, version: int) -> Value:
    if version < 4 and not isinstance(value, (bytes, type(None))):
        raise Malformed("Unset values are not supported before protocol v4")
    return value


def query_params(r: Reader, version: int) -> QueryParams:
    consistency = r.short()
    flags = r.int32() if version >= 5 else r.byte()
    values: Values = None
    if flags & _VALUES:
        count = r.short()
        if flags & _NAMES_FOR_VALUES:
            values = {r.string(): _check_value(r.value(), version) for _ in range(count)}
        else:
            values = [_check_value(r.value(), version) for _ in range(count)]
    page_size = r.int32() if flags & _PAGE_SIZE else None
    if page_size is not None and page_size <= 0:
        page_size = None  # Cassandra treats a non-positive page size as "no paging"
    paging_state = r.nullable_bytes() if flags & _PAGING_STATE else None
    serial = r.short() if flags & _SERIAL_CONSISTENCY else None
    timestamp = r.long() if flags & _TIMESTAMP else None
    keyspace = r.string() if version >= 5 and flags & _KEYSPACE else None
    now = r.int32() if version >= 5 and flags & _NOW_IN_SECONDS else None
    return QueryParams(
        consistency,
        values,
        bool(flags & _SKIP_METADATA),
        page_size,
        paging_state,
        serial,
        timestamp,
        keyspace,
        now,
    )


def query(r: Reader, version: int) -> tuple[str, QueryParams]:
    text = r.long_string()
    return text, query_params(r, version)


def execute(r: Reader, version: int) -> tuple[bytes, bytes | None, QueryParams]:
    query_id = r.short_bytes()
    result_metadata_id = r.short_bytes() if version >= 5 else None
    return query_id, result_metadata_id, query_params(r, version)


def prepare(r: Reader, version: int) -> tuple[str, str | None]:
    text = r.long_string()
    keyspace = None
    if version >= 5:
        flags = r.int32()
        if flags & _PREPARE_WITH_KEYSPACE:
            keyspace = r.string()
    return text, keyspace


def batch(r: Reader, version: int) -> BatchRequest:
    batch_type = r.byte()
    if batch_type > 2:
        raise Malformed(f"Invalid BATCH message type {batch_type}")
    statements: list[tuple[str | bytes, Sequence[Value]]] = []
    for _ in range(r.short()):
        kind = r.byte()
        if kind == 0:
            target: str | bytes = r.long_string()
        elif kind == 1:
            target = r.short_bytes()
        else:
            raise Malformed(f"Invalid query kind in BATCH messages. Must be 0 or 1 but got {kind}")
        values = [_check_value(r.value(), version) for _ in range(r.short())]
        statements.append((target, values))
    consistency = r.short()
    flags = r.int32() if version >= 5 else r.byte()
    serial = r.short() if flags & _SERIAL_CONSISTENCY else None
    if flags & _TIMESTAMP:
        r.long()
    keyspace = r.string() if version >= 5 and flags & _KEYSPACE else None
    if version >= 5 and flags & _NOW_IN_SECONDS:
        r.int32()
    return BatchRequest(batch_type, statements, consistency, keyspace, serial)


def startup(r: Reader) -> dict[str, str]:
    return r.string_map()


def register(r: Reader) -> list[str]:
    return r.string_list()


def sasl_plain(r: Reader) -> tuple[str, str]:
    """(username, password) from a SASL PLAIN token: ``authzid NUL authcid NUL password``."""
    token = r.nullable_bytes() or b""
    parts = token.split(b"\x00")
    if len(parts) != 3:
        raise Malformed("Authentication token is not a SASL PLAIN token")
    try:
        return parts[1].decode("utf-8"), parts[2].decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("Authentication token is not valid UTF-8") from None
