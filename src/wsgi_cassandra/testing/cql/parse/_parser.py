"""``parse(query)``: CQL text to one statement of ``.._ast``, plus the number of bind markers.

Usage::

    statement, markers = parse("SELECT * FROM ks.t WHERE k = ?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._ddl import parse_alter, parse_create, parse_describe, parse_drop, parse_truncate, parse_use
from ._dml import parse_batch, parse_delete, parse_insert, parse_select, parse_update
from ._tokens import TokenStream

if TYPE_CHECKING:
    from typing import Callable

    from .._ast import Statement


_DISPATCH: dict[str, Callable[[TokenStream], Statement]] = {
    "select": parse_select,
    "insert": parse_insert,
    "update": parse_update,
    "delete": parse_delete,
    "begin": parse_batch,
    "use": parse_use,
    "create": parse_create,
    "drop": parse_drop,
    "truncate": parse_truncate,
    "alter": parse_alter,
    "describe": parse_describe,
    "desc": parse_describe,
}
_UNSUPPORTED = ("grant", "revoke", "list")


def parse(query: str) -> tuple[Statement, int]:
    ts = TokenStream(query)
    tok = ts.peek()
    parser = _DISPATCH.get(tok.value) if tok.kind == "ident" else None
    if parser is None:
        if tok.kind == "ident" and tok.value in _UNSUPPORTED:
            from .._errors import CQLSyntaxError

            raise CQLSyntaxError(
                f"line 1:{tok.pos} wsgi_cassandra test server: {tok.value.upper()} statements are not supported"
            )
        ts.fail("a statement (SELECT, INSERT, UPDATE, DELETE, BATCH, USE, CREATE, ALTER, DROP, TRUNCATE, DESCRIBE)")
    ts.next()
    statement = parser(ts)
    ts.end()
    return statement, ts.markers
