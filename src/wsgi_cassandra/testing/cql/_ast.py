"""Parsed statements: plain frozen dataclasses, no behaviour.

Terms stay untyped here (a number literal keeps its text) because CQL types a literal by the column
it is assigned to or compared with; ``values._bind`` does that once the table is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Literal:
    kind: str  # string | int | float | bool | null | uuid | blob | ident (NaN, Infinity)
    text: str


@dataclass(frozen=True)
class BindMarker:
    index: int  # position among all markers of the statement
    name: str | None = None  # ``:name`` markers


@dataclass(frozen=True)
class CollectionLiteral:
    kind: str  # list | set | map (``{}`` is an empty set or map, decided by the receiver)
    items: tuple[Term, ...] = ()
    pairs: tuple[tuple[Term, Term], ...] = ()


@dataclass(frozen=True)
class TupleLiteral:
    items: tuple[Term, ...]


@dataclass(frozen=True)
class UserTypeLiteral:
    fields: tuple[tuple[str, Term], ...]


@dataclass(frozen=True)
class FunctionCall:
    name: str  # now | uuid | totimestamp | currenttimestamp | ... (see values._functions)
    args: tuple[Term, ...] = ()


@dataclass(frozen=True)
class Arithmetic:
    """``col + term`` / ``col - term`` on the right of SET (collections and counters)."""

    column: str
    op: str
    term: Term


Term = Union[Literal, BindMarker, CollectionLiteral, TupleLiteral, UserTypeLiteral, FunctionCall]


@dataclass(frozen=True)
class TableRef:
    keyspace: str | None
    name: str


@dataclass(frozen=True)
class Relation:
    column: str
    op: str  # = | != | in | < | <= | > | >=
    term: Term | tuple[Term, ...]  # a tuple for ``IN (a, b)``; a marker for ``IN ?``
    # ``token(a, b) > term`` (kind "token") or ``(c1, c2) > (1, 2)`` (kind "multi"): the columns named
    columns: tuple[str, ...] = ()
    kind: str = "single"


@dataclass(frozen=True)
class Condition:
    """One ``IF`` condition of an UPDATE/DELETE: ``col op term``, ``col[key] op term``, ``col.field op term``."""

    column: str
    op: str
    term: Term | tuple[Term, ...]
    element: Term | None = None
    field: str | None = None


@dataclass(frozen=True)
class Selector:
    kind: str  # column | count | writetime | ttl | call | cast | element | field | term
    column: str | None
    alias: str | None = None
    args: tuple[Selector, ...] = ()  # call/cast arguments; element/field: the selected column's selector
    name: str = ""  # call: function name; cast: target type; field: field name
    term: Term | None = None  # element: the key or index; term: a literal argument
    text: str = ""  # the selector as Cassandra names its result column


@dataclass(frozen=True)
class Select:
    table: TableRef
    selectors: tuple[Selector, ...] | None  # None: ``*``
    where: tuple[Relation, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: Term | None = None
    per_partition_limit: Term | None = None
    allow_filtering: bool = False
    distinct: bool = False
    json: bool = False
    group_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Insert:
    table: TableRef
    columns: tuple[str, ...]
    values: tuple[Term, ...]
    if_not_exists: bool = False
    ttl: Term | None = None
    timestamp: Term | None = None
    json: Term | None = None  # INSERT ... JSON '...': columns and values are empty
    default_unset: bool = False


@dataclass(frozen=True)
class ElementSet:
    """``col[key] = term`` on the left of SET."""

    key: Term
    term: Term


@dataclass(frozen=True)
class Update:
    table: TableRef
    assignments: tuple[tuple[str, Term | Arithmetic | ElementSet], ...]
    where: tuple[Relation, ...]
    if_exists: bool = False
    ttl: Term | None = None
    timestamp: Term | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Delete:
    table: TableRef
    columns: tuple[str, ...]  # empty: the whole row (or partition)
    where: tuple[Relation, ...]
    if_exists: bool = False
    timestamp: Term | None = None
    conditions: tuple[Condition, ...] = ()
    elements: tuple[tuple[str, Term], ...] = ()  # ``DELETE m[k], l[0]``


@dataclass(frozen=True)
class Batch:
    statements: tuple[Insert | Update | Delete, ...]
    timestamp: Term | None = None


@dataclass(frozen=True)
class Use:
    keyspace: str


@dataclass(frozen=True)
class CreateKeyspace:
    name: str
    if_not_exists: bool
    replication: dict[str, str] = field(default_factory=dict)
    durable_writes: bool = True


@dataclass(frozen=True)
class DropKeyspace:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class TypeSpec:
    """A CQL type as written: ``name`` lower-cased, parameters for collections, frozen flag."""

    name: str
    params: tuple[TypeSpec, ...] = ()
    frozen: bool = False


@dataclass(frozen=True)
class CreateTable:
    table: TableRef
    if_not_exists: bool
    columns: tuple[tuple[str, TypeSpec], ...]
    static: frozenset[str]
    partition_key: tuple[str, ...]
    clustering: tuple[str, ...]
    clustering_order: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DropTable:
    table: TableRef
    if_exists: bool


@dataclass(frozen=True)
class Truncate:
    table: TableRef


@dataclass(frozen=True)
class AlterKeyspace:
    name: str
    replication: dict[str, str] | None = None
    durable_writes: bool | None = None


@dataclass(frozen=True)
class AlterTable:
    table: TableRef
    action: str  # add | drop | rename | with | alter
    columns: tuple[tuple[str, TypeSpec], ...] = ()  # ADD
    names: tuple[str, ...] = ()  # DROP
    renames: tuple[tuple[str, str], ...] = ()  # RENAME a TO b
    options: dict[str, object] = field(default_factory=dict)  # WITH
    static: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CreateIndex:
    name: str | None
    table: TableRef
    column: str
    target: str  # values | keys | entries | full
    if_not_exists: bool = False
    custom: str | None = None  # USING 'class'


@dataclass(frozen=True)
class DropIndex:
    keyspace: str | None
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateType:
    ref: TableRef
    fields: tuple[tuple[str, TypeSpec], ...]
    if_not_exists: bool = False


@dataclass(frozen=True)
class AlterType:
    ref: TableRef
    add: tuple[str, TypeSpec] | None = None
    renames: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DropType:
    ref: TableRef
    if_exists: bool = False


@dataclass(frozen=True)
class Describe:
    kind: str  # keyspaces | keyspace | tables | table | types | type | index | schema | cluster | generic
    keyspace: str | None = None
    name: str | None = None
    full: bool = False


SchemaStatement = Union[AlterKeyspace, AlterTable, CreateIndex, DropIndex, CreateType, AlterType, DropType]
Statement = Union[
    Select,
    Insert,
    Update,
    Delete,
    Batch,
    Use,
    CreateKeyspace,
    DropKeyspace,
    CreateTable,
    DropTable,
    Truncate,
    SchemaStatement,
    Describe,
]
