"""Helpers shared by the write statements: write time and expiry, ``col = col + x`` semantics, guards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cassandra import util

from .._errors import InvalidRequest, Unauthorized
from .._results import UNSET
from .._store import Cell, live_value
from ..values._types import normalize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._context import Call
    from ..schema._catalog import ColumnDef, TableDef
    from ..values._bind import Compiled

MAX_TTL = 630720000  # 20 years, Cassandra's limit


def check_writable(table: TableDef) -> None:
    if table.virtual_rows is not None or table.keyspace.startswith("system"):
        raise Unauthorized(f"{table.keyspace} keyspace is not user-modifiable.")


def write_meta(
    call: Call, table: TableDef, ttl: Compiled | None, timestamp: Compiled | None, bound: Sequence[Any]
) -> tuple[int, float | None]:
    """The write timestamp (microseconds) and the expiry time (clock seconds) of a write."""
    ts_value = timestamp(bound) if timestamp is not None else None
    if ts_value is None or ts_value is UNSET:
        ts = call.timestamp if call.timestamp is not None else call.state.timestamp()
    else:
        ts = int(ts_value)
    ttl_value = ttl(bound) if ttl is not None else None
    if ttl_value is None or ttl_value is UNSET:
        ttl_value = int(table.options.get("default_time_to_live") or 0)
    if ttl_value < 0:
        raise InvalidRequest(f"A TTL must be greater or equal to 0, but was {ttl_value}")
    if ttl_value > MAX_TTL:
        raise InvalidRequest(f"ttl is too large. requested ({ttl_value}) maximum ({MAX_TTL})")
    return ts, (call.state.clock() + ttl_value) if ttl_value else None


def apply_arithmetic(col: ColumnDef, op: str, old_cell: Cell | None, operand: Any, now: float) -> Any:
    """The new value of ``col = col + operand`` (counters, lists, sets, maps)."""
    old = live_value(old_cell, now)
    kind = col.ctype.spec.name
    if col.ctype.is_counter:
        if operand is None:
            raise InvalidRequest(f"Invalid null value for counter increment on {col.name}")
        return (old or 0) + operand if op == "+" else (old or 0) - operand
    if col.ctype.frozen or kind not in ("list", "set", "map"):
        raise InvalidRequest(f"Invalid operation ({col.name} = {col.name} {op} ?) for non counter column {col.name}")
    operand = operand or ([] if kind == "list" else {} if kind == "map" and op == "+" else [])
    if kind == "list":
        current = list(old or [])
        if op == "+":
            return normalize(col.ctype, current + list(operand))
        if op == "prepend":
            return normalize(col.ctype, list(operand) + current)
        return normalize(col.ctype, [x for x in current if x not in operand])
    if op == "prepend":
        raise InvalidRequest(f"Invalid operation (prepend) for {kind} column {col.name}")
    if kind == "set":
        current_set = list(old or [])
        if op == "+":
            return normalize(col.ctype, util.sortedset(current_set + list(operand)))
        return normalize(col.ctype, [x for x in current_set if x not in operand])
    current_map = dict(old or {})
    if op == "+":
        current_map.update(operand)
    else:
        for key in operand:
            current_map.pop(key, None)
    return normalize(col.ctype, current_map)
