"""Schema statements: CREATE/DROP KEYSPACE and TABLE, TRUNCATE, USE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CQLSyntaxError, InvalidRequest
from .ast import CreateKeyspace, CreateTable, DropKeyspace, DropTable, Truncate, TypeSpec, Use

if TYPE_CHECKING:
    from .parser_base import TokenStream


def parse_use(ts: TokenStream) -> Use:
    return Use(ts.identifier("a keyspace name"))


def parse_create(ts: TokenStream) -> CreateKeyspace | CreateTable:
    if ts.accept("keyspace") or ts.accept("schema"):
        return _create_keyspace(ts)
    if ts.accept("table") or ts.accept("columnfamily"):
        return _create_table(ts)
    tok = ts.peek()
    if tok.kind == "ident" and tok.value in ("index", "custom", "type", "function", "aggregate", "role"):
        raise _unsupported(ts, f"CREATE {tok.value.upper()}")
    if tok.kind == "ident" and tok.value in ("materialized", "trigger", "user", "or"):
        raise _unsupported(ts, f"CREATE {tok.value.upper()}")
    ts.fail("KEYSPACE or TABLE")


def parse_drop(ts: TokenStream) -> DropKeyspace | DropTable:
    if ts.accept("keyspace") or ts.accept("schema"):
        if_exists = ts.if_exists()
        return DropKeyspace(ts.identifier("a keyspace name"), if_exists)
    if ts.accept("table") or ts.accept("columnfamily"):
        if_exists = ts.if_exists()
        return DropTable(ts.table_ref(), if_exists)
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


def _create_keyspace(ts: TokenStream) -> CreateKeyspace:
    if_not_exists = ts.if_not_exists()
    name = ts.identifier("a keyspace name")
    replication: dict[str, str] = {}
    durable_writes = True
    if ts.accept("with"):
        while True:
            option = ts.identifier("a keyspace option")
            ts.expect_op("=")
            value = ts.option_value()
            if option == "replication" and isinstance(value, dict):
                replication = value
            elif option == "durable_writes" and isinstance(value, str):
                durable_writes = value.lower() == "true"
            else:
                raise InvalidRequest(f"Unknown or invalid keyspace option {option!r}")
            if not ts.accept("and"):
                break
    if not replication:
        raise InvalidRequest("Missing mandatory option 'replication'")
    return CreateKeyspace(name, if_not_exists, replication, durable_writes)


def _create_table(ts: TokenStream) -> CreateTable:
    if_not_exists = ts.if_not_exists()
    table = ts.table_ref()
    ts.expect_op("(")
    columns: list[tuple[str, TypeSpec]] = []
    static: set[str] = set()
    partition: tuple[str, ...] = ()
    clustering: tuple[str, ...] = ()
    while True:
        if ts.accept("primary"):
            ts.expect("key")
            if partition:
                raise InvalidRequest("Multiple PRIMARY KEYs specified (exactly one required)")
            partition, clustering = _primary_key(ts)
        else:
            name = ts.identifier("a column definition")
            columns.append((name, ts.type_spec()))
            if ts.accept("static"):
                static.add(name)
            if ts.accept("primary"):
                ts.expect("key")
                if partition:
                    raise InvalidRequest("Multiple PRIMARY KEYs specified (exactly one required)")
                partition = (name,)
        if ts.accept_op(")"):
            break
        ts.expect_op(",")
        if ts.accept_op(")"):
            break
    if not partition:
        raise InvalidRequest("No PRIMARY KEY specifed for table (exactly one required)")
    order: list[tuple[str, bool]] = []
    options: dict[str, object] = {}
    if ts.accept("with"):
        while True:
            if ts.accept("clustering"):
                ts.expect("order")
                ts.expect("by")
                ts.expect_op("(")
                while True:
                    col = ts.identifier("a clustering column")
                    desc = ts.accept("desc")
                    if not desc:
                        ts.accept("asc")
                    order.append((col, desc))
                    if not ts.accept_op(","):
                        break
                ts.expect_op(")")
            elif ts.accept("compact"):
                ts.expect("storage")
                raise InvalidRequest("wsgi_cassandra test server: COMPACT STORAGE is not supported")
            else:
                option = ts.identifier("a table option")
                ts.expect_op("=")
                options[option] = ts.option_value()
            if not ts.accept("and"):
                break
    return CreateTable(
        table, if_not_exists, tuple(columns), frozenset(static), partition, clustering, tuple(order), options
    )


def _primary_key(ts: TokenStream) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ts.expect_op("(")
    if ts.accept_op("("):
        partition = [ts.identifier("a partition key column")]
        while ts.accept_op(","):
            partition.append(ts.identifier("a partition key column"))
        ts.expect_op(")")
    else:
        partition = [ts.identifier("a partition key column")]
    clustering: list[str] = []
    while ts.accept_op(","):
        clustering.append(ts.identifier("a clustering column"))
    ts.expect_op(")")
    return tuple(partition), tuple(clustering)
