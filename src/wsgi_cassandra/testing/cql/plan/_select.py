"""SELECT: planned once (validation, compiled terms, bind metadata), run per execution with paging.

Rows stream lazily in Cassandra's order (partition token, then clustering order) as
``(position, values)``; a page stops after ``page_size`` rows and the paging state records the
position of the last row, so the next page restarts right after it even if rows changed meanwhile.
A SELECT by full primary key is two dictionary lookups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._ast import Select, TypeSpec
from .._errors import InvalidRequest
from .._results import UNSET, Column, Rows
from .._store import Partition, Row, cell_meta, column_value
from ..schema._indexes import check_index_query, serving_index
from ..values._bind import Binder, Compiled
from ..values._types import resolve, sort_key
from ._keys import clustering_key, clustering_sort, decode_clustering, partition_key
from ._paging import Position, decode_state, encode_state
from ._selection import Selection
from ._where import Restrictions, Where, predicates

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .._context import Call
    from ..schema._catalog import ColumnDef, TableDef

INT = resolve(TypeSpec("int"))


class SelectPlan:
    result_columns: list[Column]

    def __init__(self, stmt: Select, table: TableDef, markers: int) -> None:
        self.table = table
        self.tables = (table,)
        binder = Binder(markers, table.keyspace, table.name)
        self.where = where = Where(table, stmt.where, binder)
        self.virtual = table.virtual_rows is not None
        self.lookup = False
        if not self.virtual and table.indexes and serving_index(table, stmt.where) is not None:
            self.lookup = where.check_partition_key(True)
            check_index_query(table, stmt.where, stmt.allow_filtering)
        elif not self.virtual:
            self.lookup = where.check_partition_key(stmt.allow_filtering)
            where.check_clustering(stmt.allow_filtering)
        self.reverse = self._order(stmt)
        self.limit = binder.compile(stmt.limit, INT, "[limit]") if stmt.limit is not None else None
        ppl = stmt.per_partition_limit
        self.per_partition = binder.compile(ppl, INT, "[per_partition_limit]") if ppl is not None else None
        self.distinct = stmt.distinct
        self.selection = selection = Selection(table, stmt.selectors, binder, json=stmt.json)
        self.result_columns = selection.columns
        self.fast = selection.simple and not stmt.json
        self.selectors: list[tuple[str, ColumnDef | None]] = [("column", c) for c in selection.columns_selected]
        if self.distinct and any(
            c is not None and c.kind not in ("partition_key", "static") for c in selection.columns_selected
        ):
            raise InvalidRequest(
                "SELECT DISTINCT queries must only request partition key columns and/or static columns"
            )
        self.group_by = self._group_by(stmt)
        self.count = selection.is_aggregate or bool(stmt.group_by)
        self.in_order = stmt.order_by and any(op == "in" for c, op, _ in where.compiled if c.kind == "partition_key")
        self.bind_columns = binder.bind_columns()
        self.bind_types = binder.types
        markers_pk = [where.eq_markers.get(c.name) for c in table.partition_key]
        self.pk_indexes = [i for i in markers_pk if i is not None] if None not in markers_pk else []

    def _group_by(self, stmt: Select) -> list[ColumnDef]:
        columns = [self.table.column(name) for name in stmt.group_by]
        keys, i = self.table.primary_key, 0
        for col in columns:
            while i < len(keys) and keys[i] is not col and self.where.ops.get(keys[i].name, set()) == {"="}:
                i += 1  # a column restricted by EQ may be left out of GROUP BY
            if i >= len(keys) or keys[i] is not col:
                raise InvalidRequest(
                    "Group by currently only support groups of columns following their declared order in the "
                    "PRIMARY KEY"
                )
            i += 1
        return columns

    def _group_key(self, part: Partition | dict[str, Any], row: Row | None) -> tuple[Any, ...]:
        if isinstance(part, dict):  # a system table row
            return tuple(part.get(c.name) for c in self.group_by)
        return tuple(
            part.key[c.position] if c.kind == "partition_key" else (row.clustering[c.position] if row else None)
            for c in self.group_by
        )

    def _order(self, stmt: Select) -> bool:
        if not stmt.order_by:
            return False
        if self.virtual or not self.lookup:
            raise InvalidRequest("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.")
        flips = set()
        for i, (name, desc) in enumerate(stmt.order_by):
            col = self.table.column(name)
            if col.kind != "clustering" or col.position != i:
                raise InvalidRequest(
                    "Order by currently only supports the ordering of columns following their declared order in "
                    "the PRIMARY KEY"
                )
            flips.add(desc != col.desc)
        if len(flips) > 1:
            raise InvalidRequest("Unsupported order by relation")
        return flips.pop()

    # -- execution ----------------------------------------------------------------------------------------
    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Rows:
        restrictions = self.where.evaluate(bound)
        if not self.fast:
            self.selection.bound = bound
        limit = _positive(self.limit, bound, "LIMIT")
        resume, remaining = decode_state(paging_state)
        if remaining is not None:
            limit = remaining
        if self.virtual:
            stream = self._virtual(call, restrictions, resume)
        else:
            stream = self._stored(
                call, restrictions, resume, _positive(self.per_partition, bound, "PER PARTITION LIMIT"), bound
            )
        if self.count:
            now = call.state.clock()
            raw = ((values[0], values[1], now) for _, values in stream)
            grouped = self.selection.aggregate(raw, self._group_key if self.group_by else None)
            return Rows(self.result_columns, grouped[:limit] if limit is not None else grouped)
        if self.in_order:
            page_limited = limit is not None and page_size is not None and 0 < limit <= page_size
            if page_size is not None and page_size > 0 and not page_limited:
                raise InvalidRequest(
                    "Cannot page queries with both ORDER BY and a IN restriction on the partition key; you must "
                    "either remove the ORDER BY or the IN and sort client side, or disable paging for this query"
                )
            return self._sorted_in(stream, limit)
        rows: list[list[Any]] = []
        last: Position | None = None
        page = page_size if page_size is not None and page_size > 0 else None
        for position, values in stream:
            if limit is not None and len(rows) >= limit:
                break
            if page is not None and len(rows) >= page and last is not None:
                left = None if limit is None else limit - len(rows)
                return Rows(self.result_columns, rows, encode_state(last, left))
            rows.append(values)
            last = position
        return Rows(self.result_columns, rows)

    def _sorted_in(self, stream: Iterator[tuple[Position, list[Any]]], limit: int | None) -> Rows:
        """IN on the partition key with ORDER BY: rows of every partition merged in clustering order."""
        table = self.table
        keyed = []
        for position, values in stream:
            clustering = decode_clustering(table, position.ckey) if position.ckey is not None else ()
            keyed.append((clustering_sort(table, clustering), values))
        keyed.sort(key=lambda kv: kv[0], reverse=self.reverse)
        rows = [values for _, values in keyed]
        return Rows(self.result_columns, rows[:limit] if limit is not None else rows)

    def _virtual(
        self, call: Call, restrictions: Restrictions, resume: Position | None
    ) -> Iterator[tuple[Position, list[Any]]]:
        preds = predicates(self.table, restrictions, ("partition_key", "clustering", "regular", "static"))
        skip = resume.offset if resume else 0
        assert self.table.virtual_rows is not None
        index = 0
        for row in self.table.virtual_rows(call.system()):
            if all(pred(row.get(name)) for name, pred in preds):
                index += 1
                if index > skip:
                    if self.count:
                        yield Position(offset=index), [row, None]
                    elif self.fast:
                        yield Position(offset=index), [row.get(c.name) if c else None for _, c in self.selectors]
                    else:
                        yield Position(offset=index), self.selection.project(row, None, 0.0)

    def _stored(
        self,
        call: Call,
        restrictions: Restrictions,
        resume: Position | None,
        per_partition: int | None,
        bound: Sequence[Any] = (),
    ) -> Iterator[tuple[Position, list[Any]]]:
        table, data, now = self.table, call.state.data_for(self.table), call.state.clock()
        if self.lookup:
            keys = {partition_key(table, values) for values in self.where.partition_values(restrictions)}
            found = [(k, data.get(k)) for k in keys]
            # Several partitions named by IN come back in the order of their key values, as on a node.
            parts = sorted(((k, p) for k, p in found if p is not None), key=lambda kp: (kp[1].token, kp[0]))
            if len(parts) > 1:
                sorts = [sort_key(c.cqltype) for c in table.partition_key]
                parts.sort(key=lambda kp: tuple(f(v) for f, v in zip(sorts, kp[1].key)))
        else:
            parts = data.scan((resume.token, resume.key) if resume and resume.key is not None else None)
        pk_preds = [] if self.lookup else predicates(table, restrictions, ("partition_key",))
        token_preds = self.where.token_predicates(bound) if self.where.tokens else []
        multi_preds = self.where.multi_predicates(bound) if self.where.multi else []
        ck_preds = predicates(table, restrictions, ("clustering",))
        other_preds = predicates(table, restrictions, ("regular", "static"))
        full = self.where.full_clustering(restrictions) if table.clustering else [()]
        for key, part in parts:
            if resume is not None and resume.key is not None and (part.token, key) < (resume.token, resume.key):
                continue
            if resume is not None and (part.token, key) == (resume.token, resume.key) and resume.ckey is None:
                continue
            if pk_preds and not all(pred(part.key[table.columns[n].position]) for n, pred in pk_preds):
                continue
            if token_preds and not all(pred(part.token) for pred in token_preds):
                continue
            after = None
            if resume is not None and (part.token, key) == (resume.token, resume.key) and resume.ckey is not None:
                after = clustering_sort(table, decode_clustering(table, resume.ckey))
            emitted = seen = 0
            for row in self._rows(part, full, after, now):
                seen += 1
                if ck_preds and not all(pred(row.clustering[table.columns[n].position]) for n, pred in ck_preds):
                    continue
                if multi_preds and not all(pred(row.clustering) for pred in multi_preds):
                    continue
                if other_preds and not all(pred(self._value(part, row, n, now)) for n, pred in other_preds):
                    continue
                yield (
                    Position(part.token, key, clustering_key(table, row.clustering) if table.clustering else None),
                    self._project(part, row, now),
                )
                emitted += 1
                if self.distinct or (per_partition is not None and emitted >= per_partition):
                    break
            static_only = not seen and table.has_static and not ck_preds and not other_preds and not multi_preds
            if static_only and after is None and _live_static(part, now):
                yield Position(part.token, key, None), self._project(part, None, now)
            if resume is not None and (part.token, key) == (resume.token, resume.key):
                resume = None

    def _rows(
        self, part: Partition, full: list[tuple[Any, ...]] | None, after: tuple[Any, ...] | None, now: float
    ) -> Iterator[Row]:
        table = self.table
        if full is not None:
            candidates = [part.rows.get(clustering_key(table, values)) for values in full]
            rows = sorted((r for r in candidates if r is not None), key=lambda r: r.sort, reverse=self.reverse)
        else:
            rows = part.ordered()
            rows = list(reversed(rows)) if self.reverse else rows
        for row in rows:
            if after is not None and (row.sort >= after if self.reverse else row.sort <= after):
                continue
            if row.live(now):
                yield row

    def _value(self, part: Partition, row: Row | None, name: str, now: float) -> Any:
        return column_value(self.table.columns[name], part, row, now)

    def _project(self, part: Partition, row: Row | None, now: float) -> list[Any]:
        if self.count:
            return [part, row]
        if not self.fast:
            return self.selection.project(part, row, now)
        out: list[Any] = []
        for kind, col in self.selectors:
            if kind == "column" and col is not None:
                out.append(self._value(part, row, col.name, now))
            elif col is not None:
                cells = part.static if col.kind == "static" else (row.cells if row is not None else {})
                out.append(cell_meta(kind, cells.get(col.name), now))
            else:
                out.append(None)
        return out


def _live_static(part: Partition, now: float) -> bool:
    return any(c.expires is None or c.expires > now for c in part.static.values())


def _positive(fn: Compiled | None, bound: Sequence[Any], what: str) -> int | None:
    if fn is None:
        return None
    value = fn(bound)
    if value is None or value is UNSET:
        return None
    if value <= 0:
        raise InvalidRequest(f"{what} must be strictly positive")
    return int(value)
