"""Terms to values: literals are typed by their receiver column, bind markers get a receiver.

``Binder`` compiles each term of a statement once (at prepare time) into a small function of the
decoded bound values, and records for every marker the column it binds to: that list is what PREPARED
reports as bind metadata, and what ``decode`` uses to deserialize the raw bytes of an EXECUTE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Union

from cassandra import cqltypes

from .._ast import BindMarker, CollectionLiteral, FunctionCall, Literal, Term, TupleLiteral, TypeSpec, UserTypeLiteral
from .._errors import InvalidRequest
from .._results import UNSET, Column
from ._literals import PROTO, coerce, ctype_for
from ._types import ColumnType, normalize, resolve

Compiled = Callable[[Sequence[Any]], Any]
RawValues = Union[Sequence[Any], Mapping[str, Any], None]
_BLOB = resolve(TypeSpec("blob"))


class Binder:
    def __init__(self, markers: int, keyspace: str, table: str) -> None:
        self.keyspace, self.table = keyspace, table
        self.columns: list[Column | None] = [None] * markers
        self.types: list[ColumnType] = [_BLOB] * markers

    def bind_columns(self) -> list[Column]:
        blob = cqltypes.BytesType
        return [c if c is not None else Column(self.keyspace, self.table, "?", blob) for c in self.columns]

    def compile(self, term: Term, ctype: ColumnType, name: str) -> Compiled:
        if isinstance(term, BindMarker):
            self.columns[term.index] = Column(self.keyspace, self.table, term.name or name, ctype.cqltype)
            self.types[term.index] = ctype
            index = term.index
            return lambda bound: bound[index]
        if isinstance(term, CollectionLiteral):
            return self._collection(term, ctype, name)
        if isinstance(term, FunctionCall):
            return self._function(term, ctype, name)
        if isinstance(term, TupleLiteral):
            return self._tuple(term, ctype, name)
        if isinstance(term, UserTypeLiteral):
            return self._user_type(term, ctype, name)
        value = coerce(ctype, term, name)
        return lambda bound: value

    def _function(self, term: FunctionCall, ctype: ColumnType, name: str) -> Compiled:
        from . import _functions as functions
        from . import _json as json_io

        if term.name == "fromjson":
            if len(term.args) != 1:
                raise InvalidRequest("Invalid number of arguments for function system.fromjson")
            text = self.compile(term.args[0], resolve(TypeSpec("text")), f"fromjson({name})")
            return lambda bound: (
                None if text(bound) is None else json_io.from_json(ctype, json_io.parse_document(text(bound)), name)
            )
        if term.name == "token":
            raise InvalidRequest("token() can only be used in a SELECT selection or a WHERE token() restriction")
        arg_types = [functions.term_type(a) for a in term.args]
        literals = [a if isinstance(a, Literal) else None for a in term.args]
        fn = functions.choose(term.name, arg_types, literals, ctype)
        returns = fn.return_type
        if not (returns.spec.name == ctype.spec.name or {returns.spec.name, ctype.spec.name} <= {"text", "varchar"}):
            raise InvalidRequest(
                f"Type error: cannot assign result of function system.{term.name} (type {returns.text}) "
                f"to {name} (type {ctype.text})"
            )
        args = [
            self.compile(a, functions.ctype_of(p), f"arg{i}(system.{term.name})")
            for i, (a, p) in enumerate(zip(term.args, fn.params))
        ]
        if fn.pure and not any(isinstance(a, BindMarker) for a in term.args):
            value = functions.call(fn, [a(()) for a in args])
            return lambda bound: value
        return lambda bound: functions.call(fn, [a(bound) for a in args])

    def _tuple(self, term: TupleLiteral, ctype: ColumnType, name: str) -> Compiled:
        if not ctype.is_tuple:
            raise InvalidRequest(f"Invalid tuple literal for {name} of type {ctype.text}")
        params = [ctype_for(sub) for sub in ctype.cqltype.subtypes]
        if len(term.items) > len(params):
            raise InvalidRequest(
                f"Invalid tuple literal for {name}: too many elements. Type {ctype.text} expects {len(params)} "
                f"but got {len(term.items)}"
            )
        items = [self.compile(t, p, f"{name}[{i}]") for i, (t, p) in enumerate(zip(term.items, params))]
        missing = len(params) - len(items)
        return lambda bound: tuple([item(bound) for item in items] + [None] * missing)

    def _user_type(self, term: UserTypeLiteral, ctype: ColumnType, name: str) -> Compiled:
        cqltype = ctype.cqltype
        fieldnames = list(getattr(cqltype, "fieldnames", ()))
        if not fieldnames:
            raise InvalidRequest(f"Invalid user type literal for {name} of type {ctype.text}")
        given = dict(term.fields)
        for field_name in given:
            if field_name not in fieldnames:
                raise InvalidRequest(f"Unknown field '{field_name}' in value of user defined type {cqltype.typename}")
        compiled: list[Compiled | None] = []
        for field_name, sub in zip(fieldnames, cqltype.subtypes):
            field_term = given.get(field_name)
            if field_term is None:
                compiled.append(None)
                continue
            sub_ctype = ctype_for(sub)
            compiled.append(self.compile(field_term, sub_ctype, f"{name}.{field_name}"))

        def build(bound: Sequence[Any]) -> Any:
            values = tuple(fn(bound) if fn is not None else None for fn in compiled)
            return cqltype.from_binary(cqltype.to_binary(values, PROTO), PROTO)

        return build

    def _collection(self, term: CollectionLiteral, ctype: ColumnType, name: str) -> Compiled:
        kind = ctype.spec.name
        subtypes = [ctype_for(sub) for sub in ctype.cqltype.subtypes]
        if kind == "map" and (term.kind == "map" or (term.kind == "set" and not term.items)):
            pairs = [
                (self.compile(k, subtypes[0], f"key({name})"), self.compile(v, subtypes[1], f"value({name})"))
                for k, v in term.pairs
            ]
            return lambda bound: normalize(ctype, {k(bound): v(bound) for k, v in pairs})
        if kind in ("list", "set") and term.kind == kind:
            items = [self.compile(t, subtypes[0], f"value({name})") for t in term.items]
            return lambda bound: normalize(ctype, [item(bound) for item in items])
        raise InvalidRequest(f"Invalid {term.kind} literal for {name} of type {ctype.text}")


def decode(values: RawValues, columns: Sequence[Column], column_types: Sequence[ColumnType], proto: int) -> list[Any]:
    """Raw bound bytes (positional or by marker name) to Python values; UNSET stays UNSET."""
    if values is None:
        values = []
    if isinstance(values, Mapping):
        lowered = {k.lower(): v for k, v in values.items()}
        try:
            values = [lowered[c.name.lower()] if c.name.lower() in lowered else values[c.name] for c in columns]
        except KeyError as exc:
            raise InvalidRequest(f"Missing value for bind variable {exc.args[0]}") from None
    if len(values) != len(columns):
        raise InvalidRequest(f"There were {len(columns)} markers(?) in CQL but {len(values)} bound variables")
    decoded: list[Any] = []
    for raw, column, ctype in zip(values, columns, column_types):
        if raw is None or raw is UNSET:
            decoded.append(raw)
            continue
        try:
            decoded.append(normalize(ctype, column.cqltype.from_binary(bytes(raw), proto)))
        except Exception as exc:
            raise InvalidRequest(f"Invalid value for {column.name} of type {ctype.text}: {exc}") from exc
    return decoded
