"""Schema statements: CREATE/ALTER/DROP KEYSPACE, TABLE, TYPE and INDEX, TRUNCATE, USE, DESCRIBE."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .._ast import (
    AlterKeyspace,
    AlterTable,
    AlterType,
    CreateIndex,
    CreateKeyspace,
    CreateTable,
    CreateType,
    Describe,
    DropIndex,
    DropKeyspace,
    DropTable,
    DropType,
    Statement,
    TableRef,
    Truncate,
    TypeSpec,
    Use,
)
from .._errors import ConfigError, CQLSyntaxError, InvalidRequest

if TYPE_CHECKING:
    from ._tokens import TokenStream


def parse_use(ts: TokenStream) -> Use:
    return Use(ts.identifier("a keyspace name"))


def parse_create(ts: TokenStream) -> Statement:
    if ts.accept("keyspace") or ts.accept("schema"):
        return _create_keyspace(ts)
    if ts.accept("table") or ts.accept("columnfamily"):
        return _create_table(ts)
    if ts.accept("index"):
        return _create_index(ts, None)
    if ts.accept("custom"):
        ts.expect("index")
        return _create_index(ts, "")
    if ts.accept("type"):
        if_not_exists = ts.if_not_exists()
        ref = ts.table_ref()
        ts.expect_op("(")
        fields = [_field(ts)]
        while ts.accept_op(","):
            fields.append(_field(ts))
        ts.expect_op(")")
        return CreateType(ref, tuple(fields), if_not_exists)
    if ts.at("materialized"):  # a default 4.0 node refuses them just so
        raise InvalidRequest("Materialized views are disabled. Enable in cassandra.yaml to use.")
    if ts.accept("or"):
        ts.expect("replace")
    if ts.at("function"):
        raise InvalidRequest(
            "User-defined functions are disabled in cassandra.yaml - set enable_user_defined_functions=true to enable"
        )
    tok = ts.peek()
    if tok.kind == "ident" and tok.value in ("aggregate", "role"):
        raise _unsupported(ts, f"CREATE {tok.value.upper()}")
    if tok.kind == "ident" and tok.value in ("materialized", "trigger", "user", "or"):
        raise _unsupported(ts, f"CREATE {tok.value.upper()}")
    ts.fail("KEYSPACE or TABLE")


def parse_drop(ts: TokenStream) -> Statement:
    if ts.accept("keyspace") or ts.accept("schema"):
        if_exists = ts.if_exists()
        return DropKeyspace(ts.identifier("a keyspace name"), if_exists)
    if ts.accept("table") or ts.accept("columnfamily"):
        if_exists = ts.if_exists()
        return DropTable(ts.table_ref(), if_exists)
    if ts.accept("index"):
        if_exists = ts.if_exists()
        ref = ts.table_ref()
        return DropIndex(ref.keyspace, ref.name, if_exists)
    if ts.accept("type"):
        if_exists = ts.if_exists()
        return DropType(ts.table_ref(), if_exists)
    tok = ts.peek()
    if tok.kind == "ident":
        raise _unsupported(ts, f"DROP {tok.value.upper()}")
    ts.fail("KEYSPACE or TABLE")


def parse_truncate(ts: TokenStream) -> Truncate:
    ts.accept("table")
    return Truncate(ts.table_ref())


def _unsupported(ts: TokenStream, what: str) -> CQLSyntaxError:
    noun = {"CREATE INDEX": "secondary indexes", "CREATE CUSTOM": "custom secondary indexes"}.get(
        what, f"{what} statements"
    )
    return CQLSyntaxError(f"line 1:{ts.peek().pos} wsgi_cassandra test server: {noun} are not supported")


def _field(ts: TokenStream) -> tuple[str, TypeSpec]:
    return ts.identifier("a field name"), ts.type_spec()


def _create_index(ts: TokenStream, custom: str | None) -> CreateIndex:
    if_not_exists = ts.if_not_exists()
    name = None if ts.at("on") else ts.identifier("an index name")
    ts.expect("on")
    table = ts.table_ref()
    ts.expect_op("(")
    target = "values"
    if ts.at("keys", "values", "entries", "full") and ts.peek(1).kind == "op" and ts.peek(1).value == "(":
        target = ts.identifier()
        ts.expect_op("(")
        column = ts.identifier("a column name")
        ts.expect_op(")")
    else:
        column = ts.identifier("a column name")
    ts.expect_op(")")
    if custom is not None:
        ts.expect("using")
        tok = ts.next()
        custom = tok.value
        if ts.accept("with"):
            ts.expect("options")
            ts.expect_op("=")
            ts.option_value()
    return CreateIndex(name, table, column, target, if_not_exists, custom)


def parse_alter(ts: TokenStream) -> Statement:
    if ts.accept("keyspace") or ts.accept("schema"):
        name = ts.identifier("a keyspace name")
        ts.expect("with")
        replication, durable_writes = _keyspace_options(ts)
        return AlterKeyspace(name, replication or None, durable_writes)
    if ts.accept("table") or ts.accept("columnfamily"):
        return _alter_table(ts, ts.table_ref())
    if ts.accept("type"):
        ref = ts.table_ref()
        if ts.accept("add"):
            return AlterType(ref, add=_field(ts))
        if ts.accept("rename"):
            return AlterType(ref, renames=_renames(ts))
        if ts.accept("alter"):
            raise InvalidRequest("Altering field types is no longer supported")
        ts.fail("ADD or RENAME")
    tok = ts.peek()
    if tok.kind == "ident":
        raise _unsupported(ts, f"ALTER {tok.value.upper()}")
    ts.fail("KEYSPACE, TABLE or TYPE")


def _renames(ts: TokenStream) -> tuple[tuple[str, str], ...]:
    renames = []
    while True:
        old = ts.identifier("a column name")
        ts.expect("to")
        renames.append((old, ts.identifier("a column name")))
        if not ts.accept("and"):
            return tuple(renames)


def _alter_table(ts: TokenStream, table: TableRef) -> AlterTable:
    if ts.accept("add"):
        columns: list[tuple[str, TypeSpec]] = []
        static: set[str] = set()
        parens = ts.accept_op("(")
        while True:
            name, spec = _field(ts)
            columns.append((name, spec))
            if ts.accept("static"):
                static.add(name)
            if not (parens and ts.accept_op(",")):
                break
        if parens:
            ts.expect_op(")")
        return AlterTable(table, "add", columns=tuple(columns), static=frozenset(static))
    if ts.accept("drop"):
        names = _names(ts, "a column name")
        if ts.accept("using"):
            ts.expect("timestamp")
            ts.term()
        return AlterTable(table, "drop", names=tuple(names))
    if ts.accept("rename"):
        return AlterTable(table, "rename", renames=_renames(ts))
    if ts.accept("with"):
        return AlterTable(table, "with", options=_properties(ts, "a table option"))
    if ts.accept("alter"):
        ts.identifier("a column name")
        ts.expect("type")
        ts.type_spec()
        return AlterTable(table, "alter")
    ts.fail("ADD, DROP, RENAME, ALTER or WITH")


def parse_describe(ts: TokenStream) -> Describe:
    full = ts.accept("full")
    if ts.accept("schema"):
        return Describe("schema", full=full)
    if ts.accept("cluster"):
        return Describe("cluster")
    for plural in ("keyspaces", "tables", "types", "functions", "aggregates"):
        if ts.accept(plural):
            return Describe(plural)
    only = ts.accept("only")
    if ts.accept("keyspace"):
        name = None if ts.peek().kind == "eof" or ts.at_op(";") else ts.identifier("a keyspace name")
        return Describe("only keyspace" if only else "keyspace", name=name)
    for kind in ("table", "columnfamily", "type", "index", "function", "aggregate"):
        if ts.accept(kind):
            ref = ts.table_ref()
            return Describe("table" if kind == "columnfamily" else kind, ref.keyspace, ref.name)
    if ts.accept("materialized"):
        ts.expect("view")
        ref = ts.table_ref()
        return Describe("view", ref.keyspace, ref.name)
    ref = ts.table_ref()
    return Describe("generic", ref.keyspace, ref.name)


def _properties(ts: TokenStream, what: str) -> dict[str, object]:
    """``name = value AND ...`` after WITH, as Cassandra's ``properties`` rule collects them: a name given twice
    is a syntax error (``PropertyDefinitions.addProperty``)."""
    properties: dict[str, object] = {}
    while True:
        option = ts.identifier(what)
        ts.expect_op("=")
        if option in properties:
            raise CQLSyntaxError(f"Multiple definition for property '{option}'")
        properties[option] = ts.option_value()
        if not ts.accept("and"):
            return properties


def _keyspace_options(ts: TokenStream) -> tuple[dict[str, str] | None, bool | None]:
    """The options after CREATE/ALTER KEYSPACE ... WITH, checked as ``KeyspaceAttributes.validate`` does before
    anything else (so before the keyspace is looked up): an unknown option is a syntax error, and so is a
    replication that is not a map; a replication map without a class is a configuration error."""
    properties = _properties(ts, "a keyspace option")
    for option in properties:
        if option not in ("replication", "durable_writes"):
            raise CQLSyntaxError(f"Unknown property '{option}'")
    replication = properties.get("replication")
    if replication is not None and not isinstance(replication, dict):
        raise CQLSyntaxError("Invalid value for property 'replication'. It should be a map.")
    if replication and "class" not in replication:
        raise ConfigError("Missing replication strategy class")
    durable_writes = properties.get("durable_writes")
    if durable_writes is None:
        return replication, None
    if not isinstance(durable_writes, str):
        raise CQLSyntaxError("Invalid value for property 'durable_writes'. It should be a string")
    return replication, re.fullmatch("1|true|yes", durable_writes.lower()) is not None  # getBoolean


def _create_keyspace(ts: TokenStream) -> CreateKeyspace:
    if_not_exists = ts.if_not_exists()
    name = ts.identifier("a keyspace name")
    ts.expect("with")  # the grammar requires WITH: there is no keyspace without replication
    replication, durable_writes = _keyspace_options(ts)
    if replication is None:
        raise InvalidRequest("Missing mandatory option 'replication'")
    return CreateKeyspace(name, if_not_exists, replication, durable_writes is not False)


def _create_table(ts: TokenStream) -> CreateTable:
    """CREATE TABLE: what Cassandra 4.0's grammar actions check while parsing (``CreateTableStatement.Raw``:
    a column declared twice, a second PRIMARY KEY, a column ordered twice) answers as they do, at once."""
    if_not_exists = ts.if_not_exists()
    table = ts.table_ref()
    where = f"{table.keyspace}.{table.name}" if table.keyspace else table.name  # QualifiedName.toString
    ts.expect_op("(")
    columns: list[tuple[str, TypeSpec]] = []
    static: set[str] = set()
    partition: tuple[str, ...] | None = None
    clustering: tuple[str, ...] = ()

    def set_partition_key(key: tuple[str, ...]) -> tuple[str, ...]:
        if partition is not None:
            raise InvalidRequest(f"Multiple PRIMARY KEY specified for table '{where}' (exactly one required)")
        return key

    while True:
        if ts.accept("primary"):
            ts.expect("key")
            ts.expect_op("(")
            key = tuple(_names(ts, "a partition key column"))
            partition = set_partition_key(key)
            clustering_columns: list[str] = []
            while ts.accept_op(","):
                clustering_columns.append(ts.identifier("a clustering column"))
            clustering += tuple(clustering_columns)
            ts.expect_op(")")
        else:
            name = ts.identifier("a column definition")
            spec = ts.type_spec()
            if any(name == seen for seen, _ in columns):
                raise InvalidRequest(f"Duplicate column '{name}' declaration for table '{where}'")
            columns.append((name, spec))
            if ts.accept("static"):
                static.add(name)
            if ts.accept("primary"):
                ts.expect("key")
                partition = set_partition_key((name,))
        if ts.accept_op(")"):
            break
        ts.expect_op(",")
        if ts.accept_op(")"):
            break
    order: dict[str, bool] = {}
    options: dict[str, object] = {}
    if ts.accept("with"):
        while True:
            if ts.accept("clustering"):
                ts.expect("order")
                ts.expect("by")
                ts.expect_op("(")
                while True:
                    col = ts.identifier("a clustering column")
                    if not ts.at("asc", "desc"):  # tableClusteringOrder: k=ident (K_ASC | K_DESC)
                        ts.no_viable_alternative()
                    if col in order:
                        raise InvalidRequest(
                            f"Duplicate column '{col}' in CLUSTERING ORDER BY clause for table '{where}'"
                        )
                    order[col] = ts.next().value == "desc"
                    if not ts.accept_op(","):
                        break
                ts.expect_op(")")
            elif ts.accept("compact"):
                ts.expect("storage")
                raise InvalidRequest("wsgi_cassandra test server: COMPACT STORAGE is not supported")
            else:
                option = ts.identifier("a table option")
                ts.expect_op("=")
                if option in options:
                    raise CQLSyntaxError(f"Multiple definition for property '{option}'")
                options[option] = ts.option_value()
            if not ts.accept("and"):
                break
    if partition is None:  # CreateTableStatement.Raw.prepare, once the statement parsed
        raise InvalidRequest(f"No PRIMARY KEY specifed for table '{where}' (exactly one required)")
    return CreateTable(
        table, if_not_exists, tuple(columns), frozenset(static), partition, clustering, tuple(order.items()), options
    )


def _names(ts: TokenStream, what: str) -> list[str]:
    """``name`` or ``(name, name, ...)``."""
    if not ts.accept_op("("):
        return [ts.identifier(what)]
    names = [ts.identifier(what)]
    while ts.accept_op(","):
        names.append(ts.identifier(what))
    ts.expect_op(")")
    return names
