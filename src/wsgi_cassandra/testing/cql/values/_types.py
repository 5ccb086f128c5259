"""CQL type names to the driver's own type classes, and how values of each type sort.

The engine never (de)serializes by hand: ``cassandra.cqltypes`` classes do it, both for bound values
(``from_binary``) and for literals (converted to a Python value, then round-tripped through
``to_binary``/``from_binary`` so that a literal and a bound value end up as the same canonical value).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from cassandra import cqltypes, util

from .._errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._ast import TypeSpec

_SIMPLE: dict[str, Any] = {
    "text": cqltypes.UTF8Type,
    "varchar": cqltypes.UTF8Type,
    "ascii": cqltypes.AsciiType,
    "int": cqltypes.Int32Type,
    "bigint": cqltypes.LongType,
    "smallint": cqltypes.ShortType,
    "tinyint": cqltypes.ByteType,
    "boolean": cqltypes.BooleanType,
    "float": cqltypes.FloatType,
    "double": cqltypes.DoubleType,
    "decimal": cqltypes.DecimalType,
    "varint": cqltypes.IntegerType,
    "uuid": cqltypes.UUIDType,
    "timeuuid": cqltypes.TimeUUIDType,
    "timestamp": cqltypes.DateType,
    "date": cqltypes.SimpleDateType,
    "time": cqltypes.TimeType,
    "blob": cqltypes.BytesType,
    "inet": cqltypes.InetAddressType,
    "counter": cqltypes.CounterColumnType,
    "duration": cqltypes.DurationType,
}
_CANONICAL = {"varchar": "text"}
_COLLECTIONS = {"list": (cqltypes.ListType, 1), "set": (cqltypes.SetType, 1), "map": (cqltypes.MapType, 2)}
_UNSUPPORTED = {"vector"}
_CACHE: dict[TypeSpec, ColumnType] = {}


@dataclass(frozen=True)
class ColumnType:
    """A column's type: the driver class (never wrapped in ``frozen``) and the schema text."""

    cqltype: Any
    text: str  # as system_schema.columns.type shows it: "text", "frozen<list<int>>", "map<text, int>"
    frozen: bool
    spec: TypeSpec

    @property
    def is_collection(self) -> bool:
        return self.spec.name in _COLLECTIONS

    @property
    def is_tuple(self) -> bool:
        return self.spec.name == "tuple"

    @property
    def is_counter(self) -> bool:
        return self.spec.name == "counter"


def resolve(spec: TypeSpec, user_types: Mapping[str, Any] | None = None) -> ColumnType:
    """Turn a parsed type into a ``ColumnType``; unknown or unsupported types raise InvalidRequest.

    ``user_types`` maps the names of the keyspace's user-defined types to their driver classes.
    """
    cached = _CACHE.get(spec)
    if cached is not None:
        return cached
    name = spec.name
    if user_types and _mentions(spec, user_types):
        return _resolve_udt(spec, user_types)
    if name in _SIMPLE:
        if spec.params:
            raise InvalidRequest(f"Type {name} does not take parameters")
        result = ColumnType(_SIMPLE[name], _CANONICAL.get(name, name), spec.frozen, spec)
    elif name in _COLLECTIONS:
        cls, arity = _COLLECTIONS[name]
        if len(spec.params) != arity:
            raise InvalidRequest(f"{name} type takes {arity} type parameter(s), got {len(spec.params)}")
        params = [resolve(p) for p in spec.params]
        for param in params:
            if param.is_collection and not param.frozen:
                raise InvalidRequest("Non-frozen collections are not allowed inside collections: " + name)
            if param.is_counter:
                raise InvalidRequest("Counters are not allowed inside collections: " + name)
        inner = f"{name}<{', '.join(p.text for p in params)}>"
        cqltype = cls.apply_parameters([p.cqltype for p in params])
        result = ColumnType(cqltype, f"frozen<{inner}>" if spec.frozen else inner, spec.frozen, spec)
    elif name == "tuple":
        if not spec.params:
            raise InvalidRequest("tuple type takes at least one type parameter")
        params = [resolve(p) for p in spec.params]
        cqltype = cqltypes.TupleType.apply_parameters([p.cqltype for p in params])
        # Tuples are always frozen: system_schema shows them as frozen<tuple<...>>.
        result = ColumnType(cqltype, f"frozen<tuple<{', '.join(p.text for p in params)}>>", True, spec)
    elif name in _UNSUPPORTED:
        raise InvalidRequest(f"wsgi_cassandra test server: the {name} type is not supported")
    else:
        raise InvalidRequest(f"Unknown type {name}")
    _CACHE[spec] = result
    return result


