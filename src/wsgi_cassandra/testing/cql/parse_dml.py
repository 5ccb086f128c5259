"""Data statements: SELECT, INSERT, UPDATE, DELETE and BEGIN ... APPLY BATCH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CQLSyntaxError
from .ast import Arithmetic, Batch, Delete, Insert, Select, Selector, Term, Update

if TYPE_CHECKING:
    from .parser_base import TokenStream


def _unsupported(ts: TokenStream, what: str) -> CQLSyntaxError:
    return CQLSyntaxError(f"line 1:{ts.peek().pos} wsgi_cassandra test server: {what} is not supported")


def parse_select(ts: TokenStream) -> Select:
    if ts.at("json"):
        raise _unsupported(ts, "SELECT JSON")
    distinct = ts.accept("distinct")
    selectors = None if ts.accept_op("*") else _selectors(ts)
    ts.expect("from")
    table = ts.table_ref()
    where = ts.where() if ts.accept("where") else ()
    if ts.at("group"):
        raise _unsupported(ts, "GROUP BY")
    order: list[tuple[str, bool]] = []
    if ts.accept("order"):
        ts.expect("by")
        while True:
            column = ts.identifier("a clustering column")
            desc = ts.accept("desc")
            if not desc:
                ts.accept("asc")
            order.append((column, desc))
            if not ts.accept_op(","):
                break
    per_partition_limit: Term | None = None
    if ts.accept("per"):
        ts.expect("partition")
        ts.expect("limit")
        per_partition_limit = ts.term()
    limit = ts.term() if ts.accept("limit") else None
    allow_filtering = False
    if ts.accept("allow"):
        ts.expect("filtering")
        allow_filtering = True
    return Select(table, selectors, where, tuple(order), limit, per_partition_limit, allow_filtering, distinct)


def _selectors(ts: TokenStream) -> tuple[Selector, ...]:
    selectors = [_selector(ts)]
    while ts.accept_op(","):
        selectors.append(_selector(ts))
    return tuple(selectors)


def _selector(ts: TokenStream) -> Selector:
    name = ts.identifier("a column name, COUNT(*), WRITETIME(col) or TTL(col)")
    is_call = ts.peek(-1).kind == "ident" and ts.at_op("(")
    selector = Selector("column", name)
    if is_call and name == "count":
        ts.expect_op("(")
        if not ts.accept_op("*"):
            tok = ts.next()
            if tok.kind != "int" or tok.value != "1":
                raise _unsupported(ts, "COUNT of a column (use COUNT(*) or COUNT(1))")
        ts.expect_op(")")
        selector = Selector("count", None)
    elif is_call and name in ("writetime", "ttl"):
        ts.expect_op("(")
        column = ts.identifier("a column name")
        ts.expect_op(")")
        selector = Selector(name, column)
    elif is_call:
        raise _unsupported(ts, f"the function {name}() in a selection")
    if ts.accept("as"):
        return Selector(selector.kind, selector.column, ts.identifier("an alias"))
    return selector


def parse_insert(ts: TokenStream) -> Insert:
    ts.expect("into")
    table = ts.table_ref()
    if ts.at("json"):
        raise _unsupported(ts, "INSERT JSON")
    ts.expect_op("(")
    columns = [ts.identifier("a column name")]
    while ts.accept_op(","):
        columns.append(ts.identifier("a column name"))
    ts.expect_op(")")
    ts.expect("values")
    ts.expect_op("(")
    values = [ts.term()]
    while ts.accept_op(","):
        values.append(ts.term())
    ts.expect_op(")")
    if len(values) != len(columns):
        raise CQLSyntaxError(
            f"line 1:{ts.peek().pos} Unmatched column names/values: {len(columns)} names, {len(values)} values"
        )
    if_not_exists = ts.if_not_exists()
    ttl, timestamp = ts.using()
    if not if_not_exists:
        if_not_exists = ts.if_not_exists()
    return Insert(table, tuple(columns), tuple(values), if_not_exists, ttl, timestamp)


def parse_update(ts: TokenStream) -> Update:
    table = ts.table_ref()
    ttl, timestamp = ts.using()
    ts.expect("set")
    assignments = [_assignment(ts)]
    while ts.accept_op(","):
        assignments.append(_assignment(ts))
    ts.expect("where")
    where = ts.where()
    return Update(table, tuple(assignments), where, _if_exists(ts), ttl, timestamp)


def _if_exists(ts: TokenStream) -> bool:
    if ts.at("if") and not (ts.peek(1).kind == "ident" and ts.peek(1).value == "exists"):
        raise _unsupported(ts, "a lightweight-transaction condition other than IF EXISTS")
    return ts.if_exists()


def _assignment(ts: TokenStream) -> tuple[str, Term | Arithmetic]:
    column = ts.identifier("a column name")
    if ts.at_op("["):
        raise _unsupported(ts, "setting a collection element (col[key] = ...)")
    ts.expect_op("=")
    tok = ts.peek()
    if tok.kind in ("ident", "qident") and tok.value == column and ts.peek(1).value != "(":
        ts.next()
        op = ts.peek()
        if op.kind == "int" and op.value.startswith("-"):  # "c = c -1" lexes as c, -1
            ts.next()
            return column, Arithmetic(column, "+", _negated(op.value))
        if not ts.at_op("+", "-"):
            ts.fail("'+' or '-'")
        ts.next()
        return column, Arithmetic(column, op.value, ts.term())
    term = ts.term()
    if ts.accept_op("+"):
        other = ts.identifier("a column name")
        if other != column:
            ts.fail(column)
        return column, Arithmetic(column, "prepend", term)
    return column, term


def _negated(text: str) -> Term:
    from .ast import Literal

    return Literal("int", text)


def parse_delete(ts: TokenStream) -> Delete:
    columns: list[str] = []
    if not ts.at("from"):
        columns.append(ts.identifier("a column name"))
        if ts.at_op("["):
            raise _unsupported(ts, "deleting a collection element (col[key])")
        while ts.accept_op(","):
            columns.append(ts.identifier("a column name"))
    ts.expect("from")
    table = ts.table_ref()
    ttl, timestamp = ts.using()
    if ttl is not None:
        raise CQLSyntaxError("line 1:0 DELETE does not accept USING TTL")
    ts.expect("where")
    where = ts.where()
    return Delete(table, tuple(columns), where, _if_exists(ts), timestamp)


def parse_batch(ts: TokenStream) -> Batch:
    if ts.accept("counter"):
        pass
    else:
        ts.accept("unlogged") or ts.accept("logged")
    ts.expect("batch")
    _ttl, timestamp = ts.using()
    if timestamp is not None:
        raise _unsupported(ts, "USING TIMESTAMP on a whole BATCH")
    statements: list[Insert | Update | Delete] = []
    while not ts.accept("apply"):
        if ts.accept("insert"):
            statements.append(parse_insert(ts))
        elif ts.accept("update"):
            statements.append(parse_update(ts))
        elif ts.accept("delete"):
            statements.append(parse_delete(ts))
        else:
            ts.fail("INSERT, UPDATE, DELETE or APPLY BATCH")
        ts.accept_op(";")
    ts.expect("batch")
    return Batch(tuple(statements))
