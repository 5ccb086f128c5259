"""Lightweight-transaction conditions: ``IF col = x AND col2 IN (...)``, ``IF m[k] > 3``, ``IF EXISTS``.

Usage (the write plans do this)::

    conditions = Conditions(table, stmt.conditions, binder)   # once, at prepare time
    conditions.check(part, row, now, bound)                   # True: the write applies
    conditions.columns                                        # what a failed statement shows, in IF order

A condition on a missing row sees nulls, so ``IF v = null`` applies to a row that does not exist, as in
Cassandra's ``ColumnCondition``; ordering operators on a null value are simply false.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .._ast import TypeSpec
from .._errors import InvalidRequest
from ..values._types import ColumnType, resolve, sort_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._ast import Condition
    from .._store import Partition, Row
    from ..schema._catalog import ColumnDef, TableDef
    from ..values._bind import Binder, Compiled

_INT = resolve(TypeSpec("int"))


class Conditions:
    def __init__(self, table: TableDef, conditions: Sequence[Condition], binder: Binder) -> None:
        self.table = table
        self.compiled: list[tuple[ColumnDef, str, Compiled | None, Compiled, Callable[[Any], Any]]] = []
        self.columns: list[ColumnDef] = []
        for cond in conditions:
            col = table.column(cond.column)
            if col.kind in ("partition_key", "clustering"):
                raise InvalidRequest(f"PRIMARY KEY column '{col.name}' cannot have IF conditions")
            if col.ctype.is_counter:
                raise InvalidRequest("Conditions on counters are not supported")
            element: Compiled | None = None
            target = col.ctype
            if cond.element is not None:
                element, target = _element(col, cond.element, binder)
            elif cond.field is not None:
                raise InvalidRequest("wsgi_cassandra test server: conditions on user type fields are not supported")
            if cond.op == "in":
                value = _compile_in(cond.term, target, col.name, binder)
            else:
                term = cond.term
                assert not isinstance(term, tuple)
                value = binder.compile(term, target, col.name)
            self.compiled.append((col, cond.op, element, value, sort_key(target.cqltype)))
            if col not in self.columns:
                self.columns.append(col)

    @property
    def static_only(self) -> bool:
        return bool(self.columns) and all(c.kind == "static" for c in self.columns)

    def check(self, part: Partition | None, row: Row | None, now: float, bound: Sequence[Any]) -> bool:
        from .._store import column_value

        for col, op, element, value_fn, key in self.compiled:
            current = column_value(col, part, row, now) if part is not None else None
            if element is not None and current is not None:
                index = element(bound)
                if isinstance(current, list):
                    current = current[index] if isinstance(index, int) and 0 <= index < len(current) else None
                else:
                    current = current.get(index)
            expected = value_fn(bound)
            if not _holds(op, current, expected, key):
                return False
        return True


def _holds(op: str, current: Any, expected: Any, key: Callable[[Any], Any]) -> bool:
    if op == "=":
        return bool(current == expected)
    if op == "!=":
        return bool(current != expected)
    if op == "in":
        return current in (expected or [])
    if expected is None:
        raise InvalidRequest(f'Invalid comparison with null for operator "{op}"')
    if current is None:
        return False
    a, b = key(current), key(expected)
    return bool(a < b if op == "<" else a <= b if op == "<=" else a > b if op == ">" else a >= b)


def _element(col: ColumnDef, term: Any, binder: Binder) -> tuple[Compiled, ColumnType]:
    spec = col.ctype.spec
    if spec.name == "map":
        return binder.compile(term, resolve(spec.params[0]), f"key({col.name})"), resolve(spec.params[1])
    if spec.name == "list":
        return binder.compile(term, _INT, f"idx({col.name})"), resolve(spec.params[0])
    raise InvalidRequest(f"Invalid element access syntax for {spec.name} column {col.name}")


def _compile_in(term: Any, target: ColumnType, name: str, binder: Binder) -> Compiled:
    if isinstance(term, tuple):
        items = [binder.compile(t, target, name) for t in term]
        return lambda bound: [item(bound) for item in items]
    list_type = resolve(type(target.spec)("list", (target.spec,)))
    return binder.compile(term, list_type, f"in({name})")