def _mentions(spec: TypeSpec, user_types: Mapping[str, Any]) -> bool:
    return spec.name in user_types or any(_mentions(p, user_types) for p in spec.params)


def _resolve_udt(spec: TypeSpec, user_types: Mapping[str, Any]) -> ColumnType:
    """A type naming a user-defined type (not cached: ALTER TYPE gives the name a new class)."""
    if spec.name in user_types:
        if spec.params:
            raise InvalidRequest(f"Type {spec.name} does not take parameters")
        return ColumnType(
            user_types[spec.name], f"frozen<{spec.name}>" if spec.frozen else spec.name, spec.frozen, spec
        )
    if spec.name == "tuple" and spec.params:
        # A tuple freezes what it holds (Cassandra's RawTuple.freeze()), and is frozen itself.
        params = [resolve(p, user_types) for p in spec.params]
        texts = [f"frozen<{p.text}>" if p.spec.name in user_types and not p.frozen else p.text for p in params]
        cqltype = cqltypes.TupleType.apply_parameters([p.cqltype for p in params])
        return ColumnType(cqltype, f"frozen<tuple<{', '.join(texts)}>>", True, spec)
    cls, arity = _COLLECTIONS.get(spec.name, (None, 0))
    if cls is None or len(spec.params) != arity:
        return resolve(type(spec)(spec.name, (), spec.frozen))  # raises the usual error
    params = [resolve(p, user_types) for p in spec.params]
    for param in params:
        if param.is_collection and not param.frozen:
            raise InvalidRequest("Non-frozen collections are not allowed inside collections: " + spec.name)
        if param.spec.name in user_types and not param.frozen:
            raise InvalidRequest("Non-frozen UDTs are not allowed inside collections: " + spec.name)
    inner = f"{spec.name}<{', '.join(p.text for p in params)}>"
    cqltype = cls.apply_parameters([p.cqltype for p in params])
    return ColumnType(cqltype, f"frozen<{inner}>" if spec.frozen else inner, spec.frozen, spec)


def parse_type(text: str) -> ColumnType:
    """``parse_type("map<text, int>")``: for the fixed schemas of the system tables."""
    from ..parse._tokens import TokenStream

    return resolve(TokenStream(text).type_spec())


def sort_key(cqltype: Any) -> Callable[[Any], Any]:
    """A key function ordering values of ``cqltype`` the way Cassandra's comparator does."""
    typename = cqltype.typename
    if typename == "timeuuid":
        return lambda v: (v.time, v.bytes)
    if typename == "uuid":
        return lambda v: (v.version or 0, v.time if v.version == 1 else 0, v.bytes)
    if typename in ("date", "time"):
        return lambda v: cqltype.serialize(v, 4)
    if typename in ("inet", "list", "set", "map"):
        return lambda v: cqltype.to_binary(v, 4)
    return _identity


def _identity(value: Any) -> Any:
    return value


def normalize(ctype: ColumnType, value: Any) -> Any:
    """Canonical stored form: sets sorted, maps as dicts sorted by key, empty collections are null."""
    if value is None or not ctype.is_collection:
        return value
    if not value and not ctype.frozen:
        return None
    name = ctype.spec.name
    if name == "set":
        return util.sortedset(value)
    if name == "map":
        try:
            return dict(sorted(value.items(), key=lambda kv: sort_key(ctype.cqltype.subtypes[0])(kv[0])))
        except TypeError:  # unhashable keys (frozen collections as map keys): keep the driver's map
            return value
    return list(value)


def new_timeuuid() -> uuid.UUID:
    return uuid.uuid1()
