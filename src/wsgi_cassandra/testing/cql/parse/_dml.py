"""Data statements: SELECT, INSERT, UPDATE, DELETE and BEGIN ... APPLY BATCH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._ast import (
    Arithmetic,
    Batch,
    BindMarker,
    Condition,
    Delete,
    ElementSet,
    Insert,
    Literal,
    Select,
    Selector,
    Term,
    Update,
)
from .._errors import CQLSyntaxError

if TYPE_CHECKING:
    from ._tokens import TokenStream


def _unsupported(ts: TokenStream, what: str) -> CQLSyntaxError:
    return CQLSyntaxError(f"line 1:{ts.peek().pos} wsgi_cassandra test server: {what} is not supported")


def parse_select(ts: TokenStream) -> Select:
    json = ts.at("json") and not (ts.peek(1).kind == "ident" and ts.peek(1).value in ("from", "as"))
    if json:
        ts.next()
    distinct = ts.accept("distinct")
    selectors = None if ts.accept_op("*") else _selectors(ts)
    ts.expect("from")
    table = ts.table_ref()
    where = ts.where() if ts.accept("where") else ()
    group_by: list[str] = []
    if ts.accept("group"):
        ts.expect("by")
        group_by.append(ts.identifier("a primary key column"))
        while ts.accept_op(","):
            group_by.append(ts.identifier("a primary key column"))
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
    return Select(
        table,
        selectors,
        where,
        tuple(order),
        limit,
        per_partition_limit,
        allow_filtering,
        distinct,
        json,
        tuple(group_by),
    )


def _selectors(ts: TokenStream) -> tuple[Selector, ...]:
    selectors = [_selector(ts)]
    while ts.accept_op(","):
        selectors.append(_selector(ts))
    return tuple(selectors)


def _selector(ts: TokenStream) -> Selector:
    selector = _selector_expr(ts)
    if ts.accept("as"):
        alias = ts.identifier("an alias")
        return Selector(
            selector.kind, selector.column, alias, selector.args, selector.name, selector.term, selector.text
        )
    return selector


def _selector_expr(ts: TokenStream) -> Selector:
    """A column, ``col[key]``, ``col.field``, ``fn(args)``, ``COUNT(*)``, ``CAST(x AS type)`` or a literal."""
    tok = ts.peek()
    if tok.kind == "ident" and ts.peek(1).kind == "op" and ts.peek(1).value == "(":
        ts.i += 2
        name = tok.value
        if name == "count" and (ts.at_op("*") or (ts.peek().kind == "int" and ts.peek().value == "1")):
            ts.next()
            ts.expect_op(")")
            return Selector("count", None, text="count")
        if name == "cast":
            arg = _selector_expr(ts)
            ts.expect("as")
            type_name = ts.identifier("a native type")
            ts.expect_op(")")
            return Selector("cast", None, args=(arg,), name=type_name, text=f"cast({arg.text} as {type_name})")
        args: list[Selector] = []
        while not ts.accept_op(")"):
            if args:
                ts.expect_op(",")
            args.append(_selector_expr(ts))
        if name in ("writetime", "ttl"):
            if len(args) != 1 or args[0].kind != "column":
                ts.fail("a column name")
            return Selector(name, args[0].column, text=f"{name}({args[0].text})")
        text = f"system.{name}({', '.join(a.text for a in args)})"
        return Selector("call", None, args=tuple(args), name=name, text=text)
    if tok.kind in ("ident", "qident") and not (tok.kind == "ident" and tok.value in ("true", "false", "null")):
        column = ts.identifier("a column name")
        selector = Selector("column", column, text=column if tok.kind == "ident" else tok.raw)
        while True:
            if ts.accept_op("["):
                key = ts.term()
                ts.expect_op("]")
                text = f"{selector.text}[{_term_text(ts, key)}]"
                selector = Selector("element", column, args=(selector,), term=key, text=text)
            elif ts.at_op(".") and ts.peek(1).kind in ("ident", "qident"):
                ts.next()
                field = ts.identifier("a field name")
                selector = Selector("field", column, args=(selector,), name=field, text=f"{selector.text}.{field}")
            else:
                return selector
    start = ts.peek().pos
    term = ts.term()
    return Selector("term", None, term=term, text=ts.query[start : ts.peek().pos].strip())


def _term_text(ts: TokenStream, term: Term) -> str:
    if isinstance(term, Literal):
        return "'" + term.text.replace("'", "''") + "'" if term.kind == "string" else term.text
    return "?" if isinstance(term, BindMarker) else str(term)


def parse_insert(ts: TokenStream) -> Insert:
    ts.expect("into")
    table = ts.table_ref()
    if ts.accept("json"):
        document = ts.term()
        default_unset = False
        if ts.accept("default"):
            default_unset = ts.accept("unset")
            if not default_unset:
                ts.expect("null")
        if_not_exists = ts.if_not_exists()
        ttl, timestamp = ts.using()
        return Insert(table, (), (), if_not_exists, ttl, timestamp, document, default_unset)
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
        from .._errors import InvalidRequest

        raise InvalidRequest("Unmatched column names/values")
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
    if_exists, conditions = _conditions(ts)
    return Update(table, tuple(assignments), where, if_exists, ttl, timestamp, conditions)


_CONDITION_OPS = ("=", "!=", "<", "<=", ">", ">=")


def _conditions(ts: TokenStream) -> tuple[bool, tuple[Condition, ...]]:
    """``IF EXISTS`` or ``IF cond AND cond ...`` after the WHERE clause of an UPDATE or DELETE."""
    if not ts.accept("if"):
        return False, ()
    if ts.accept("exists"):
        return True, ()
    conditions = [_condition(ts)]
    while ts.accept("and"):
        conditions.append(_condition(ts))
    return False, tuple(conditions)


def _condition(ts: TokenStream) -> Condition:
    column = ts.identifier("a column name")
    element: Term | None = None
    field: str | None = None
    if ts.accept_op("["):
        element = ts.term()
        ts.expect_op("]")
    elif ts.accept_op("."):
        field = ts.identifier("a field name")
    if ts.accept("in"):
        if ts.at_op("?") or ts.peek().kind == "named":
            return Condition(column, "in", ts.term(), element, field)
        ts.expect_op("(")
        items: list[Term] = []
        while not ts.accept_op(")"):
            if items:
                ts.expect_op(",")
            items.append(ts.term())
        return Condition(column, "in", tuple(items), element, field)
    tok = ts.peek()
    if tok.kind != "op" or tok.value not in _CONDITION_OPS:
        ts.fail("a condition operator (=, !=, <, <=, >, >=, IN)")
    ts.next()
    return Condition(column, tok.value, ts.term(), element, field)


def _assignment(ts: TokenStream) -> tuple[str, Term | Arithmetic | ElementSet]:
    column = ts.identifier("a column name")
    if ts.accept_op("["):
        key = ts.term()
        ts.expect_op("]")
        ts.expect_op("=")
        return column, ElementSet(key, ts.term())
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
    from .._ast import Literal

    return Literal("int", text)


def parse_delete(ts: TokenStream) -> Delete:
    columns: list[str] = []
    elements: list[tuple[str, Term]] = []
    while not ts.at("from"):
        if columns or elements:
            ts.expect_op(",")
        name = ts.identifier("a column name")
        if ts.accept_op("["):
            elements.append((name, ts.term()))
            ts.expect_op("]")
        else:
            columns.append(name)
    ts.expect("from")
    table = ts.table_ref()
    ttl, timestamp = ts.using()
    if ttl is not None:
        raise CQLSyntaxError("line 1:0 DELETE does not accept USING TTL")
    ts.expect("where")
    where = ts.where()
    if_exists, conditions = _conditions(ts)
    return Delete(table, tuple(columns), where, if_exists, timestamp, conditions, tuple(elements))


def parse_batch(ts: TokenStream) -> Batch:
    if ts.accept("counter"):
        pass
    else:
        ts.accept("unlogged") or ts.accept("logged")
    ts.expect("batch")
    _ttl, timestamp = ts.using()
    statements: list[Insert | Update | Delete] = []
    while not ts.accept("apply"):
        if ts.accept("insert"):
            statements.append(parse_insert(ts))
        elif ts.accept("update"):
            statements.append(parse_update(ts))
        elif ts.accept("delete"):
            statements.append(parse_delete(ts))
        else:
            ts.fail("K_APPLY")
        ts.accept_op(";")
    ts.expect("batch")
    return Batch(tuple(statements), timestamp)
