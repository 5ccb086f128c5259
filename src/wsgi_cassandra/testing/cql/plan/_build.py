"""Statement to plan: the one place that knows which plan class runs which statement.

A plan is built once per (query, keyspace) and cached; it holds the tables it was built against and is
rebuilt (or, for a prepared statement, reported ``Unprepared``) once any of them was dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, Union

from .._ast import (
    AlterKeyspace,
    AlterTable,
    AlterType,
    Batch,
    CreateIndex,
    CreateKeyspace,
    CreateTable,
    CreateType,
    Delete,
    Describe,
    DropIndex,
    DropKeyspace,
    DropTable,
    DropType,
    Insert,
    Select,
    Statement,
    Term,
    Truncate,
    TypeSpec,
    Update,
    Use,
)
from .._errors import CQLSyntaxError, InvalidRequest
from .._results import UNSET, Void
from ..schema import _alter as alter
from ..schema import _create_drop as ddl
from ..schema import _indexes as indexes
from ..schema import _user_types as udt
from ..schema._describe import describe
from ..values._bind import Binder
from ..values._types import resolve
from ._modify import DeletePlan, InsertPlan, UpdatePlan, applied_result, existing_rows
from ._select import SelectPlan

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._context import Call
    from .._results import Column, Result
    from ..schema._catalog import Catalog, ColumnDef, TableDef
    from ..values._types import ColumnType


BIGINT = resolve(TypeSpec("bigint"))


class Plan(Protocol):
    @property
    def tables(self) -> tuple[TableDef, ...]: ...
    @property
    def bind_columns(self) -> list[Column]: ...
    @property
    def bind_types(self) -> list[ColumnType]: ...
    @property
    def pk_indexes(self) -> list[int]: ...
    @property
    def result_columns(self) -> list[Column] | None: ...

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result: ...


WritePlan = Union[InsertPlan, UpdatePlan, DeletePlan]


class SchemaPlan:
    """USE and DDL: nothing to bind, resolved against the catalog when run."""

    tables: tuple[TableDef, ...] = ()
    result_columns: list[Column] | None = None

    def __init__(self, stmt: Statement, markers: int) -> None:
        self.pk_indexes: list[int] = []
        if markers:
            raise InvalidRequest("Bind variables are not allowed in USE or schema statements")
        self.stmt = stmt
        self.bind_columns: list[Column] = []
        self.bind_types: list[ColumnType] = []

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        stmt, state, ks = self.stmt, call.state, call.keyspace
        if isinstance(stmt, Use):
            return ddl.use(state, stmt)
        if isinstance(stmt, CreateKeyspace):
            return ddl.create_keyspace(state, stmt)
        if isinstance(stmt, DropKeyspace):
            return ddl.drop_keyspace(state, stmt)
        if isinstance(stmt, CreateTable):
            return ddl.create_table(state, stmt, ks)
        if isinstance(stmt, DropTable):
            return ddl.drop_table(state, stmt, ks)
        if isinstance(stmt, Truncate):
            return ddl.truncate(state, stmt, ks)
        if isinstance(stmt, AlterKeyspace):
            return alter.alter_keyspace(state, stmt)
        if isinstance(stmt, AlterTable):
            return alter.alter_table(state, stmt, ks)
        if isinstance(stmt, CreateIndex):
            return indexes.create_index(state, stmt, ks)
        if isinstance(stmt, DropIndex):
            return indexes.drop_index(state, stmt, ks)
        if isinstance(stmt, CreateType):
            return udt.create_type(state, stmt, ks)
        if isinstance(stmt, AlterType):
            return udt.alter_type(state, stmt, ks)
        if isinstance(stmt, DropType):
            return udt.drop_type(state, stmt, ks)
        assert isinstance(stmt, Describe)
        if state.release_version.startswith(("2.", "3.")):  # DESCRIBE is server-side from 4.0 on
            raise CQLSyntaxError("line 1:0 no viable alternative at input 'DESCRIBE'")
        return describe(state.catalog, stmt, ks, state.cluster_name)


class BatchPlan:
    """``BEGIN BATCH ... APPLY BATCH`` sent as one query: markers are numbered across all statements."""

    result_columns: list[Column] | None = None

    def __init__(self, plans: list[WritePlan], markers: int, timestamp: Term | None = None) -> None:
        self.pk_indexes: list[int] = []
        self.plans = plans
        self.tables = tuple(t for p in plans for t in p.tables)
        merged = Binder(markers, plans[0].table.keyspace if plans else "", plans[0].table.name if plans else "")
        for plan in plans:
            for i, column in enumerate(plan.binder.columns):
                if column is not None:
                    merged.columns[i], merged.types[i] = column, plan.binder.types[i]
        self.timestamp = merged.compile(timestamp, BIGINT, "[timestamp]") if timestamp is not None else None
        self.bind_columns, self.bind_types = merged.bind_columns(), merged.types

    def run(self, call: Call, bound: Sequence[Any], page_size: int | None, paging_state: bytes | None) -> Result:
        if self.timestamp is not None:
            value = self.timestamp(bound)
            call = replace(call, timestamp=int(value) if value is not None and value is not UNSET else None)
        return run_batch(call, [(p, bound) for p in self.plans])


def run_batch(call: Call, items: Sequence[tuple[WritePlan, Sequence[Any]]]) -> Result:
    """Every statement of a batch, or, when some carry conditions, all or none of them (one partition only)."""
    if not any(plan.conditional for plan, _ in items):
        for plan, bound in items:
            plan.apply(call, bound)
        return Void()
    keys = {(plan.table.id, key) for plan, bound in items for key, _, _ in plan.targets(call, bound)}
    if len(keys) > 1:
        raise InvalidRequest("Batch with conditions cannot span multiple partitions")
    table = items[0][0].table
    ok = True
    wildcard = False
    columns: list[ColumnDef] = list(table.primary_key)
    seen: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    for plan, bound in items:
        if not plan.conditional:
            continue
        holds, rows = plan.cas_check(call, bound)
        ok = ok and holds
        extra = plan.cas_columns()
        if extra is None:
            wildcard = True
        else:
            columns += [c for c in extra if c not in columns]
        for part, row in rows:
            seen[(id(part), id(row))] = (part, row)
    if not ok:
        shown = list(table.columns.values()) if wildcard else columns
        return applied_result(table, False, shown, existing_rows(table, shown, list(seen.values()), call))
    for plan, bound in items:
        plan.apply(call, bound)
    return applied_result(table, True)


def build(stmt: Statement, markers: int, catalog: Catalog, keyspace: str | None) -> Plan:
    if isinstance(stmt, Select):
        return SelectPlan(stmt, catalog.table(stmt.table.keyspace or keyspace, stmt.table.name), markers)
    if isinstance(stmt, (Insert, Update, Delete)):
        return _write(stmt, markers, catalog, keyspace)
    if isinstance(stmt, Batch):
        return BatchPlan([_write(s, markers, catalog, keyspace) for s in stmt.statements], markers, stmt.timestamp)
    return SchemaPlan(stmt, markers)


def _write(stmt: Insert | Update | Delete, markers: int, catalog: Catalog, keyspace: str | None) -> WritePlan:
    table = catalog.table(stmt.table.keyspace or keyspace, stmt.table.name)
    if isinstance(stmt, Insert):
        return InsertPlan(stmt, table, markers)
    if isinstance(stmt, Update):
        return UpdatePlan(stmt, table, markers)
    return DeletePlan(stmt, table, markers)


def still_valid(plan: Plan, catalog: Catalog) -> bool:
    for table in plan.tables:
        ks = catalog.keyspaces.get(table.keyspace)
        if ks is None or ks.tables.get(table.name) is not table:
            return False
    return True
