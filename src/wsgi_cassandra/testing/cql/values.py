"""Terms to values: literals are typed by their receiver column, bind markers get a receiver.

``Binder`` compiles each term of a statement once (at prepare time) into a small function of the
decoded bound values, and records for every marker the column it binds to: that list is what PREPARED
reports as bind metadata, and what ``decode`` uses to deserialize the raw bytes of an EXECUTE.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Callable, Union

from cassandra import cqltypes, util

from ..errors import InvalidRequest
from ..results import UNSET, Column
from .ast import BindMarker, CollectionLiteral, FunctionCall, Literal, Term, TupleLiteral, TypeSpec, UserTypeLiteral
from .types import ColumnType, normalize, resolve

Compiled = Callable[[Sequence[Any]], Any]
RawValues = Union[Sequence[Any], Mapping[str, Any], None]
_PROTO = 4
_INTS = {"int", "bigint", "smallint", "tinyint", "varint", "counter"}
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
        from . import functions, json_io

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
        params = [resolve(p) for p in ctype.spec.params]
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
            return cqltype.from_binary(cqltype.to_binary(values, _PROTO), _PROTO)

        return build

    def _collection(self, term: CollectionLiteral, ctype: ColumnType, name: str) -> Compiled:
        kind = ctype.spec.name
        subtypes = [resolve(p) for p in ctype.spec.params]
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


def ctype_for(cqltype: Any) -> ColumnType:
    """A ColumnType for a driver type found inside a user type (its fields)."""
    from .types import parse_type

    try:
        return parse_type(cqltype.cql_parameterized_type())
    except InvalidRequest:
        return ColumnType(cqltype, cqltype.cql_parameterized_type(), True, TypeSpec(cqltype.typename))


def coerce(ctype: ColumnType, lit: Literal, name: str) -> Any:
    """A literal as the canonical Python value of ``ctype`` (the form ``from_binary`` would give)."""
    if lit.kind == "null":
        return None
    try:
        value = _python_value(ctype, lit)
        cqltype = ctype.cqltype
        return normalize(ctype, cqltype.from_binary(cqltype.to_binary(value, _PROTO), _PROTO))
    except InvalidRequest:
        raise
    except Exception as exc:
        raise InvalidRequest(
            f'Invalid {_KIND_NAMES.get(lit.kind, lit.kind)} constant ({lit.text}) for "{name}" of type {ctype.text}'
        ) from exc


def _python_value(ctype: ColumnType, lit: Literal) -> Any:
    kind, text, typename = lit.kind, lit.text, ctype.spec.name
    if typename in _INTS and kind == "int":
        number = int(text)
        bits = _INT_BITS.get(typename)
        if bits is not None and not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise InvalidRequest(f"Unable to make {_INT_NAMES[typename]} from '{text}'")
        return number
    if typename in ("float", "double") and kind in ("int", "float"):
        return float(text)
    if typename == "decimal" and kind in ("int", "float"):
        return Decimal(text)
    if typename == "boolean" and kind == "bool":
        return text == "true"
    if typename in ("text", "varchar", "ascii") and kind == "string":
        return text
    if typename in ("uuid", "timeuuid") and kind == "uuid":
        value = uuid.UUID(text)
        if typename == "timeuuid" and value.version != 1:
            raise InvalidRequest(f"Unsupported UUID for timeuuid: {text} is not a version 1 UUID")
        return value
    if typename == "blob" and kind == "blob":
        return bytes.fromhex(text[2:])
    if typename == "timestamp" and kind == "int":
        return int(text)
    if typename == "timestamp" and kind == "string":
        return _timestamp_ms(text)
    if typename == "date" and kind == "string":
        return util.Date(text)
    if typename == "time" and kind == "string":
        return util.Time(text)
    if typename == "time" and kind == "int":
        return int(text)
    if typename == "date" and kind == "int":
        days = int(text)  # unsigned days with the epoch at 2**31, as Cassandra stores a date
        if not 0 <= days < 2**32:
            raise InvalidRequest(f"Unable to coerce '{text}' to a formatted date (long)")
        return util.Date(days - 2**31)
    if typename == "duration" and kind == "duration":
        return parse_duration(text)
    if typename == "inet" and kind == "string":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise InvalidRequest(f"Unable to make inet address from '{text}'") from None
        return text
    raise TypeError(kind)


_INT_BITS = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64, "counter": 64}
_INT_NAMES = {"tinyint": "byte", "smallint": "short", "int": "int", "bigint": "long", "counter": "long"}
_KIND_NAMES = {
    "string": "STRING",
    "int": "INTEGER",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "uuid": "UUID",
    "blob": "HEX",
    "duration": "DURATION",
}
_DURATION_UNITS = {  # unit -> (months, days, nanoseconds)
    "y": (12, 0, 0),
    "mo": (1, 0, 0),
    "w": (0, 7, 0),
    "d": (0, 1, 0),
    "h": (0, 0, 3600 * 10**9),
    "m": (0, 0, 60 * 10**9),
    "s": (0, 0, 10**9),
    "ms": (0, 0, 10**6),
    "us": (0, 0, 10**3),
    "µs": (0, 0, 10**3),
    "ns": (0, 0, 1),
}
_DURATION_RE = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|w|d|h|m|s)", re.IGNORECASE)
_ISO_RE = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?", re.IGNORECASE
)


def parse_duration(text: str) -> util.Duration:
    """``1h30m``, ``-2d``, ``P1Y2M3DT4H5M6S`` or ``P3W`` as a driver ``Duration`` (months, days, nanoseconds)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("-")
    months = days = nanos = 0
    if body[:1] in "pP":
        if body[-1:] in "wW":
            days = int(body[1:-1]) * 7
        else:
            match = _ISO_RE.fullmatch(body)
            if match is None:
                raise InvalidRequest(f"Unable to convert '{text}' to a duration")
            y, mo, d, h, mi, s = (int(g or 0) for g in match.groups())
            months, days, nanos = y * 12 + mo, d, ((h * 60 + mi) * 60 + s) * 10**9
    else:
        for amount, unit in _DURATION_RE.findall(body):
            um, ud, un = _DURATION_UNITS[unit.lower()]
            months, days, nanos = months + int(amount) * um, days + int(amount) * ud, nanos + int(amount) * un
    return util.Duration(sign * months, sign * days, sign * nanos)


_TS_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)


def _timestamp_ms(text: str) -> int:
    """A CQL timestamp string; without a zone it is taken as UTC (Cassandra would use its own zone)."""
    offset = 0
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 10 and text[-5] in "+-" and text[-4:].isdigit():
        offset = (int(text[-4:-2]) * 3600 + int(text[-2:]) * 60) * (1 if text[-5] == "+" else -1)
        text = text[:-5]
    for fmt in _TS_FORMATS:
        try:
            parsed = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
        return int(parsed.timestamp() * 1000) - offset * 1000
    raise InvalidRequest(f"Unable to coerce '{text}' to a formatted date (long)")


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
