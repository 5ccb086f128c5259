"""The schema: keyspaces, tables and their columns, plus the schema version every node reports.

Table definitions are never changed in place: ALTER TABLE, CREATE/DROP INDEX and ALTER TYPE put a new
``TableDef`` (same id, so the same stored data) in the keyspace; a prepared statement stays valid as long as
``Catalog.table()`` still returns the very ``TableDef`` object it was planned against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from .._errors import InvalidRequest
from .._results import Column
from ..values._types import ColumnType, sort_key

KIND_ORDER = {"partition_key": 0, "clustering": 1, "static": 2, "regular": 3}


@dataclass(frozen=True)
class ColumnDef:
    name: str
    ctype: ColumnType
    kind: str  # partition_key | clustering | static | regular  (as system_schema.columns.kind)
    position: int  # index within the partition key / clustering key, -1 otherwise
    desc: bool = False  # clustering order

    @property
    def cqltype(self) -> Any:
        return self.ctype.cqltype


@dataclass(frozen=True)
class IndexDef:
    """A secondary index on ``column``: ``target`` is values | keys | entries | full."""

    name: str
    column: str
    target: str
    target_text: str  # as ``system_schema.indexes`` options show it: ``city``, ``keys(m)``, ``values(l)``
    custom: str | None = None  # the class of a CUSTOM index


@dataclass(frozen=True)
class UserTypeDef:
    keyspace: str
    name: str
    fields: tuple[tuple[str, ColumnType], ...]


@dataclass(eq=False)
class TableDef:
    keyspace: str
    name: str
    columns: dict[str, ColumnDef]  # in Cassandra's "SELECT *" order: keys, then the rest by name
    options: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    # System tables compute their rows on every read instead of storing them.
    virtual_rows: Callable[[Any], list[dict[str, Any]]] | None = None
    indexes: dict[str, IndexDef] = field(default_factory=dict)
    dropped: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # name: (kind, type, time in s)

    def __post_init__(self) -> None:
        cols = list(self.columns.values())
        self.partition_key = sorted((c for c in cols if c.kind == "partition_key"), key=lambda c: c.position)
        self.clustering = sorted((c for c in cols if c.kind == "clustering"), key=lambda c: c.position)
        self.primary_key = self.partition_key + self.clustering
        self.regular = [c for c in cols if c.kind in ("regular", "static")]
        self.result_columns = [Column(self.keyspace, self.name, c.name, c.cqltype) for c in cols]
        self.clustering_sort = [sort_key(c.cqltype) for c in self.clustering]
        self.is_counter = any(c.ctype.is_counter for c in self.regular)
        self.has_static = any(c.kind == "static" for c in cols)

    def column(self, name: str) -> ColumnDef:
        col = self.columns.get(name)
        if col is None:
            raise InvalidRequest(f"Undefined column name {name} in table {self.keyspace}.{self.name}")
        return col


def ordered_columns(columns: list[ColumnDef]) -> dict[str, ColumnDef]:
    ordered = sorted(columns, key=lambda c: (KIND_ORDER[c.kind], max(c.position, 0), c.name))
    return {c.name: c for c in ordered}


@dataclass(eq=False)
class KeyspaceDef:
    name: str
    replication: dict[str, str]
    durable_writes: bool = True
    tables: dict[str, TableDef] = field(default_factory=dict)
    types: dict[str, UserTypeDef] = field(default_factory=dict)
    system: bool = False  # listed in system_schema, not user-modifiable
    virtual: bool = False  # listed in system_virtual_schema (4.x) instead of system_schema


class Catalog:
    def __init__(self) -> None:
        self.keyspaces: dict[str, KeyspaceDef] = {}
        self.version = uuid.uuid4()

    def changed(self) -> None:
        self.version = uuid.uuid4()

    def keyspace(self, name: str) -> KeyspaceDef:
        ks = self.keyspaces.get(name)
        if ks is None:
            raise InvalidRequest(f"Keyspace '{name}' does not exist")
        return ks

    def table(self, keyspace: str | None, name: str) -> TableDef:
        if keyspace is None:
            raise InvalidRequest(
                "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename"
            )
        ks = self.keyspaces.get(keyspace)
        if ks is None:
            raise InvalidRequest(f"Keyspace {keyspace} does not exist")
        table = ks.tables.get(name)
        if table is None:
            raise InvalidRequest(f"unconfigured table {name}")
        return table
