"""ALTER KEYSPACE and ALTER TABLE (ADD, DROP, RENAME, WITH), with Cassandra 4.0's checks and messages.

A changed table is a new ``TableDef`` with the same id (see ``_catalog``), so the stored rows stay and every
cached plan on the old definition is rebuilt (a prepared one answers ``Unprepared`` and is re-prepared).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .._errors import InvalidRequest
from .._results import SchemaChange
from ._catalog import ColumnDef, ordered_columns
from ._create_drop import datacenters, merge_options, replication, user_keyspace
from ._user_types import rebuilt, resolve_in

if TYPE_CHECKING:
    from .._ast import AlterKeyspace, AlterTable
    from .._context import State
    from ._catalog import TableDef


def alter_keyspace(state: State, stmt: AlterKeyspace) -> SchemaChange:
    if stmt.name not in state.catalog.keyspaces:
        raise InvalidRequest(f"Keyspace '{stmt.name}' doesn't exist")
    ks = user_keyspace(state, stmt.name)
    if stmt.replication is not None:
        ks.replication = replication(stmt.replication, ks.name, datacenters(state))
    if stmt.durable_writes is not None:
        ks.durable_writes = stmt.durable_writes
    state.catalog.changed()
    return SchemaChange("UPDATED", "KEYSPACE", ks.name)


def alter_table(state: State, stmt: AlterTable, keyspace: str | None) -> SchemaChange:
    ks_name = stmt.table.keyspace or keyspace
    if ks_name is None:
        raise InvalidRequest("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    if ks_name not in state.catalog.keyspaces:
        raise InvalidRequest(f"Keyspace '{ks_name}' doesn't exist")
    ks = user_keyspace(state, ks_name)
    table = ks.tables.get(stmt.table.name)
    if table is None:
        raise InvalidRequest(f"Table '{ks_name}.{stmt.table.name}' doesn't exist")
    where = f"'{ks_name}.{table.name}'"
    if stmt.action == "add":
        new = _add(state, stmt, table)
    elif stmt.action == "drop":
        new = _drop(state, stmt, table, where)
    elif stmt.action == "rename":
        new = _rename(stmt, table, where)
    elif stmt.action == "with":
        options = merge_options(state, stmt.options, table.options)
        if options["default_time_to_live"] > 0 and any(c.ctype.is_counter for c in table.columns.values()):
            raise InvalidRequest("Cannot set default_time_to_live on a table with counters")
        new = rebuilt(table, options=options)
    else:
        raise InvalidRequest("Altering column types is no longer supported")
    ks.tables[table.name] = new
    state.catalog.changed()
    return SchemaChange("UPDATED", "TABLE", ks_name, table.name)


def _add(state: State, stmt: AlterTable, table: TableDef) -> TableDef:
    ks = state.catalog.keyspaces[table.keyspace]
    columns = dict(table.columns)
    for name, spec in stmt.columns:
        if name in columns:
            raise InvalidRequest(f"Column with name '{name}' already exists")
        ctype = resolve_in(ks, spec)
        static = name in stmt.static
        if static and not table.clustering:
            raise InvalidRequest(
                "Static columns are only useful (and thus allowed) if the table has at least one clustering column"
            )
        if ctype.is_counter and not table.is_counter and table.regular:
            raise InvalidRequest(f"Cannot add a counter column ({name}) in a non counter table")
        if table.is_counter and not ctype.is_counter:
            raise InvalidRequest(f"Cannot add a non counter column ({name}) in a counter table")
        columns[name] = ColumnDef(name, ctype, "static" if static else "regular", -1)
    return rebuilt(table, columns=ordered_columns(list(columns.values())))


def _drop(state: State, stmt: AlterTable, table: TableDef, where: str) -> TableDef:
    columns = dict(table.columns)
    dropped = dict(table.dropped)
    for name in stmt.names:
        col = columns.get(name)
        if col is None:
            raise InvalidRequest(f"Column {name} was not found in table {where}")
        if col.kind in ("partition_key", "clustering"):
            raise InvalidRequest(f"Cannot drop PRIMARY KEY column {name}")
        dependent = [i.name for i in table.indexes.values() if i.column == name]
        if dependent:
            raise InvalidRequest(
                f"Cannot drop column {name} because it has dependent secondary indexes ({', '.join(dependent)})"
            )
        del columns[name]
        dropped[name] = (col.kind, col.ctype.text, state.clock())
    data = state.data.get(table.id)
    if data is not None:
        for part in data.partitions.values():
            for name in stmt.names:
                part.static.pop(name, None)
            for row in part.rows.values():
                for name in stmt.names:
                    row.cells.pop(name, None)
    return rebuilt(table, columns=ordered_columns(list(columns.values())), dropped=dropped)


def _rename(stmt: AlterTable, table: TableDef, where: str) -> TableDef:
    columns = dict(table.columns)
    indexes = dict(table.indexes)
    for old, new in stmt.renames:
        col = columns.get(old)
        if col is None:
            raise InvalidRequest(f"Column {old} was not found in table {where}")
        if col.kind not in ("partition_key", "clustering"):
            raise InvalidRequest(f"Cannot rename non PRIMARY KEY column {old}")
        if new in columns:
            raise InvalidRequest(
                f"Cannot rename column {old} to {new} in table {where}; another column with that name already exists"
            )
        del columns[old]
        columns[new] = dataclasses.replace(col, name=new)
        for key, index in indexes.items():
            if index.column == old:
                indexes[key] = dataclasses.replace(index, column=new, target_text=index.target_text.replace(old, new))
    return rebuilt(table, columns=ordered_columns(list(columns.values())), indexes=indexes)
