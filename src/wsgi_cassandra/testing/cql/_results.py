"""What the engine returns for a statement; the server runtime has each encoded as a RESULT message.

Values in rows are plain Python values; ``Column.cqltype`` is the driver's own type class
(``cassandra.cqltypes``), so encoding is ``column.cqltype.to_binary(value, protocol_version)`` and the
type option in the metadata is derived from ``cqltype.typename`` / ``cqltype.subtypes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Column:
    keyspace: str
    table: str
    name: str
    cqltype: Any  # a subclass of cassandra.cqltypes._CassandraType (untyped upstream)


@dataclass(frozen=True)
class Void:
    pass


@dataclass(frozen=True)
class Rows:
    columns: list[Column]
    rows: list[list[Any]]
    paging_state: bytes | None = None


@dataclass(frozen=True)
class SetKeyspace:
    keyspace: str


@dataclass(frozen=True)
class Prepared:
    query_id: bytes
    bind_columns: list[Column]
    pk_indexes: list[int]
    result_columns: list[Column] | None  # None: no result rows (INSERT/UPDATE/DELETE/DDL)


@dataclass(frozen=True)
class SchemaChange:
    change_type: str  # "CREATED" | "UPDATED" | "DROPPED"
    target: str  # "KEYSPACE" | "TABLE" | "TYPE" | "FUNCTION" | "AGGREGATE"
    keyspace: str
    name: str | None = None
    arguments: list[str] = field(default_factory=list)  # FUNCTION/AGGREGATE only


Result = Union[Void, Rows, SetKeyspace, Prepared, SchemaChange]


class Unset:
    """A bound value the client marked "unset" (protocol v4+): leave the column as it is."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()
