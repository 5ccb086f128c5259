"""The token cursor shared by the statement parsers, and the grammar pieces every statement uses.

Terms, type specs, table names, WHERE relations and USING clauses live here; ``_ddl`` and
``_dml`` build statements out of them. A syntax error always names the offending token and its
offset, like Cassandra's ``line 1:14 mismatched input 'FORM' expecting K_FROM``.
"""

from __future__ import annotations

from typing import NoReturn

from .._ast import (
    BindMarker,
    CollectionLiteral,
    FunctionCall,
    Literal,
    Relation,
    TableRef,
    Term,
    TupleLiteral,
    TypeSpec,
    UserTypeLiteral,
)
from .._errors import CQLSyntaxError
from ._lexer import Token, token_starts, tokenize

_LITERAL_KINDS = {
    "string": "string",
    "int": "int",
    "float": "float",
    "duration": "duration",
    "uuid": "uuid",
    "blob": "blob",
}
_RELATION_OPS = ("=", "<", "<=", ">", ">=")


class TokenStream:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.markers = 0

    # -- cursor ---------------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def fail(self, expecting: str) -> NoReturn:
        tok = self.peek()
        if tok.kind == "eof":
            raise CQLSyntaxError(f"line 1:{tok.pos} mismatched input at end of input expecting {expecting}")
        raise CQLSyntaxError(f"line 1:{tok.pos} mismatched input {tok.raw!r} expecting {expecting}")

    def no_viable_alternative(self) -> NoReturn:
        """Cassandra's error for a token no alternative of the rule accepts, built as its ``ErrorCollector`` does
        (``line 1:39 no viable alternative at input ')' (...BY ([c])``), for a decision that looked one token ahead."""
        tok = self.peek()
        if tok.kind == "eof":
            raise CQLSyntaxError("line 0:-1 no viable alternative at input '<EOF>'")
        line, col = _line_col(self.query, tok.pos)
        raise CQLSyntaxError(
            f"line {line}:{col} no viable alternative at input '{_text(tok)}'{_snippet(self.query, tok)}"
        )

    def at(self, *keywords: str) -> bool:
        tok = self.peek()
        return tok.kind == "ident" and tok.value in keywords

    def accept(self, keyword: str) -> bool:
        if self.at(keyword):
            self.i += 1
            return True
        return False

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            self.fail(keyword.upper())

    def at_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.i += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            self.fail(repr(op))

    def end(self) -> None:
        self.accept_op(";")
        if self.peek().kind != "eof":
            self.fail("end of statement")

    # -- names ----------------------------------------------------------------------------------------
    def identifier(self, what: str = "an identifier") -> str:
        tok = self.peek()
        if tok.kind in ("ident", "qident"):
            self.i += 1
            return tok.value
        self.fail(what)

    def table_ref(self) -> TableRef:
        first = self.identifier("a table name")
        if self.accept_op("."):
            return TableRef(first, self.identifier("a table name"))
        return TableRef(None, first)

    def if_not_exists(self) -> bool:
        if self.accept("if"):
            self.expect("not")
            self.expect("exists")
            return True
        return False

    def if_exists(self) -> bool:
        if self.accept("if"):
            self.expect("exists")
            return True
        return False

    # -- terms ----------------------------------------------------------------------------------------
    def term(self) -> Term:
        tok = self.peek()
        if tok.kind in _LITERAL_KINDS:
            self.i += 1
            return Literal(_LITERAL_KINDS[tok.kind], tok.value)
        if tok.kind == "named":
            self.i += 1
            return self._marker(tok.value)
        if tok.kind == "op":
            return self._op_term(tok)
        if tok.kind == "ident":
            self.i += 1
            if tok.value in ("true", "false"):
                return Literal("bool", tok.value)
            if tok.value == "null":
                return Literal("null", "null")
            if tok.value in ("nan", "infinity"):
                return Literal("float", tok.raw)
            if self.accept_op("("):
                args: list[Term] = []
                while not self.accept_op(")"):
                    if args:
                        self.expect_op(",")
                    args.append(self.term())
                return FunctionCall(tok.value, tuple(args))
            self.i -= 1
        self.fail("a value (literal, bind marker or collection)")

    def _marker(self, name: str | None) -> BindMarker:
        marker = BindMarker(self.markers, name)
        self.markers += 1
        return marker

    def _op_term(self, tok: Token) -> Term:
        if tok.value == "?":
            self.i += 1
            return self._marker(None)
        if tok.value == "-" and self.peek(1).kind == "ident" and self.peek(1).value in ("nan", "infinity"):
            self.i += 2
            return Literal("float", "-" + self.tokens[self.i - 1].raw)
        if tok.value == "[":
            self.i += 1
            return CollectionLiteral("list", self._items("]"))
        if tok.value == "{":
            self.i += 1
            if self.accept_op("}"):
                return CollectionLiteral("set")
            field = self.peek()
            constant = field.kind == "ident" and field.value in ("true", "false", "null", "nan", "infinity")
            if (
                field.kind in ("ident", "qident")
                and not constant
                and self.peek(1).kind == "op"
                and self.peek(1).value == ":"
            ):
                return self._user_type_literal()
            first = self.term()
            if self.accept_op(":"):
                pairs = [(first, self.term())]
                while self.accept_op(","):
                    key = self.term()
                    self.expect_op(":")
                    pairs.append((key, self.term()))
                self.expect_op("}")
                return CollectionLiteral("map", pairs=tuple(pairs))
            rest = [first]
            while self.accept_op(","):
                rest.append(self.term())
            self.expect_op("}")
            return CollectionLiteral("set", tuple(rest))
        if tok.value == "(":
            self.i += 1
            return TupleLiteral(self._items(")"))
        self.fail("a value (literal, bind marker or collection)")

    def _user_type_literal(self) -> UserTypeLiteral:
        fields: list[tuple[str, Term]] = []
        while not self.accept_op("}"):
            if fields:
                self.expect_op(",")
            name = self.identifier("a field name")
            self.expect_op(":")
            fields.append((name, self.term()))
        return UserTypeLiteral(tuple(fields))

    def _items(self, close: str) -> tuple[Term, ...]:
        items: list[Term] = []
        while not self.accept_op(close):
            if items:
                self.expect_op(",")
            items.append(self.term())
        return tuple(items)

    # -- types ----------------------------------------------------------------------------------------
    def type_spec(self) -> TypeSpec:
        name = self.identifier("a type")
        if name == "frozen":
            self.expect_op("<")
            inner = self.type_spec()
            self.expect_op(">")
            return TypeSpec(inner.name, inner.params, frozen=True)
        params: list[TypeSpec] = []
        if self.accept_op("<"):
            params.append(self.type_spec())
            while self.accept_op(","):
                params.append(self.type_spec())
            self.expect_op(">")
        return TypeSpec(name, tuple(params))

    # -- clauses --------------------------------------------------------------------------------------
    def where(self) -> tuple[Relation, ...]:
        relations = [self.relation()]
        while self.accept("and"):
            relations.append(self.relation())
        return tuple(relations)

    def relation(self) -> Relation:
        if self.at("token") and self.peek(1).kind == "op" and self.peek(1).value == "(":
            self.i += 2
            names = self._names()
            tok = self.next()
            if tok.kind != "op" or tok.value not in _RELATION_OPS:
                self.i -= 1
                self.fail("a relation operator (=, <, <=, >, >=)")
            return Relation("token", tok.value, self.term(), names, "token")
        if self.at_op("("):
            self.i += 1
            names = self._names()
            if self.accept("in"):
                self.expect_op("(")
                return Relation(names[0], "in", self._items(")"), names, "multi")
            tok = self.next()
            if tok.kind != "op" or tok.value not in _RELATION_OPS:
                self.i -= 1
                self.fail("a relation operator (=, <, <=, >, >=, IN)")
            return Relation(names[0], tok.value, self.term(), names, "multi")
        column = self.identifier("a column name")
        if self.accept("in"):
            if self.at_op("?") or self.peek().kind == "named":
                return Relation(column, "in", self.term())
            self.expect_op("(")
            return Relation(column, "in", self._items(")"))
        if self.accept("contains"):
            op = "contains key" if self.accept("key") else "contains"
            return Relation(column, op, self.term())
        if self.at("like", "is"):
            raise CQLSyntaxError(
                f"line 1:{self.peek().pos} wsgi_cassandra test server: "
                f"{self.peek().value.upper()} relations are not supported"
            )
        tok = self.peek()
        if tok.kind != "op" or tok.value not in _RELATION_OPS:
            self.fail("a relation operator (=, <, <=, >, >=, IN)")
        self.i += 1
        return Relation(column, tok.value, self.term())

    def _names(self) -> tuple[str, ...]:
        """``a, b)``: identifiers up to a closing parenthesis."""
        names = [self.identifier("a column name")]
        while self.accept_op(","):
            names.append(self.identifier("a column name"))
        self.expect_op(")")
        return tuple(names)

    def using(self) -> tuple[Term | None, Term | None]:
        ttl: Term | None = None
        timestamp: Term | None = None
        if self.accept("using"):
            while True:
                if self.accept("ttl"):
                    ttl = self.term()
                elif self.accept("timestamp"):
                    timestamp = self.term()
                else:
                    self.fail("TTL or TIMESTAMP")
                if not self.accept("and"):
                    break
        return ttl, timestamp

    def option_value(self) -> str | dict[str, str] | Term:
        """A table/keyspace option value: a constant or a ``{'k': v}`` map (kept as strings)."""
        tok = self.peek()
        if tok.kind == "op" and tok.value == "{":
            self.i += 1
            result: dict[str, str] = {}
            while not self.accept_op("}"):
                if result:
                    self.expect_op(",")
                key = self.next()
                self.expect_op(":")
                result[key.value] = self.next().value
            return result
        if tok.kind in ("string", "int", "float", "ident", "qident"):
            self.i += 1
            return tok.value
        self.fail("an option value")


