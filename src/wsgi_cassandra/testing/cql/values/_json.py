"""CQL values to and from JSON, as Cassandra's ``toJson``/``fromJson``, ``SELECT JSON`` and ``INSERT JSON`` do.

Usage::

    to_json(ctype, {"x": 1})         # '{"x": 1}'
    from_json(ctype, {"x": 1})       # the stored (canonical) value of a map<text, int>

Formats follow Cassandra's type serializers: timestamps as ``"2024-01-02 03:04:05.000Z"``, dates and times as
strings, blobs as ``"0x..."``, uuids as strings, map keys always as JSON strings.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from typing import Any

from cassandra import cqltypes, util

from .._errors import InvalidRequest
from ._literals import coerce, ctype_for
from ._types import ColumnType, normalize, resolve

_NUMBERS = {"int", "bigint", "smallint", "tinyint", "varint", "counter"}


def to_json(cqltype: Any, value: Any) -> str:
    """The JSON text of ``value`` of the driver type ``cqltype``."""
    if value is None:
        return "null"
    typename = cqltype.typename
    if typename in _NUMBERS:
        return str(int(value))
    if typename in ("float", "double"):
        if math.isnan(value) or math.isinf(value):
            return json.dumps(str(value).replace("inf", "Infinity").replace("nan", "NaN"))
        return repr(float(value))
    if typename == "decimal":
        return str(value)
    if typename == "boolean":
        return "true" if value else "false"
    if typename in ("text", "varchar", "ascii"):
        return json.dumps(value, ensure_ascii=False)
    if typename == "blob":
        return json.dumps("0x" + bytes(value).hex())
    if typename == "timestamp":
        stamp = value if isinstance(value, datetime.datetime) else util.datetime_from_timestamp(value / 1000)
        return json.dumps(stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z")
    if typename == "duration":
        return json.dumps(duration_text(value))
    if typename in ("list", "set"):
        sub = cqltype.subtypes[0]
        return "[" + ", ".join(to_json(sub, v) for v in value) + "]"
    if typename == "map":
        key_type, value_type = cqltype.subtypes
        items = []
        for k, v in value.items():
            key = to_json(key_type, k)
            items.append((key if key.startswith('"') else json.dumps(key)) + ": " + to_json(value_type, v))
        return "{" + ", ".join(items) + "}"
    if typename == "tuple":
        return "[" + ", ".join(to_json(sub, v) for sub, v in zip(cqltype.subtypes, value)) + "]"
    if issubclass(cqltype, cqltypes.UserType):
        fields = [
            json.dumps(name) + ": " + to_json(sub, getattr(value, name, None) if not isinstance(value, tuple) else v)
            for name, sub, v in zip(cqltype.fieldnames, cqltype.subtypes, _fields(value, cqltype))
        ]
        return "{" + ", ".join(fields) + "}"
    return json.dumps(str(value))


def _fields(value: Any, cqltype: Any) -> list[Any]:
    if isinstance(value, tuple):
        return list(value) + [None] * (len(cqltype.fieldnames) - len(value))
    return [getattr(value, name, None) for name in cqltype.fieldnames]


def duration_text(value: util.Duration) -> str:
    """Cassandra's compact form of a duration: ``1h30m``, ``-2d``, ``1y2mo``."""
    months, days, nanos = value.months, value.days, value.nanoseconds
    if months == days == nanos == 0:
        return "0s"
    sign = "-" if min(months, days, nanos) < 0 else ""
    months, days, nanos = abs(months), abs(days), abs(nanos)
    parts = []
    for amount, unit in ((months // 12, "y"), (months % 12, "mo"), (days, "d")):
        if amount:
            parts.append(f"{amount}{unit}")
    for size, unit in ((3600 * 10**9, "h"), (60 * 10**9, "m"), (10**9, "s"), (10**6, "ms"), (10**3, "us"), (1, "ns")):
        if nanos >= size:
            parts.append(f"{nanos // size}{unit}")
            nanos %= size
    return sign + "".join(parts)


def parse_document(text: str) -> Any:
    try:
        return json.loads(text, parse_float=decimal.Decimal)
    except ValueError as exc:
        raise InvalidRequest(f"Could not decode JSON string as a map: {exc}. (String was: {text})") from None


def from_json(ctype: ColumnType, doc: Any, name: str) -> Any:
    """The stored value of ``ctype`` for the parsed JSON ``doc`` (as ``fromJson`` / ``INSERT JSON``)."""
    try:
        return normalize(ctype, _from_json(ctype, doc))
    except InvalidRequest:
        raise
    except Exception as exc:
        raise InvalidRequest(f"Error decoding JSON value for {name}: {exc}") from None


def _from_json(ctype: ColumnType, doc: Any) -> Any:
    if doc is None:
        return None
    typename = ctype.spec.name
    if typename in _NUMBERS:
        if isinstance(doc, bool) or (isinstance(doc, decimal.Decimal) and doc != int(doc)):
            raise ValueError(f"Expected an integer, got {doc!r}")
        return _round_trip(ctype, int(doc))
    if typename in ("float", "double"):
        return _round_trip(ctype, float(doc))
    if typename == "decimal":
        return decimal.Decimal(str(doc))
    if typename == "boolean":
        if isinstance(doc, str) and doc.lower() in ("true", "false"):
            return doc.lower() == "true"
        if not isinstance(doc, bool):
            raise ValueError(f"Expected a boolean value, but got a {type(doc).__name__}: {doc}")
        return doc
    if issubclass(ctype.cqltype, cqltypes.UserType):
        return _user_type(ctype, doc)
    if typename in ("list", "set", "map", "tuple"):
        params = [resolve(p) for p in ctype.spec.params]
        if typename == "map":
            if not isinstance(doc, dict):
                raise ValueError(f"Expected a map, but got a {type(doc).__name__}: {doc}")
            return {_map_key(params[0], k): _from_json(params[1], v) for k, v in doc.items()}
        if not isinstance(doc, list):
            raise ValueError(f"Expected a list, but got a {type(doc).__name__}: {doc}")
        if typename == "tuple":
            return tuple(_from_json(p, v) for p, v in zip(params, doc))
        items = [_from_json(params[0], v) for v in doc]
        return util.sortedset(items) if typename == "set" else items
    if not isinstance(doc, str):
        if typename in ("timestamp", "date", "time") and isinstance(doc, (int, decimal.Decimal)):
            return _round_trip(ctype, int(doc)) if typename != "date" else _literal(ctype, str(int(doc)), "int")
        raise ValueError(f"Expected a string, but got a {type(doc).__name__}: {doc}")
    if typename in ("text", "varchar", "ascii"):
        return doc
    if typename == "blob":
        if not doc.startswith("0x"):
            raise ValueError("String representation of blob is missing 0x prefix: " + doc)
        return bytes.fromhex(doc[2:])
    kind = "uuid" if typename in ("uuid", "timeuuid") else "duration" if typename == "duration" else "string"
    return _literal(ctype, doc, kind)


def _user_type(ctype: ColumnType, doc: Any) -> Any:

    cqltype = ctype.cqltype
    if not isinstance(doc, dict):
        raise ValueError(f"Expected a map, but got a {type(doc).__name__}: {doc}")
    names = list(cqltype.fieldnames)
    for name in doc:
        if name not in names:
            raise InvalidRequest(f"Unknown field '{name}' in value of user defined type {cqltype.typename}")
    values = tuple(
        _from_json(ctype_for(sub), doc.get(name)) if doc.get(name) is not None else None
        for name, sub in zip(names, cqltype.subtypes)
    )
    return cqltype.from_binary(cqltype.to_binary(values, 4), 4)


def _map_key(ctype: ColumnType, key: str) -> Any:
    if ctype.spec.name in ("text", "varchar", "ascii"):
        return key
    return _from_json(ctype, parse_document(key) if ctype.spec.name not in _STRINGY else key)


_STRINGY = {"timestamp", "date", "time", "uuid", "timeuuid", "inet", "blob", "duration"}


def _round_trip(ctype: ColumnType, value: Any) -> Any:
    cqltype = ctype.cqltype
    return cqltype.from_binary(cqltype.to_binary(value, 4), 4)


def _literal(ctype: ColumnType, text: str, kind: str) -> Any:
    from .._ast import Literal

    return coerce(ctype, Literal(kind, text), ctype.spec.name)
