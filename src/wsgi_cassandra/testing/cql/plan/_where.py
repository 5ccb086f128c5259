"""WHERE clauses: compiled once per statement, evaluated per execution into per-column restrictions.

The same machinery serves SELECT (all forms) and UPDATE/DELETE (which need the full partition key and,
for UPDATE, the full clustering key). Validation mirrors Cassandra's messages so tests written against
this server also hold against a real node.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable

from .._ast import TypeSpec
from .._errors import InvalidRequest
from .._results import UNSET
from ..values._types import ColumnType, resolve, sort_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._ast import Relation
    from ..schema._catalog import ColumnDef, TableDef
    from ..values._bind import Binder, Compiled

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
        self.tokens: list[tuple[str, Compiled]] = []  # token(pk) op value
        self.multi: list[tuple[list[ColumnDef], str, Compiled]] = []  # (c1, c2) op (v1, v2)
        for rel in relations:
            if rel.kind == "token":
                self.tokens.append((rel.op, self._compile_token(rel, binder)))
                continue
            if rel.kind == "multi":
                self.multi.append(self._compile_multi(rel, binder))
                continue
            col = table.column(rel.column)
            if rel.op == "in":
                self.compiled.append((col, "in", self._compile_in(rel, col, binder)))
            else:
                term = rel.term
                assert not isinstance(term, tuple)
                from .._ast import BindMarker

                if rel.op == "=" and isinstance(term, BindMarker):
                    self.eq_markers[col.name] = term.index
                ctype = _element_type(col, rel.op) if rel.op.startswith("contains") else col.ctype
                self.compiled.append((col, rel.op, binder.compile(term, ctype, col.name)))
        self.multi_columns = {c.name for cols, _, _ in self.multi for c in cols}
        self.columns = {c.name for c, _, _ in self.compiled}
        self.ops = {c.name: {op for cc, op, _ in self.compiled if cc is c} for c, _, _ in self.compiled}

    def _compile_token(self, rel: Relation, binder: Binder) -> Compiled:
        from cassandra.murmur3 import murmur3

        from .._ast import FunctionCall
        from ._keys import partition_key

        pk = self.table.partition_key
        if list(rel.columns) != [c.name for c in pk]:
            raise InvalidRequest(
                "The token function arguments must be in the partition key order: " + ", ".join(c.name for c in pk)
            )
        term = rel.term
        assert not isinstance(term, tuple)
        if isinstance(term, FunctionCall) and term.name == "token":
            if len(term.args) != len(pk):
                raise InvalidRequest(
                    f"Invalid number of arguments in call to function system.token: {len(pk)} required"
                )
            parts = [binder.compile(a, c.ctype, c.name) for a, c in zip(term.args, pk)]
            table = self.table
            return lambda bound: murmur3(partition_key(table, tuple(p(bound) for p in parts)))
        return binder.compile(term, resolve(TypeSpec("bigint")), "partition key token")

    def _compile_multi(self, rel: Relation, binder: Binder) -> tuple[list[ColumnDef], str, Compiled]:
        from .._ast import TupleLiteral

        columns = [self.table.column(n) for n in rel.columns]
        for i, col in enumerate(columns):
            if col.kind != "clustering":
                raise InvalidRequest(
                    f"Multi-column relations can only be applied to clustering columns but was applied to: {col.name}"
                )
            if i and col.position != columns[i - 1].position + 1:
                raise InvalidRequest(
                    "Clustering columns must appear in the PRIMARY KEY order in multi-column relations"
                )

        def compile_tuple(term: object) -> Compiled:
            if not isinstance(term, TupleLiteral) or len(term.items) != len(columns):
                raise InvalidRequest(f"Expected {len(columns)} elements in value tuple, but got {term}")
            items = [binder.compile(t, c.ctype, c.name) for t, c in zip(term.items, columns)]
            return lambda bound: tuple(item(bound) for item in items)

        if rel.op == "in":
            assert isinstance(rel.term, tuple)
            tuples = [compile_tuple(t) for t in rel.term]
            return columns, "in", lambda bound: [t(bound) for t in tuples]
        return columns, rel.op, compile_tuple(rel.term)

    def token_predicates(self, bound: Sequence[Any]) -> list[Callable[[int], bool]]:
        preds: list[Callable[[int], bool]] = []
        for op, fn in self.tokens:
            target = fn(bound)
            if target is None or target is UNSET:
                raise InvalidRequest("Invalid null value for the partition key token")
            preds.append(_compare(op, int(target)))
        return preds

    def multi_predicates(self, bound: Sequence[Any]) -> list[Callable[[tuple[Any, ...]], bool]]:
        """Predicates on a row's clustering values for the multi-column relations."""
        preds: list[Callable[[tuple[Any, ...]], bool]] = []
        for columns, op, fn in self.multi:
            keys = [sort_key(c.cqltype) for c in columns]
            value = fn(bound)
            if op == "in":
                wanted = [tuple(k(v) for k, v in zip(keys, t)) for t in value]
                test: Callable[[Any], bool] = wanted.__contains__
            else:
                test = _compare(op, tuple(k(v) for k, v in zip(keys, value)))
            preds.append(_multi_predicate(columns[0].position, keys, test))
        return preds

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
        if self.tokens and any(c.kind == "partition_key" for c, _, _ in self.compiled) and not allow_filtering:
            raise InvalidRequest(
                'Columns "' + ", ".join(c.name for c in self.table.partition_key) + '" cannot be restricted by '
                "both a normal relation and a token relation"
            )
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
        restricted = self.multi_columns | {c.name for c, _, _ in self.compiled if c.kind == "clustering"}
        if restricted and not self.has_full_partition_key() and not self.tokens and not allow_filtering:
            raise InvalidRequest(FILTERING)
        blocker: str | None = None  # why later clustering columns cannot be restricted
        for col in self.table.clustering:
            if col.name in self.multi_columns:
                continue
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


def _multi_predicate(
    start: int, keys: list[Callable[[Any], Any]], test: Callable[[Any], bool]
) -> Callable[[tuple[Any, ...]], bool]:
    end = start + len(keys)
    return lambda clustering: test(tuple(k(v) for k, v in zip(keys, clustering[start:end])))


def _compare(op: str, target: Any) -> Callable[[Any], bool]:
    if op == "=":
        return lambda v: bool(v == target)
    if op == "<":
        return lambda v: bool(v < target)
    if op == "<=":
        return lambda v: bool(v <= target)
    if op == ">":
        return lambda v: bool(v > target)
    return lambda v: bool(v >= target)


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
