"""Secondary indexes: CREATE/DROP INDEX, their ``system_schema.indexes`` rows, and which index serves a query.

An index here is metadata only: a query through an index scans the table and filters, in token order, which
gives the rows a real node returns (just slower on big tables). What matters for fidelity is which queries an
index makes legal (``WHERE city = ?`` without ALLOW FILTERING), and the schema the driver reads back.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequest
from .._results import SchemaChange, Void
from ..plan._where import FILTERING
from ._catalog import IndexDef
from ._user_types import rebuilt

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._ast import CreateIndex, DropIndex, Relation
    from .._context import State
    from ._catalog import KeyspaceDef, TableDef

_OP_FOR_TARGET = {"values": ("=",), "keys": ("contains key",), "full": ("=",)}


def quote(name: str) -> str:
    """An identifier as CQL writes it: bare when lower-case word characters, else double-quoted."""
    if re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _ks_name(state: State, explicit: str | None, keyspace: str | None) -> str:
    name = explicit or keyspace
    if name is None:
        raise InvalidRequest("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    return name


def find(ks: KeyspaceDef, name: str) -> tuple[TableDef, IndexDef] | None:
    for table in ks.tables.values():
        if name in table.indexes:
            return table, table.indexes[name]
    return None


def create_index(state: State, stmt: CreateIndex, keyspace: str | None) -> SchemaChange | Void:
    ks_name = _ks_name(state, stmt.table.keyspace, keyspace)
    ks = state.catalog.keyspaces.get(ks_name)
    if ks is None:
        raise InvalidRequest(f"Keyspace '{ks_name}' doesn't exist")
    table = ks.tables.get(stmt.table.name)
    if table is None:
        raise InvalidRequest(f"Table '{stmt.table.name}' doesn't exist")
    if stmt.name is not None and find(ks, stmt.name) is not None:
        if stmt.if_not_exists:
            return Void()
        raise InvalidRequest(f"Index '{stmt.name}' already exists")
    if stmt.custom is not None:
        if stmt.custom.endswith("SASIIndex"):
            raise InvalidRequest("SASI indexes are disabled. Enable in cassandra.yaml to use.")
        raise InvalidRequest(f"wsgi_cassandra test server: custom indexes ({stmt.custom}) are not supported")
    if table.is_counter:
        raise InvalidRequest("Secondary indexes on counter tables aren't supported")
    col = table.columns.get(stmt.column)
    if col is None:
        raise InvalidRequest(f"Column '{stmt.column}' doesn't exist")
    ctype = col.ctype
    target = stmt.target
    collection = ctype.is_collection
    if target == "values" and collection and not ctype.frozen:
        target_text = f"values({quote(col.name)})"
    elif target == "values":
        target_text = quote(col.name)
    else:
        target_text = f"{target}({quote(col.name)})"
    if ctype.spec.name in ks.types and not ctype.frozen:
        raise InvalidRequest(f"Cannot create index on non-frozen UDT column {col.name}")
    if ctype.spec.name == "duration":
        raise InvalidRequest("Secondary indexes are not supported on duration columns")
    if col.kind == "partition_key" and len(table.partition_key) == 1:
        raise InvalidRequest(f"Cannot create secondary index on the only partition key column {col.name}")
    if collection and ctype.frozen and target != "full":
        what = "values" if target == "values" else target
        raise InvalidRequest(
            f"Cannot create {what}() index on frozen column {col.name}. Frozen collections are immutable and must be "
            f"fully indexed by using the 'full({col.name})' modifier"
        )
    if target == "full" and not (collection and ctype.frozen):
        raise InvalidRequest("full() indexes can only be created on frozen collections")
    if not collection and target not in ("values", "full"):
        raise InvalidRequest(
            f"Cannot create {target}() index on {col.name}. Non-collection columns only support simple indexes"
        )
    if target in ("keys", "entries") and ctype.spec.name != "map":
        raise InvalidRequest(f"Cannot create index on {target} of column {col.name} with non-map type")
    name = stmt.name or _available_name(ks, re.sub(r"\W", "", f"{table.name}_{col.name}_idx"))
    index = IndexDef(name, col.name, target, target_text)
    for other in table.indexes.values():
        if (other.column, other.target) == (index.column, index.target):
            if stmt.if_not_exists:
                return Void()
            raise InvalidRequest(f"Index {name} is a duplicate of existing index {other.name}")
    ks.tables[table.name] = rebuilt(table, indexes={**table.indexes, name: index})
    state.catalog.changed()
    return SchemaChange("UPDATED", "TABLE", ks.name, table.name)


def _available_name(ks: KeyspaceDef, base: str) -> str:
    name, i = base, 0
    while find(ks, name) is not None:
        i += 1
        name = f"{base}_{i}"
    return name


def drop_index(state: State, stmt: DropIndex, keyspace: str | None) -> SchemaChange | Void:
    ks_name = _ks_name(state, stmt.keyspace, keyspace)
    ks = state.catalog.keyspaces.get(ks_name)
    found = find(ks, stmt.name) if ks is not None else None
    if ks is None or found is None:
        if stmt.if_exists:
            return Void()
        raise InvalidRequest(f"Index '{ks_name}.{stmt.name}' doesn't exist'")
    table, _ = found
    ks.tables[table.name] = rebuilt(table, indexes={k: v for k, v in table.indexes.items() if k != stmt.name})
    state.catalog.changed()
    return SchemaChange("UPDATED", "TABLE", ks.name, table.name)


def index_rows(keyspaces: list[KeyspaceDef]) -> list[dict[str, Any]]:
    """``system_schema.indexes`` rows."""
    return [
        {
            "keyspace_name": ks.name,
            "table_name": table.name,
            "index_name": index.name,
            "kind": "CUSTOM" if index.custom else "COMPOSITES",
            "options": {"target": index.target_text},
        }
        for ks in keyspaces
        for table in ks.tables.values()
        for index in table.indexes.values()
    ]


def serving_index(table: TableDef, relations: Sequence[Relation]) -> Relation | None:
    """The relation an index of ``table`` can serve (``col = v`` on an indexed column, ``CONTAINS``...)."""
    for rel in relations:
        for index in table.indexes.values():
            if index.column != rel.column:
                continue
            ops = _OP_FOR_TARGET.get(index.target, ())
            if index.target == "values" and table.columns[rel.column].ctype.is_collection:
                ops = ("contains",) if not table.columns[rel.column].ctype.frozen else ("=",)
            if rel.op in ops:
                return rel
    return None


def create_statement(table: TableDef, index: IndexDef) -> str:
    """``CREATE INDEX name ON ks.table (target);`` as DESCRIBE shows it."""
    return f"CREATE INDEX {quote(index.name)} ON {quote(table.keyspace)}.{quote(table.name)} ({index.target_text});"


def check_index_query(table: TableDef, relations: Sequence[Relation], allow_filtering: bool) -> None:
    """A query through an index still needs ALLOW FILTERING for any other restriction on a non-key column."""
    served = serving_index(table, relations)
    others = [r for r in relations if r is not served and table.columns[r.column].kind in ("regular", "static")]
    if others and not allow_filtering:
        raise InvalidRequest(FILTERING)
