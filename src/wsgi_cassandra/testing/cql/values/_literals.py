"""Literals to values: a CQL constant as the canonical Python value of the type that receives it.

The lowest layer of value handling, shared by the binder (``_bind``), functions and JSON:
``coerce(ctype, literal, name)`` gives what ``from_binary`` would give for that type, or raises the
InvalidRequest a Cassandra node answers for a constant that does not fit (``Invalid STRING constant ...``,
``Unable to make byte from '300'``).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import uuid
from decimal import Decimal
from typing import Any

from cassandra import util

from .._ast import Literal, TypeSpec
from .._errors import InvalidRequest
from ._types import ColumnType, normalize, parse_type

PROTO = 4  # the protocol version values round-trip through to take their canonical form
_INTS = {"int", "bigint", "smallint", "tinyint", "varint", "counter"}


def ctype_for(cqltype: Any) -> ColumnType:
    """A ColumnType for a driver type found inside a user type (its fields)."""
    try:
        return parse_type(cqltype.cql_parameterized_type())
    except InvalidRequest:  # it names a user type: keep the driver class, whose subtypes say the rest
        subtypes = () if hasattr(cqltype, "fieldnames") else getattr(cqltype, "subtypes", ())
        spec = TypeSpec(cqltype.typename, tuple(ctype_for(sub).spec for sub in subtypes))
        return ColumnType(cqltype, cqltype.cql_parameterized_type(), True, spec)


def coerce(ctype: ColumnType, lit: Literal, name: str) -> Any:
    """A literal as the canonical Python value of ``ctype`` (the form ``from_binary`` would give)."""
    if lit.kind == "null":
        return None
    try:
        value = _python_value(ctype, lit)
        cqltype = ctype.cqltype
        return normalize(ctype, cqltype.from_binary(cqltype.to_binary(value, PROTO), PROTO))
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
