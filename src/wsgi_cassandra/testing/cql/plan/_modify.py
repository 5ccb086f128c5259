"""INSERT, UPDATE and DELETE: planned once, applied per execution under the engine's lock.

Writes follow Cassandra: INSERT sets a row marker (the row exists even with all other cells null),
UPDATE only writes cells, a null value deletes a cell, TTL makes cells (and the marker) expire, and the
write timestamp decides between concurrent writes. A lightweight transaction (``IF NOT EXISTS``,
``IF EXISTS``, ``IF col = x ...``) answers one row with the ``[applied]`` column; when it did not apply,
followed by the existing row's columns (all of them for ``EXISTS`` forms, else the columns in the
conditions), or nothing more when there is no such row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from cassandra import cqltypes

from .._ast import Arithmetic, BindMarker, Delete, ElementSet, Insert, Term, TypeSpec, Update
from .._errors import InvalidRequest
from .._results import UNSET, Column, Rows, Void
from .._store import Cell, Partition, TableData, delete_cells, live_value, write_cell
from ..values._bind import Binder, Compiled
from ..values._types import ColumnType, normalize, resolve
from ._conditions import Conditions
from ._keys import clustering_key, clustering_sort, partition_key
from ._mutations import apply_arithmetic, check_writable, write_meta
from ._where import Where, predicates

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._context import Call
    from .._store import Row
    from ..schema._catalog import ColumnDef, TableDef

BIGINT = resolve(TypeSpec("bigint"))
INT = resolve(TypeSpec("int"))
TEXT = resolve(TypeSpec("text"))
Result = Union[Rows, Void]
Target = tuple[bytes, tuple[Any, ...], "tuple[Any, ...] | None"]  # (partition key, its values, clustering values)


def applied_result(
    table: TableDef, applied: bool, columns: Sequence[ColumnDef] | None = None, rows: Sequence[list[Any]] = ()
) -> Rows:
    """The ``[applied]`` row of a lightweight transaction, followed by the existing rows when not applied."""
    head = [Column(table.keyspace, table.name, "[applied]", cqltypes.BooleanType)]
    if applied or not rows or columns is None:
        return Rows(head, [[applied]])
    meta = [Column(table.keyspace, table.name, c.name, c.cqltype) for c in columns]
    return Rows(head + meta, [[applied, *row] for row in rows])


class _Write:
    result_columns: list[Column] | None = None
    if_exists = False
    if_not_exists = False
    conditions: Conditions | None = None

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

    # -- lightweight transactions -------------------------------------------------------------------------
    @property
    def conditional(self) -> bool:
        return self.if_exists or self.if_not_exists or self.conditions is not None

    def cas_columns(self) -> list[ColumnDef] | None:
        """The columns a failed condition shows; None: all of them (``IF [NOT] EXISTS``)."""
        if self.conditions is None:
            return None
        return list(self.conditions.columns)

    def targets(self, call: Call, bound: Sequence[Any]) -> list[Target]:
        raise NotImplementedError

    def _check_conditional_in(self) -> None:
        where: Where | None = getattr(self, "where", None)
        if not self.conditional or where is None:
            return
        for col, op, _ in where.compiled:
            if op == "in":
                part = "partition key" if col.kind == "partition_key" else "clustering key columns"
                kind = "updates" if isinstance(self, UpdatePlan) else "deletions"
                raise InvalidRequest(f"IN on the {part} is not supported with conditional {kind}")

    def cas_check(self, call: Call, bound: Sequence[Any]) -> tuple[bool, list[tuple[Partition, Row | None]]]:
        """Whether the conditions hold, and the existing rows they read (shown when they do not)."""
        data, now = call.state.data_for(self.table), call.state.clock()
        ok, seen = True, []
        for key, _pk, cvals in self.targets(call, bound)[:1]:
            part = data.get(key)
            row = None
            if part is not None and cvals is not None:
                row = part.rows.get(clustering_key(self.table, cvals))
                row = row if row is not None and row.live(now) else None
            exists = row is not None or (
                part is not None
                and cvals is None
                and (bool(part.static) or any(r.live(now) for r in part.rows.values()))
            )
            if self.conditions is not None and self.conditions.static_only and part is not None and part.static:
                exists = True
            if self.if_not_exists:
                ok = ok and not exists
            elif self.if_exists:
                ok = ok and exists
            elif self.conditions is not None:
                ok = ok and self.conditions.check(part, row, now, bound)
            if exists and part is not None:
                seen.append((part, row))
        return ok, seen

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        if not self.conditional:
            self.apply(call, bound)
            return Void()
        ok, seen = self.cas_check(call, bound)
        if not ok:
            columns = self.cas_columns()
            columns = list(self.table.columns.values()) if columns is None else columns
            return applied_result(self.table, False, columns, existing_rows(self.table, columns, seen, call))
        self.apply(call, bound)
        return applied_result(self.table, True)

    def apply(self, call: Call, bound: Sequence[Any]) -> None:
        raise NotImplementedError


def existing_rows(
    table: TableDef, columns: Sequence[ColumnDef], seen: Sequence[tuple[Partition, Row | None]], call: Call
) -> list[list[Any]]:
    from .._store import column_value

    now = call.state.clock()
    return [[column_value(c, part, row, now) for c in columns] for part, row in seen]


class InsertPlan(_Write):
    def __init__(self, stmt: Insert, table: TableDef, markers: int) -> None:
        super().__init__(table, markers, stmt.ttl, stmt.timestamp)
        if table.is_counter:
            raise InvalidRequest("INSERT statements are not allowed on counter tables, use UPDATE instead")
        self.if_not_exists = stmt.if_not_exists
        self.values: list[tuple[ColumnDef, Compiled]] = []
        self.json: Compiled | None = None
        self.default_unset = stmt.default_unset
        seen: set[str] = set()
        markers_by_column: dict[str, int] = {}
        if stmt.json is not None:
            self.json = self.binder.compile(stmt.json, TEXT, "[json]")
            seen = set(table.columns)
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
            self.json is None
            and bool(seen)
            and all(table.columns[n].kind in ("partition_key", "static") for n in seen)
            and table.has_static
        )
        missing = [c.name for c in table.clustering if c.name not in seen]
        if missing and not self.static_only:
            raise InvalidRequest(f"Some clustering keys are missing: {', '.join(missing)}")
        self._finish([markers_by_column.get(c.name) for c in table.partition_key])

    def _values(self, bound: Sequence[Any]) -> dict[str, Any]:
        if self.json is None:
            return {col.name: fn(bound) for col, fn in self.values}
        from ..values._json import from_json, parse_document

        text = self.json(bound)
        if text is None:
            raise InvalidRequest("Got null for INSERT JSON values")
        doc = parse_document(text)
        if not isinstance(doc, dict):
            raise InvalidRequest(f"Could not decode JSON string as a map: {text}")
        given: dict[str, Any] = {}
        for raw_name, value in doc.items():
            name = raw_name[1:-1] if len(raw_name) > 1 and raw_name[0] == raw_name[-1] == '"' else raw_name.lower()
            if name not in self.table.columns:
                raise InvalidRequest(f"JSON values map contains unrecognized column: {raw_name}")
            given[name] = from_json(self.table.columns[name].ctype, value, name)
        default = UNSET if self.default_unset else None
        return {name: given.get(name, default) for name in self.table.columns}

    def _columns(self) -> list[ColumnDef]:
        return list(self.table.columns.values()) if self.json is not None else [c for c, _ in self.values]

    def targets(self, call: Call, bound: Sequence[Any]) -> list[Target]:
        values = self._values(bound)
        pk = tuple(values[c.name] for c in self.table.partition_key)
        cvals = tuple(values.get(c.name) for c in self.table.clustering)
        return [(partition_key(self.table, pk), pk, cvals)]

    def apply(self, call: Call, bound: Sequence[Any]) -> None:
        table, state = self.table, call.state
        values = self._values(bound)
        for col in table.primary_key:
            if values.get(col.name) is UNSET:
                raise InvalidRequest(f"Invalid unset value for column {col.name}")
        ts, expires = write_meta(call, table, self.ttl, self.timestamp, bound)
        data = state.data_for(table)
        pk = tuple(values[c.name] for c in table.partition_key)
        key = partition_key(table, pk)
        columns = self._columns()
        if self.static_only and not all(c.name in values for c in table.clustering):
            part = data.partition(key, pk)
            for col in columns:
                if col.kind == "static" and values[col.name] is not UNSET:
                    write_cell(part.static, col.name, values[col.name], ts, expires)
            return
        cvals = tuple(values[c.name] for c in table.clustering)
        ckey = clustering_key(table, cvals)
        part = data.partition(key, pk)
        row = part.row(ckey, cvals, clustering_sort(table, cvals))
        if row.marker is None or row.marker.ts <= ts:
            row.marker = Cell(None, ts, expires)
        for col in columns:
            value = values[col.name]
            if col.kind in ("partition_key", "clustering") or value is UNSET:
                continue
            write_cell(part.static if col.kind == "static" else row.cells, col.name, value, ts, expires)


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
            elif isinstance(value, ElementSet):
                self.assignments.append((col, "element", self._element_setter(col, value)))
            else:
                if col.ctype.is_counter:
                    raise InvalidRequest(
                        f"Cannot set the value of counter column {name} "
                        "(counters can only be incremented/decremented, not set)"
                    )
                self.assignments.append((col, "=", self.binder.compile(value, col.ctype, name)))
        self.where = Where(table, stmt.where, self.binder)
        if stmt.conditions:
            self.conditions = Conditions(table, stmt.conditions, self.binder)
        only_static = all(col.kind == "static" for col, _, _ in self.assignments)
        restricts_clustering = any(c.name in self.where.columns for c in table.clustering)
        if only_static and restricts_clustering and (not self.conditions or self.conditions.static_only):
            raise InvalidRequest(
                "Invalid restrictions on clustering columns since the UPDATE statement modifies only static columns"
            )
        _check_key_where(self.where, table, need_clustering=not only_static)
        self._check_conditional_in()
        self._finish([self.where.eq_markers.get(c.name) for c in table.partition_key])

    def _element_setter(self, col: ColumnDef, value: ElementSet) -> Compiled:
        spec = col.ctype.spec
        if col.ctype.frozen or spec.name not in ("list", "map"):
            raise InvalidRequest(f"Invalid operation ({col.name}[?] = ?) for non list/map column {col.name}")
        key_type = INT if spec.name == "list" else resolve(spec.params[0])
        element_type = resolve(spec.params[-1])
        key = self.binder.compile(
            value.key, key_type, f"idx({col.name})" if spec.name == "list" else f"key({col.name})"
        )
        item = self.binder.compile(value.term, element_type, f"value({col.name})")
        return lambda bound: (key(bound), item(bound))

    def targets(self, call: Call, bound: Sequence[Any]) -> list[Target]:
        restrictions = self.where.evaluate(bound)
        clusterings = self.where.full_clustering(restrictions) if self.table.clustering else [()]
        out: list[Target] = []
        for pk in self.where.partition_values(restrictions):
            key = partition_key(self.table, pk)
            for cvals in clusterings or [None]:
                out.append((key, pk, cvals))
        return out

    def apply(self, call: Call, bound: Sequence[Any]) -> None:
        table, state = self.table, call.state
        ts, expires = write_meta(call, table, self.ttl, self.timestamp, bound)
        values = [(col, op, fn(bound)) for col, op, fn in self.assignments]
        data = state.data_for(table)
        now = state.clock()
        for key, pk, cvals in self.targets(call, bound):
            part = data.partition(key, pk)
            row = None
            if cvals is not None:
                row = part.row(clustering_key(table, cvals), cvals, clustering_sort(table, cvals))
            for col, op, operand in values:
                if operand is UNSET:
                    continue
                cells = part.static if col.kind == "static" or row is None else row.cells
                value = operand
                cell_expires = None if col.ctype.is_counter else expires
                if op == "element":
                    value = _set_element(col, cells.get(col.name), operand, now)
                elif op != "=":
                    value = apply_arithmetic(col, op, cells.get(col.name), operand, now)
                write_cell(cells, col.name, value, ts, cell_expires)
            if row is not None and not row.cells and row.marker is None:
                part.remove(clustering_key(table, cvals or ()))
            if not part.rows and not part.static:
                data.drop(key)


def _set_element(col: ColumnDef, cell: Cell | None, operand: tuple[Any, Any], now: float) -> Any:
    key, item = operand
    current = live_value(cell, now)
    if col.ctype.spec.name == "map":
        updated = dict(current or {})
        if item is None:
            updated.pop(key, None)
        else:
            updated[key] = item
        return normalize(col.ctype, updated)
    if key is None:
        raise InvalidRequest(f"Invalid null value for list index of {col.name}")
    if current is None:
        raise InvalidRequest("Attempted to set an element on a list which is null")
    if not 0 <= key < len(current):
        raise InvalidRequest(f"List index {key} out of bound, list has size {len(current)}")
    items = list(current)
    if item is None:
        del items[key]
    else:
        items[key] = item
    return normalize(col.ctype, items)


class DeletePlan(_Write):
    def __init__(self, stmt: Delete, table: TableDef, markers: int) -> None:
        super().__init__(table, markers, None, stmt.timestamp)
        self.if_exists = stmt.if_exists
        self.columns = [table.column(n) for n in stmt.columns]
        for col in self.columns:
            if col.kind in ("partition_key", "clustering"):
                raise InvalidRequest(f"Invalid identifier {col.name} for deletion (should not be a PRIMARY KEY part)")
        self.elements: list[tuple[ColumnDef, Compiled]] = []
        for name, term in stmt.elements:
            col = table.column(name)
            self.elements.append((col, self.binder.compile(term, _element_key_type(col), f"key({name})")))
        self.where = Where(table, stmt.where, self.binder)
        _check_write_where(self.where, "DELETE")
        if stmt.conditions:
            self.conditions = Conditions(table, stmt.conditions, self.binder)
        if not self.where.has_full_partition_key():
            missing = [c.name for c in table.partition_key if c.name not in self.where.columns]
            raise InvalidRequest(f"Some partition key parts are missing: {', '.join(missing)}")
        if any(c.kind in ("regular", "static") for c, _, _ in self.where.compiled):
            raise InvalidRequest("Non PRIMARY KEY columns found in where clause")
        regular = [c for c in self.columns if c.kind == "regular"] + [
            c for c, _ in self.elements if c.kind == "regular"
        ]
        if regular and any(c.name not in self.where.columns for c in table.clustering):
            raise InvalidRequest("Range deletions are not supported for specific columns")
        if self.conditional and not (self.conditions is not None and self.conditions.static_only):
            unrestricted = [c.name for c in table.clustering if not self.where.ops.get(c.name, set()) & {"="}]
            if unrestricted:
                raise InvalidRequest(
                    "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use "
                    f"IF conditions, but column '{unrestricted[0]}' is not restricted"
                )
        self._check_conditional_in()
        self._finish([self.where.eq_markers.get(c.name) for c in table.partition_key])

    def targets(self, call: Call, bound: Sequence[Any]) -> list[Target]:
        restrictions = self.where.evaluate(bound)
        full = self.where.full_clustering(restrictions) if self.table.clustering else [()]
        out: list[Target] = []
        for pk in self.where.partition_values(restrictions):
            key = partition_key(self.table, pk)
            for cvals in full or [None]:
                out.append((key, pk, cvals))
        return out

    def apply(self, call: Call, bound: Sequence[Any]) -> None:
        table, state = self.table, call.state
        restrictions = self.where.evaluate(bound)
        ts = self.timestamp(bound) if self.timestamp is not None else (call.timestamp or state.timestamp())
        data = state.data_for(table)
        preds = predicates(table, restrictions, ("clustering",))
        now = state.clock()
        elements = [(col, fn(bound)) for col, fn in self.elements]
        for pk in self.where.partition_values(restrictions):
            key = partition_key(table, pk)
            part = data.get(key)
            if part is None:
                continue
            if elements:
                _delete_elements(table, part, preds, elements, ts, now)
                if not self.columns:
                    if not part.rows and not part.static:
                        data.drop(key)
                    continue
            _delete(data, key, part, self.columns, preds, ts)


def _element_key_type(col: ColumnDef) -> ColumnType:
    spec = col.ctype.spec
    if col.ctype.frozen or spec.name not in ("list", "map", "set"):
        raise InvalidRequest(f"Invalid element deletion: {col.name} is not a non-frozen collection")
    return INT if spec.name == "list" else resolve(spec.params[0])


def _delete_elements(  # noqa: PLR0917 - a private helper of DeletePlan.apply
    table: TableDef,
    part: Partition,
    preds: list[Any],
    elements: list[tuple[ColumnDef, Any]],
    ts: int,
    now: float,
) -> None:
    for col, key in elements:
        rows = [None] if col.kind == "static" else list(part.rows.items())
        for entry in rows:
            if entry is None:
                cells = part.static
            else:
                ckey, row = entry
                if preds and not all(p(row.clustering[table.columns[n].position]) for n, p in preds):
                    continue
                cells = row.cells
            cell = cells.get(col.name)
            current = live_value(cell, now)
            kind = col.ctype.spec.name
            if kind == "list":
                if current is None:
                    raise InvalidRequest("Attempted to delete an element from a list which is null")
                if not 0 <= key < len(current):
                    raise InvalidRequest(f"List index {key} out of bound, list has size {len(current)}")
                updated: Any = [x for i, x in enumerate(current) if i != key]
            elif current is None:
                continue
            elif kind == "map":
                updated = {k: v for k, v in current.items() if k != key}
            else:
                updated = [x for x in current if x != key]
            write_cell(cells, col.name, normalize(col.ctype, updated), ts, cell.expires if cell else None)
            if entry is not None:
                ckey, row = entry
                if not row.cells and row.marker is None:
                    part.remove(ckey)


def _delete(  # noqa: PLR0917 - a private helper of DeletePlan.apply
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


def _check_write_where(where: Where, statement: str) -> None:
    if where.tokens:
        raise InvalidRequest(f"The token function cannot be used in WHERE clauses for {statement} statements")
    if where.multi:
        raise InvalidRequest(
            f"wsgi_cassandra test server: multi-column relations are not supported in {statement} statements"
        )


def _check_key_where(where: Where, table: TableDef, *, need_clustering: bool) -> None:
    _check_write_where(where, "UPDATE")
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