def _text(tok: Token) -> str:
    """The token's text as Cassandra's lexer leaves it: string literals and quoted names lose their quotes."""
    return tok.value if tok.kind in ("string", "qident") else tok.raw


def _line_col(query: str, pos: int) -> tuple[int, int]:
    return query.count("\n", 0, pos) + 1, pos - (query.rfind("\n", 0, pos) + 1)


def _snippet(query: str, offending: Token) -> str:
    """`` (...<up to 10 tokens before>[<offending>]...)``: ``ErrorCollector.appendSnippet`` of Cassandra 4.0.

    ANTLR counts the hidden whitespace and comment tokens too, and the snippet ends at the offending token
    because the parser had buffered no token beyond it (an LL(1) decision)."""
    starts = token_starts(query)
    index = starts.index(offending.pos) if offending.pos in starts else 0
    first = starts[max(0, index - 10)]
    lines = query.split("\n")
    while len(lines) > 1 and not lines[-1]:  # Java's String.split drops trailing empty strings
        lines.pop()
    from_line, from_col = _line_col(query, first)
    to_line, to_col = _line_col(query, offending.pos)
    to_end = to_col + len(_text(offending))
    include_start = from_line == 1 and from_col == 0
    include_end = to_line == len(lines) and to_end == len(lines[-1])
    line = lines[to_line - 1][:to_end]
    lines[to_line - 1] = line[:to_col] + "[" + line[to_col:to_end] + "]" + line[to_end:]
    lines[from_line - 1] = lines[from_line - 1][from_col:]
    body = "".join(lines[from_line - 1 : to_line])
    return f" ({'' if include_start else '...'}{body}{'' if include_end else '...'})"
