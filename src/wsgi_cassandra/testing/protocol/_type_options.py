"""The [option] encoding of a column type, derived from the driver's own ``cassandra.cqltypes`` classes.

The engine describes columns with the driver's type classes, so the server announces each type with the
id the driver maps back to the same class (``ResultMessage.type_codes``); anything without a native id
(or ``duration`` before v5) goes out as a custom type with its Java class name, as Cassandra does.
"""

from __future__ import annotations

from typing import Any

from cassandra import cqltypes

from . import _wire as wire

_BY_TYPENAME: dict[str, int] = {
    "ascii": 0x0001,
    "bigint": 0x0002,
    "blob": 0x0003,
    "boolean": 0x0004,
    "counter": 0x0005,
    "decimal": 0x0006,
    "double": 0x0007,
    "float": 0x0008,
    "int": 0x0009,
    "text": 0x000D,  # Cassandra sends UTF8Type as varchar on every protocol version
    "timestamp": 0x000B,
    "uuid": 0x000C,
    "varchar": 0x000D,
    "varint": 0x000E,
    "timeuuid": 0x000F,
    "inet": 0x0010,
    "date": 0x0011,
    "time": 0x0012,
    "smallint": 0x0013,
    "tinyint": 0x0014,
    "duration": 0x0015,
}
_LIST, _MAP, _SET, _UDT, _TUPLE = 0x0020, 0x0021, 0x0022, 0x0030, 0x0031
_CUSTOM = 0x0000

_cache: dict[tuple[Any, int], bytes] = {}


def option(cqltype: Any, protocol_version: int) -> bytes:
    """The [option] bytes for ``cqltype`` (cached: the same classes come back on every request)."""
    key = (cqltype, protocol_version)
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = _option(cqltype, protocol_version)
    return cached


def _option(cqltype: Any, protocol_version: int) -> bytes:
    if issubclass(cqltype, cqltypes.FrozenType):
        return _option(cqltype.subtypes[0], protocol_version)
    if issubclass(cqltype, cqltypes.UserType):
        fields = b"".join(
            wire.string(name) + _option(sub, protocol_version)
            for name, sub in zip(cqltype.fieldnames, cqltype.subtypes)
        )
        return (
            wire.short(_UDT)
            + wire.string(cqltype.keyspace)
            + wire.string(cqltype.typename)
            + wire.short(len(cqltype.subtypes))
            + fields
        )
    if issubclass(cqltype, cqltypes.TupleType):
        subs = b"".join(_option(sub, protocol_version) for sub in cqltype.subtypes)
        return wire.short(_TUPLE) + wire.short(len(cqltype.subtypes)) + subs
    for base, code in ((cqltypes.ListType, _LIST), (cqltypes.SetType, _SET), (cqltypes.MapType, _MAP)):
        if issubclass(cqltype, base):
            return wire.short(code) + b"".join(_option(sub, protocol_version) for sub in cqltype.subtypes)
    native = _BY_TYPENAME.get(cqltype.typename)
    if native is None or (native == 0x0015 and protocol_version < 5):
        return wire.short(_CUSTOM) + wire.string(cqltype.cass_parameterized_type(full=True))
    return wire.short(native)
