"""INSERT, UPDATE and DELETE: planned once, applied per execution under the engine's lock.

Writes follow Cassandra: INSERT sets a row marker (the row exists even with all other cells null),
UPDATE only writes cells, a null value deletes a cell, TTL makes cells (and the marker) expire, and the
write timestamp decides between concurrent writes. ``IF NOT EXISTS`` / ``IF EXISTS`` answer a row with
the ``[applied]`` column (plus the existing row when not applied), like a lightweight transaction.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Union

from cassandra import cqltypes

from ..errors import InvalidRequest
from ..results import UNSET, Column, Rows, Void
from .ast import Arithmetic, BindMarker, Delete, Insert, Term, TypeSpec, Update
from .keys import clustering_key, clustering_sort, partition_key
from .mutations import apply_arithmetic, check_writable, write_meta
from .store import Cell, Partition, TableData, delete_cells, write_cell
from .types import resolve
from .values import Binder, Compiled
from .where import Where, predicates

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .catalog import ColumnDef, TableDef
    from .state import Call

BIGINT = resolve(TypeSpec("bigint"))
INT = resolve(TypeSpec("int"))
Result = Union[Rows, Void]


def _applied(table: TableDef, applied: bool, existing: list[Any] | None = None) -> Rows:
    columns = [Column(table.keyspace, table.name, "[applied]", cqltypes.BooleanType)]
    if existing is None:
        return Rows(columns, [[applied]])
    return Rows(columns + table.result_columns, [[applied, *existing]])


class _Write:
    result_columns: list[Column] | None = None

    def __init__(self, table: TableDef, markers: int, ttl: Term | None, timestamp: Term | None) -> None:
        check_writable(table)
        self.table = table
        self.tables = (table,)
        self.binder = Binder(markers, table.keyspace, table.name)
        self.ttl = self.binder.compile(ttl, INT, "[ttl]") if ttl is not None else None
        self.timestamp = self.binder.compile(timestamp, BIGINT, "[timestamp]") if timestamp is not None else None

    def _finish(self, pk_markers: Sequence[int | None]) -> None:
        self.bind_columns = self.binder.bind_columns()
        self.bind_types = self.binder.types
        self.pk_indexes = [i for i in pk_markers if i is not None] if None not in pk_markers else []

    def _existing(self, part: Partition | None, ckey: tuple[bytes, ...], now: float) -> list[Any] | None:
        from .select import row_values

        if part is None:
            return None
        row = part.rows.get(ckey)
        if row is None or not row.live(now):
            return None
        return row_values(self.table, part, row, now)


class InsertPlan(_Write):
    def __init__(self, stmt: Insert, table: TableDef, markers: int) -> None:
        super().__init__(table, markers, stmt.ttl, stmt.timestamp)
        if table.is_counter:
            raise InvalidRequest("INSERT statements are not allowed on counter tables, use UPDATE instead")
        self.if_not_exists = stmt.if_not_exists
        self.values: list[tuple[ColumnDef, Compiled]] = []
        seen: set[str] = set()
        markers_by_column: dict[str, int] = {}
        for name, term in zip(stmt.columns, stmt.values):
            col = table.column(name)
            if name in seen:
                raise InvalidRequest(f"Multiple definitions found for column {name}")
            seen.add(name)
            if isinstance(term, BindMarker):
                markers_by_column[name] = term.index
            self.values.append((col, self.binder.compile(term, col.ctype, name)))
        missing = [c.name for c in table.partition_key if c.name not in seen]
        if missing:
            raise InvalidRequest(f"Some partition key parts are missing: {', '.join(missing)}")
        self.static_only = (
            bool(seen) and all(table.columns[n].kind in ("partition_key", "static") for n in seen) and table.has_static
        )
        missing = [c.name for c in table.clustering if c.name not in seen]
        if missing and not self.static_only:
            raise InvalidRequest(f"Some clustering keys are missing: {', '.join(missing)}")
        self._finish([markers_by_column.get(c.name) for c in table.partition_key])

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        table, state = self.table, call.state
        values = {col.name: fn(bound) for col, fn in self.values}
        for col in table.primary_key:
            if values.get(col.name) is UNSET:
                raise InvalidRequest(f"Invalid unset value for column {col.name}")
        ts, expires = write_meta(call, table, self.ttl, self.timestamp, bound)
        data = state.data_for(table)
        pk = tuple(values[c.name] for c in table.partition_key)
        key = partition_key(table, pk)
        if self.static_only and not all(c.name in values for c in table.clustering):
            part = data.partition(key, pk)
            for col, _ in self.values:
                if col.kind == "static" and values[col.name] is not UNSET:
                    write_cell(part.static, col.name, values[col.name], ts, expires)
            return Void()
        cvals = tuple(values[c.name] for c in table.clustering)
        ckey = clustering_key(table, cvals)
        if self.if_not_exists:
            existing = self._existing(data.get(key), ckey, state.clock())
            if existing is not None:
                return _applied(table, False, existing)
        part = data.partition(key, pk)
        row = part.row(ckey, cvals, clustering_sort(table, cvals))
        if row.marker is None or row.marker.ts <= ts:
            row.marker = Cell(None, ts, expires)
        for col, _ in self.values:
            value = values[col.name]
            if col.kind in ("partition_key", "clustering") or value is UNSET:
                continue
            write_cell(part.static if col.kind == "static" else row.cells, col.name, value, ts, expires)
        return _applied(table, True) if self.if_not_exists else Void()


class UpdatePlan(_Write):
    def __init__(self, stmt: Update, table: TableDef, markers: int) -> None:
        super().__init__(table, markers, stmt.ttl, stmt.timestamp)
        self.if_exists = stmt.if_exists
        self.assignments: list[tuple[ColumnDef, str, Compiled]] = []
        for name, value in stmt.assignments:
            col = table.column(name)
            if col.kind in ("partition_key", "clustering"):
                raise InvalidRequest(f"PRIMARY KEY part {name} found in SET part")
            if isinstance(value, Arithmetic):
                operand = col.ctype if not col.ctype.is_counter else BIGINT
                if value.op == "-" and col.ctype.spec.name == "map":
                    operand = resolve(TypeSpec("set", (col.ctype.spec.params[0],)))
                self.assignments.append((col, value.op, self.binder.compile(value.term, operand, name)))
            else:
                if col.ctype.is_counter:
                    raise InvalidRequest(
                        f"Cannot set the value of counter column {name} "
                        "(counters can only be incremented/decremented, not set)"
                    )
                self.assignments.append((col, "=", self.binder.compile(value, col.ctype, name)))
        self.where = Where(table, stmt.where, self.binder)
        only_static = all(col.kind == "static" for col, _, _ in self.assignments)
        _check_key_where(self.where, table, need_clustering=not only_static)
        self._finish([self.where.eq_markers.get(c.name) for c in table.partition_key])

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        table, state = self.table, call.state
        restrictions = self.where.evaluate(bound)
        ts, expires = write_meta(call, table, self.ttl, self.timestamp, bound)
        values = [(col, op, fn(bound)) for col, op, fn in self.assignments]
        data = state.data_for(table)
        clusterings = self.where.full_clustering(restrictions) if table.clustering else [()]
        for pk in self.where.partition_values(restrictions):
            key = partition_key(table, pk)
            candidates: list[tuple[Any, ...] | None] = [*clusterings] if clusterings else [None]
            for cvals in candidates:
                if self.if_exists:
                    ckey = clustering_key(table, cvals) if cvals is not None else ()
                    if self._existing(data.get(key), ckey, state.clock()) is None:
                        return _applied(table, False)
                part = data.partition(key, pk)
                row = None
                if cvals is not None:
                    row = part.row(clustering_key(table, cvals), cvals, clustering_sort(table, cvals))
                for col, op, operand in values:
                    if operand is UNSET:
                        continue
                    cells = part.static if col.kind == "static" or row is None else row.cells
                    value = operand
                    if op != "=":
                        value = apply_arithmetic(col, op, cells.get(col.name), operand, state.clock())
                    write_cell(cells, col.name, value, ts, None if col.ctype.is_counter else expires)
                if row is not None and not row.cells and row.marker is None:
                    part.remove(clustering_key(table, cvals or ()))
        return _applied(table, True) if self.if_exists else Void()


class DeletePlan(_Write):
    def __init__(self, stmt: Delete, table: TableDef, markers: int) -> None:
        super().__init__(table, markers, None, stmt.timestamp)
        self.if_exists = stmt.if_exists
        self.columns = [table.column(n) for n in stmt.columns]
        for col in self.columns:
            if col.kind in ("partition_key", "clustering"):
                raise InvalidRequest(f"Invalid identifier {col.name} for deletion (should not be a PRIMARY KEY part)")
        self.where = Where(table, stmt.where, self.binder)
        if not self.where.has_full_partition_key():
            missing = [c.name for c in table.partition_key if c.name not in self.where.columns]
            raise InvalidRequest(f"Some partition key parts are missing: {', '.join(missing)}")
        if any(c.kind in ("regular", "static") for c, _, _ in self.where.compiled):
            raise InvalidRequest("Non PRIMARY KEY columns found in where clause")
        regular = [c for c in self.columns if c.kind == "regular"]
        if regular and any(c.name not in self.where.columns for c in table.clustering):
            raise InvalidRequest("Range deletions are not supported for specific columns")
        self._finish([self.where.eq_markers.get(c.name) for c in table.partition_key])

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        table, state = self.table, call.state
        restrictions = self.where.evaluate(bound)
        ts = self.timestamp(bound) if self.timestamp is not None else state.timestamp()
        data = state.data_for(table)
        preds = predicates(table, restrictions, ("clustering",))
        now = state.clock()
        for pk in self.where.partition_values(restrictions):
            key = partition_key(table, pk)
            part = data.get(key)
            if self.if_exists and (part is None or not any(r.live(now) for r in part.rows.values())):
                return _applied(table, False)
            if part is not None:
                _delete(data, key, part, self.columns, preds, ts)
        return _applied(table, True) if self.if_exists else Void()


def _delete(  # noqa: PLR0917 - a private helper of DeletePlan.run
    data: TableData, key: bytes, part: Partition, columns: list[ColumnDef], preds: list[Any], ts: int
) -> None:
    table = data.table
    names = [c.name for c in columns]
    if not preds:
        delete_cells(part.static, [c.name for c in columns if c.kind == "static"] if columns else list(part.static), ts)
    for ckey, row in list(part.rows.items()):
        if preds and not all(p(row.clustering[table.columns[n].position]) for n, p in preds):
            continue
        delete_cells(
            row.cells, [n for n in names if table.columns[n].kind == "regular"] if names else list(row.cells), ts
        )
        if not names and row.marker is not None and row.marker.ts <= ts:
            row.marker = None
        if not row.cells and row.marker is None:
            part.remove(ckey)
    if not part.rows and not part.static:
        data.drop(key)


def _check_key_where(where: Where, table: TableDef, *, need_clustering: bool) -> None:
    missing = [c.name for c in table.partition_key if c.name not in where.columns]
    if missing:
        raise InvalidRequest(f"Some partition key parts are missing: {', '.join(missing)}")
    for col, op, _ in where.compiled:
        if col.kind in ("regular", "static"):
            raise InvalidRequest(f"Non PRIMARY KEY columns found in where clause: {col.name}")
        if op not in ("=", "in"):
            raise InvalidRequest(
                f"Slice restrictions are not supported on the clustering columns in UPDATE statements: {col.name}"
            )
    missing = [c.name for c in table.clustering if c.name not in where.columns]
    if missing and need_clustering:
        raise InvalidRequest(f"Some clustering keys are missing: {', '.join(missing)}")


_ = itertools
