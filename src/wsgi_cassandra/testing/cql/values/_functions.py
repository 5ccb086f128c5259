"""Cassandra's native scalar functions: time, uuid, blob conversions, ``token``, JSON and ``CAST``.

Usage::

    fn = choose("todate", [TIMEUUID], None)      # an Overload: params, return type, implementation
    fn.impl(some_timeuuid)                       # util.Date(...)

Each function is known by its lower-cased name and overloaded on its argument types, as in
``org.apache.cassandra.cql3.functions`` (``TimeFcts``, ``UuidFcts``, ``BytesConversionFcts``, ``CastFcts``).
A function applied to a null argument returns null, like Cassandra's native functions.
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from cassandra import util

from .._ast import FunctionCall, Literal, TypeSpec
from .._errors import InvalidRequest
from ._literals import coerce
from ._types import ColumnType, resolve

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._ast import Term

_UUID_EPOCH = 0x01B21DD213814000  # 100ns ticks between 1582-10-15 and 1970-01-01
_NATIVE = (
    "ascii",
    "bigint",
    "blob",
    "boolean",
    "counter",
    "date",
    "decimal",
    "double",
    "duration",
    "float",
    "inet",
    "int",
    "smallint",
    "text",
    "time",
    "timestamp",
    "timeuuid",
    "tinyint",
    "uuid",
    "varchar",
    "varint",
)
NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "varint", "counter")
AGGREGATES = ("count", "sum", "avg", "min", "max")


def ctype_of(name: str) -> ColumnType:
    return resolve(TypeSpec(name))


@dataclass(frozen=True)
class Overload:
    name: str
    params: tuple[str, ...]
    returns: str
    impl: Callable[..., Any]
    pure: bool = True  # False: a new value per call (now(), uuid()), never folded into a constant

    @property
    def return_type(self) -> ColumnType:
        return ctype_of(self.returns)


# -- implementations ---------------------------------------------------------------------------------------
def _uuid_ms(value: uuid.UUID) -> int:
    return (value.time - _UUID_EPOCH) // 10_000


def _ms_datetime(ms: int) -> datetime.datetime:
    stamp: datetime.datetime = util.datetime_from_timestamp(ms / 1000.0)
    return stamp


def _datetime_ms(value: datetime.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return (value - datetime.datetime(1970, 1, 1)) // datetime.timedelta(milliseconds=1)


def _date_of_ms(ms: int) -> util.Date:
    return util.Date(ms // 86_400_000)


def _timeuuid_bound(ms: int, high: bool) -> uuid.UUID:
    ticks = ms * 10_000 + _UUID_EPOCH + (9_999 if high else 0)
    msb = ((ticks & 0xFFFFFFFF) << 32) | (((ticks >> 32) & 0xFFFF) << 16) | 0x1000 | ((ticks >> 48) & 0x0FFF)
    lsb = 0x7F7F7F7F7F7F7F7F if high else 0x8080808080808080
    return uuid.UUID(int=(msb << 64) | lsb)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _to_blob(typename: str) -> Callable[[Any], bytes]:
    cqltype = ctype_of(typename).cqltype
    return lambda v: bytes(cqltype.serialize(v, 4))


def _from_blob(typename: str) -> Callable[[bytes], Any]:
    cqltype = ctype_of(typename).cqltype
    return lambda b: cqltype.deserialize(bytes(b), 4)


def _registry() -> dict[str, list[Overload]]:
    fns: list[Overload] = [
        Overload("now", (), "timeuuid", uuid.uuid1, pure=False),
        Overload("currenttimeuuid", (), "timeuuid", uuid.uuid1, pure=False),
        Overload("uuid", (), "uuid", uuid.uuid4, pure=False),
        Overload("currenttimestamp", (), "timestamp", lambda: _ms_datetime(_now_ms()), pure=False),
        Overload("currentdate", (), "date", lambda: _date_of_ms(_now_ms()), pure=False),
        Overload("currenttime", (), "time", lambda: util.Time(_now_ms() % 86_400_000 * 1_000_000), pure=False),
        Overload("todate", ("timeuuid",), "date", lambda v: _date_of_ms(_uuid_ms(v))),
        Overload("todate", ("timestamp",), "date", lambda v: _date_of_ms(_datetime_ms(v))),
        Overload("todate", ("date",), "date", lambda v: v),
        Overload("totimestamp", ("timeuuid",), "timestamp", lambda v: _ms_datetime(_uuid_ms(v))),
        Overload("totimestamp", ("date",), "timestamp", lambda v: _ms_datetime(v.days_from_epoch * 86_400_000)),
        Overload("totimestamp", ("timestamp",), "timestamp", lambda v: v),
        Overload("tounixtimestamp", ("timeuuid",), "bigint", _uuid_ms),
        Overload("tounixtimestamp", ("timestamp",), "bigint", _datetime_ms),
        Overload("tounixtimestamp", ("date",), "bigint", lambda v: v.days_from_epoch * 86_400_000),
        Overload("dateof", ("timeuuid",), "timestamp", lambda v: _ms_datetime(_uuid_ms(v))),
        Overload("unixtimestampof", ("timeuuid",), "bigint", _uuid_ms),
        Overload("mintimeuuid", ("timestamp",), "timeuuid", lambda v: _timeuuid_bound(_datetime_ms(v), False)),
        Overload("maxtimeuuid", ("timestamp",), "timeuuid", lambda v: _timeuuid_bound(_datetime_ms(v), True)),
    ]
    for typename in _NATIVE:
        if typename != "blob":
            fns.append(Overload(f"{typename}asblob", (typename,), "blob", _to_blob(typename)))
            fns.append(Overload(f"blobas{typename}", ("blob",), typename, _from_blob(typename)))
    registry: dict[str, list[Overload]] = {}
    for fn in fns:
        registry.setdefault(fn.name, []).append(fn)
    return registry


FUNCTIONS = _registry()


def unknown(name: str) -> InvalidRequest:
    return InvalidRequest(f"Unknown function '{name}'")


def _same(param: str, arg: ColumnType) -> bool:
    name = arg.spec.name
    return param == name or {param, name} <= {"text", "varchar"}


def _literal_fits(param: str, lit: Literal) -> bool:
    try:
        coerce(ctype_of(param), lit, "arg")
    except InvalidRequest:
        return False
    return True


def choose(
    name: str,
    arg_types: Sequence[ColumnType | None],
    literals: Sequence[Literal | None],
    receiver: ColumnType | None = None,
) -> Overload:
    """The overload of ``name`` for arguments of these types (None: an untyped literal or marker)."""
    overloads = FUNCTIONS.get(name)
    if overloads is None:
        raise unknown(name)
    fitting = []
    for fn in overloads:
        if len(fn.params) != len(arg_types):
            continue
        ok = True
        for param, arg, lit in zip(fn.params, arg_types, literals):
            if (arg is not None and not _same(param, arg)) or (
                arg is None and lit is not None and not _literal_fits(param, lit)
            ):
                ok = False
        if ok:
            fitting.append(fn)
    if not fitting:
        raise InvalidRequest(f"Invalid call to function {name}, none of its type signatures match")
    if receiver is not None:
        for fn in fitting:
            if _same(fn.returns, receiver):
                return fn
    return fitting[0]


def term_type(term: Term) -> ColumnType | None:
    """The type of a term when it has one by itself (a function call); None for literals and markers."""
    if isinstance(term, FunctionCall) and term.name not in ("fromjson", "token"):
        args = [term_type(a) for a in term.args]
        lits = [a if isinstance(a, Literal) else None for a in term.args]
        return choose(term.name, args, lits).return_type
    return None


def call(fn: Overload, args: Sequence[Any]) -> Any:
    if any(a is None for a in args):
        return None
    return fn.impl(*args)


# -- CAST ------------------------------------------------------------------------------------------------
def cast(source: ColumnType, target_name: str) -> tuple[ColumnType, Callable[[Any], Any]]:
    """``CAST(x AS target)``: the result type and the conversion (CastFcts)."""
    src = source.spec.name
    target = ctype_of(target_name)
    if src == target_name or {src, target_name} <= {"text", "varchar"}:
        return target, lambda v: v
    if target_name in ("text", "varchar", "ascii"):
        return target, _cast_text(src)
    if src in NUMERIC and target_name in NUMERIC:
        return target, _cast_number(target_name)
    conversions: dict[tuple[str, str], Callable[[Any], Any]] = {
        ("timestamp", "date"): lambda v: _date_of_ms(_datetime_ms(v)),
        ("timeuuid", "date"): lambda v: _date_of_ms(_uuid_ms(v)),
        ("timeuuid", "timestamp"): lambda v: _ms_datetime(_uuid_ms(v)),
        ("date", "timestamp"): lambda v: _ms_datetime(v.days_from_epoch * 86_400_000),
    }
    fn = conversions.get((src, target_name))
    if fn is None:
        raise InvalidRequest(f"{src} cannot be cast to {target_name}")
    return target, fn


def _cast_text(src: str) -> Callable[[Any], Any]:
    if src in ("float", "double"):
        return lambda v: repr(float(v)).replace("inf", "Infinity").replace("nan", "NaN")
    if src == "timestamp":
        return lambda v: v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if src == "blob":
        return lambda v: "0x" + bytes(v).hex()
    if src == "boolean":
        return lambda v: "true" if v else "false"
    return str


def _cast_number(target: str) -> Callable[[Any], Any]:
    if target in ("float", "double"):
        return float
    if target == "decimal":
        return lambda v: Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    bits = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64, "counter": 64}.get(target)
    if bits is None:
        return int
    return lambda v: wrap(int(v), bits)


def wrap(value: int, bits: int) -> int:
    """Two's complement overflow, like Java's fixed-width integers."""
    half = 1 << (bits - 1)
    return (value + half) % (1 << bits) - half
