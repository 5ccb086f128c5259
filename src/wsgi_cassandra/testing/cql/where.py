"""WHERE clauses: compiled once per statement, evaluated per execution into per-column restrictions.

The same machinery serves SELECT (all forms) and UPDATE/DELETE (which need the full partition key and,
for UPDATE, the full clustering key). Validation mirrors Cassandra's messages so tests written against
this server also hold against a real node.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InvalidRequest
from ..results import UNSET
from .types import ColumnType, resolve, sort_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .ast import Relation
    from .catalog import ColumnDef, TableDef
    from .values import Binder, Compiled

FILTERING = (
    "Cannot execute this query as it might involve data filtering and thus may have unpredictable "
    "performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING"
)
Restrictions = dict[str, list[tuple[str, Any]]]  # column -> [(op, value or list of values for IN)]


class Where:
    def __init__(self, table: TableDef, relations: Sequence[Relation], binder: Binder) -> None:
        self.table = table
        self.compiled: list[tuple[ColumnDef, str, Compiled]] = []
        self.eq_markers: dict[str, int] = {}  # column -> bind index of ``col = ?`` (for pk_indexes)
        for rel in relations:
            col = table.column(rel.column)
            if rel.op == "in":
                self.compiled.append((col, "in", self._compile_in(rel, col, binder)))
            else:
                term = rel.term
                assert not isinstance(term, tuple)
                from .ast import BindMarker

                if rel.op == "=" and isinstance(term, BindMarker):
                    self.eq_markers[col.name] = term.index
                ctype = _element_type(col, rel.op) if rel.op.startswith("contains") else col.ctype
                self.compiled.append((col, rel.op, binder.compile(term, ctype, col.name)))
        self.columns = {c.name for c, _, _ in self.compiled}
        self.ops = {c.name: {op for cc, op, _ in self.compiled if cc is c} for c, _, _ in self.compiled}

    @staticmethod
    def _compile_in(rel: Relation, col: ColumnDef, binder: Binder) -> Compiled:
        if isinstance(rel.term, tuple):
            items = [binder.compile(t, col.ctype, col.name) for t in rel.term]
            return lambda bound: [item(bound) for item in items]
        list_type: ColumnType = resolve(type(col.ctype.spec)("list", (col.ctype.spec,)))
        return binder.compile(rel.term, list_type, f"in({col.name})")

    def evaluate(self, bound: Sequence[Any]) -> Restrictions:
        out: Restrictions = {}
        for col, op, fn in self.compiled:
            value = fn(bound)
            if value is UNSET:
                raise InvalidRequest(f"Invalid unset value for column {col.name}")
            if op == "in":
                value = [] if value is None else list(value)
            elif value is None:
                raise InvalidRequest(f"Invalid null value in condition for column {col.name}")
            out.setdefault(col.name, []).append((op, value))
        return out

    # -- shapes -----------------------------------------------------------------------------------------
    def has_full_partition_key(self) -> bool:
        return all(self.ops.get(c.name, set()) & {"=", "in"} for c in self.table.partition_key)

    def check_partition_key(self, allow_filtering: bool) -> bool:
        """True when the partition key is fully restricted by EQ/IN (a lookup), False for a scan."""
        restricted = [c for c in self.table.partition_key if c.name in self.columns]
        for col in restricted:
            if self.ops[col.name] - {"=", "in"} and not allow_filtering:
                raise InvalidRequest(
                    "Only EQ and IN relation are supported on the partition key (unless you use the token() function)"
                )
        if restricted and not self.has_full_partition_key() and not allow_filtering:
            raise InvalidRequest(FILTERING)
        return self.has_full_partition_key()

    def check_clustering(self, allow_filtering: bool) -> None:
        blocker: str | None = None  # why later clustering columns cannot be restricted
        for col in self.table.clustering:
            ops = self.ops.get(col.name)
            if ops is None:
                blocker = (
                    blocker
                    or 'PRIMARY KEY column "{}" cannot be restricted as preceding column '
                    f'"{col.name}" is not restricted'
                )
                continue
            if blocker and not allow_filtering:
                raise InvalidRequest(blocker.format(col.name))
            if ops - {"=", "in"}:
                blocker = (
                    f'Clustering column "{{}}" cannot be restricted (preceding column "{col.name}" is restricted '
                    "by a non-EQ relation)"
                )
        others = [c for c in self.compiled if c[0].kind in ("regular", "static")]
        if others and not allow_filtering:
            raise InvalidRequest(FILTERING)

    def partition_values(self, restrictions: Restrictions) -> list[tuple[Any, ...]]:
        choices = []
        for col in self.table.partition_key:
            values: list[Any] | None = None
            for op, value in restrictions[col.name]:
                candidates = [value] if op == "=" else value
                values = candidates if values is None else [v for v in values if v in candidates]
            choices.append(values or [])
        return list(itertools.product(*choices))

    def full_clustering(self, restrictions: Restrictions) -> list[tuple[Any, ...]] | None:
        """All clustering values when every clustering column has EQ/IN only; else None."""
        choices = []
        for col in self.table.clustering:
            rel = restrictions.get(col.name)
            if not rel or any(op not in ("=", "in") for op, _ in rel):
                return None
            op, value = rel[0]
            choices.append([value] if op == "=" else value)
        return list(itertools.product(*choices))


def _element_type(col: ColumnDef, op: str) -> ColumnType:
    """What ``col CONTAINS x`` / ``col CONTAINS KEY x`` compares x with."""
    spec = col.ctype.spec
    if spec.name not in ("list", "set", "map") or (op == "contains key" and spec.name != "map"):
        raise InvalidRequest(
            f"Cannot use {op.upper()} on non-{'map' if 'key' in op else 'collection'} column {col.name}"
        )
    return resolve(spec.params[1] if spec.name == "map" and op == "contains" else spec.params[0])


def matcher(col: ColumnDef, op: str, target: Any) -> Callable[[Any], bool]:
    """A predicate for one restriction, comparing with the column type's order."""
    if op == "contains":
        if col.ctype.spec.name == "map":
            return lambda v: v is not None and target in v.values()
        return lambda v: v is not None and target in v
    if op == "contains key":
        return lambda v: v is not None and target in v
    if op == "in":
        return lambda v: v in target
    if op == "=":
        return lambda v: bool(v == target)
    key = sort_key(col.cqltype)
    t = key(target)
    if op == "<":
        return lambda v: v is not None and key(v) < t
    if op == "<=":
        return lambda v: v is not None and key(v) <= t
    if op == ">":
        return lambda v: v is not None and key(v) > t
    return lambda v: v is not None and key(v) >= t


def predicates(
    table: TableDef, restrictions: Restrictions, kinds: tuple[str, ...]
) -> list[tuple[str, Callable[[Any], bool]]]:
    return [
        (name, matcher(table.columns[name], op, value))
        for name, rels in restrictions.items()
        if table.columns[name].kind in kinds
        for op, value in rels
    ]
