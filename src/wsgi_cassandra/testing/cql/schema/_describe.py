"""Server-side DESCRIBE (Cassandra 4.0+): what cqlsh 6 sends, answered with the rows a 4.0 node returns.

Listings (``DESCRIBE KEYSPACES``, ``TABLES``, ``TYPES``...) answer ``keyspace_name, type, name``; elements
(``DESCRIBE KEYSPACE ks``, ``TABLE t``, ``TYPE u``, ``INDEX i``, ``SCHEMA``) add ``create_statement``, the CQL
that recreates the element, written the way Cassandra's ``toCqlString`` writes it (what cqlsh prints).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cassandra import cqltypes

from .._errors import InvalidRequest
from .._results import Column, Rows
from ._indexes import create_statement as index_statement
from ._indexes import quote

if TYPE_CHECKING:
    from .._ast import Describe
    from ._catalog import Catalog, KeyspaceDef, TableDef, UserTypeDef

_PREFIX = "org.apache.cassandra.locator."
_NAMES = ("keyspace_name", "type", "name")
Row = list[Any]


def describe(catalog: Catalog, stmt: Describe, keyspace: str | None, cluster_name: str) -> Rows:
    kind = stmt.kind
    if kind == "cluster":
        columns = [_column(n) for n in ("cluster", "partitioner", "snitch")]
        return Rows(columns, [[cluster_name, "Murmur3Partitioner", "SimpleSnitch"]])
    if kind == "keyspaces":
        return _listing([[quote(k.name), "keyspace", quote(k.name)] for k in _sorted(catalog)])
    if kind in ("tables", "types", "functions", "aggregates"):
        spaces = [_keyspace(catalog, keyspace)] if keyspace else _sorted(catalog)
        rows = []
        for ks in spaces:
            names = sorted(ks.tables) if kind == "tables" else sorted(ks.types) if kind == "types" else []
            rows += [[quote(ks.name), kind[:-1], quote(n)] for n in names]
        return _listing(rows)
    if kind == "schema":
        rows = []
        for ks in _sorted(catalog):
            if stmt.full or not ks.system:
                rows += _keyspace_elements(ks)
        return _elements(rows)
    if kind in ("keyspace", "only keyspace"):
        name = stmt.name or keyspace
        if name is None:
            raise InvalidRequest("No keyspace specified and no current keyspace")
        ks = _keyspace(catalog, name)
        return _elements(_keyspace_elements(ks)[:1] if kind == "only keyspace" else _keyspace_elements(ks))
    ks_name = stmt.keyspace or keyspace
    if kind == "generic":
        assert stmt.name is not None
        if stmt.keyspace is None and stmt.name in catalog.keyspaces:
            return _elements(_keyspace_elements(catalog.keyspaces[stmt.name]))
        ks = _keyspace(catalog, ks_name or stmt.name)
        if stmt.name in ks.tables:
            return _elements(_table_elements(ks.tables[stmt.name]))
        found = _index(ks, stmt.name)
        if found is not None:
            return _elements([found])
        raise InvalidRequest(f"'{stmt.name}' not found in keyspace '{ks.name}'")
    if ks_name is None:
        raise InvalidRequest("No keyspace specified and no current keyspace")
    ks = _keyspace(catalog, ks_name)
    name = stmt.name or ""
    if kind == "table":
        table = ks.tables.get(name)
        if table is None:
            raise InvalidRequest(f"Table '{name}' not found in keyspace '{ks.name}'")
        return _elements(_table_elements(table))
    if kind == "type":
        udt = ks.types.get(name)
        if udt is None:
            raise InvalidRequest(f"User defined type '{name}' not found in '{ks.name}'")
        return _elements([[quote(ks.name), "type", quote(name), type_cql(udt)]])
    if kind == "index":
        found = _index(ks, name)
        if found is None:
            raise InvalidRequest(f"Table for existing index '{name}' not found in '{ks.name}'")
        return _elements([found])
    if kind == "view":
        raise InvalidRequest(f"Materialized view '{name}' not found in '{ks.name}'")
    what = "function" if kind == "function" else "aggregate"
    raise InvalidRequest(f"User defined {what} '{name}' not found in '{ks.name}'")


def _column(name: str) -> Column:
    return Column("system", "describe", name, cqltypes.UTF8Type)


def _listing(rows: list[Row]) -> Rows:
    return Rows([_column(n) for n in _NAMES], rows)


def _elements(rows: list[Row]) -> Rows:
    return Rows([_column(n) for n in (*_NAMES, "create_statement")], rows)


def _sorted(catalog: Catalog) -> list[KeyspaceDef]:
    return [catalog.keyspaces[n] for n in sorted(catalog.keyspaces)]


def _keyspace(catalog: Catalog, name: str) -> KeyspaceDef:
    ks = catalog.keyspaces.get(name)
    if ks is None:
        raise InvalidRequest(f"'{name}' not found in keyspaces")
    return ks


def _index(ks: KeyspaceDef, name: str) -> Row | None:
    for table in ks.tables.values():
        index = table.indexes.get(name)
        if index is not None:
            return [quote(ks.name), "index", quote(name), index_statement(table, index)]
    return None


def _keyspace_elements(ks: KeyspaceDef) -> list[Row]:
    rows: list[Row] = [[quote(ks.name), "keyspace", quote(ks.name), keyspace_cql(ks)]]
    rows += [[quote(ks.name), "type", quote(n), type_cql(ks.types[n])] for n in sorted(ks.types)]
    for name in sorted(ks.tables):
        rows += _table_elements(ks.tables[name])
    return rows


def _table_elements(table: TableDef) -> list[Row]:
    ks = quote(table.keyspace)
    rows: list[Row] = [[ks, "table", quote(table.name), table_cql(table)]]
    for name in sorted(table.indexes):
        rows.append([ks, "index", quote(name), index_statement(table, table.indexes[name])])
    return rows


def keyspace_cql(ks: KeyspaceDef) -> str:
    replication = dict(ks.replication)
    strategy = replication.pop("class", "")
    strategy = strategy[len(_PREFIX) :] if strategy.startswith(_PREFIX) else strategy
    pairs = [("class", strategy), *sorted(replication.items())]
    text = ", ".join(f"{_string(k)}: {_string(v)}" for k, v in pairs)
    durable = "true" if ks.durable_writes else "false"
    return f"CREATE KEYSPACE {quote(ks.name)} WITH replication = {{{text}}}  AND durable_writes = {durable};"


def type_cql(udt: UserTypeDef) -> str:
    fields = ",\n".join(f"    {quote(f)} {c.text}" for f, c in udt.fields)
    return f"CREATE TYPE {quote(udt.keyspace)}.{quote(udt.name)} (\n{fields}\n);"


def table_cql(table: TableDef) -> str:
    single = len(table.partition_key) == 1 and not table.clustering
    lines = []
    for col in table.columns.values():
        line = f"    {quote(col.name)} {col.ctype.text}"
        if col.kind == "static":
            line += " static"
        if single and col.kind == "partition_key":
            line += " PRIMARY KEY"
        lines.append(line)
    if not single:
        pk = [quote(c.name) for c in table.partition_key]
        key = pk[0] if len(pk) == 1 else f"({', '.join(pk)})"
        lines.append(f"    PRIMARY KEY ({', '.join([key] + [quote(c.name) for c in table.clustering])})")
    options = [f"{name} = {_option(table.options[name])}" for name in sorted(table.options)]
    if table.clustering:
        order = ", ".join(f"{quote(c.name)} {'DESC' if c.desc else 'ASC'}" for c in table.clustering)
        options.insert(0, f"CLUSTERING ORDER BY ({order})")
    body = ",\n".join(lines)
    return (
        f"CREATE TABLE {quote(table.keyspace)}.{quote(table.name)} (\n{body}\n) WITH "
        + "\n    AND ".join(options)
        + ";"
    )


def _string(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)}: {_string(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (int, float)):
        return repr(value)
    return _string(value)
