"""The selection of a SELECT: columns, functions, CAST, ``col[key]``, ``col.field``, aggregates, JSON.

Usage (``SelectPlan`` does this)::

    selection = Selection(table, stmt.selectors, binder, json=stmt.json)
    selection.columns                     # the result metadata, named as Cassandra names them
    selection.project(part, row, now)     # one result row (non-aggregate selections)
    selection.aggregate(rows, group_key)  # the rows of an aggregate selection (with GROUP BY)

Each selector compiles once into a node; a node computes its value from one stored row (``part``, ``row``)
or, for system tables, from the row's dict. Aggregates (``count``, ``sum``, ``avg``, ``min``, ``max``) turn
the whole selection into an aggregate one: other selectors then take the value of each group's first row.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Callable

from cassandra import cqltypes

from .._ast import BindMarker, Literal
from .._errors import InvalidRequest
from .._results import Column
from ..values import _functions as functions
from ..values import _json as json_io
from ..values._literals import ctype_for
from ..values._types import ColumnType, resolve, sort_key

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._ast import Selector
    from .._store import Cell, Partition, Row
    from ..schema._catalog import ColumnDef, TableDef
    from ..values._bind import Binder

_BIGINT = functions.ctype_of("bigint")
_INT = functions.ctype_of("int")
_TEXT = functions.ctype_of("text")
_INT_BITS = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64, "counter": 64}


class Node:
    """One compiled selector. ``ctype`` is its result type; ``value`` reads it from one row."""

    aggregate = False

    def __init__(self, ctype: ColumnType, value: Callable[[Any, Any, float], Any]) -> None:
        self.ctype, self.value = ctype, value

    def accumulator(self) -> Accumulator:
        return _First(self)


class Accumulator:
    def add(self, part: Any, row: Any, now: float) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


class _First(Accumulator):
    def __init__(self, node: Node) -> None:
        self.node, self.seen, self.value = node, False, None

    def add(self, part: Any, row: Any, now: float) -> None:
        if not self.seen:
            self.seen, self.value = True, self.node.value(part, row, now)

    def result(self) -> Any:
        return self.value


class _AggregateNode(Node):
    aggregate = True

    def __init__(self, name: str, arg: Node | None) -> None:
        self.name, self.arg = name, arg
        if name == "count":
            ctype = _BIGINT
        else:
            assert arg is not None
            ctype = arg.ctype
            if name in ("sum", "avg") and ctype.spec.name not in functions.NUMERIC:
                raise InvalidRequest(f"Invalid call to function {name}, none of its type signatures match")
            if ctype.is_counter:  # the counter overloads (sumFunctionForCounter, ...) answer a bigint
                ctype = _BIGINT
        super().__init__(ctype, _no_value)

    def accumulator(self) -> Accumulator:
        return _Aggregate(self)


def _no_value(part: Any, row: Any, now: float) -> Any:
    raise InvalidRequest("Aggregate functions cannot be used as arguments of other functions")


class _Aggregate(Accumulator):
    def __init__(self, node: _AggregateNode) -> None:
        self.node = node
        self.count = 0
        self.values: list[Any] = []

    def add(self, part: Any, row: Any, now: float) -> None:
        arg = self.node.arg
        if arg is None:
            self.count += 1
            return
        value = arg.value(part, row, now)
        if value is not None:
            self.count += 1
            if self.node.name != "count":
                self.values.append(value)

    def result(self) -> Any:
        name, typename = self.node.name, self.node.ctype.spec.name
        if name == "count":
            return self.count
        if name in ("min", "max"):
            if not self.values:
                return None
            key = sort_key(self.node.ctype.cqltype)
            return (min if name == "min" else max)(self.values, key=key)
        total = sum(self.values) if self.values else 0
        bits = _INT_BITS.get(typename)
        if name == "sum":
            if typename == "decimal":
                return Decimal(total)
            return functions.wrap(int(total), bits) if bits else float(total) if typename != "varint" else total
        if not self.values:
            return Decimal(0) if typename == "decimal" else 0.0 if typename in ("float", "double") else 0
        if typename == "decimal":
            exponent = Decimal(total).as_tuple().exponent
            return (Decimal(total) / len(self.values)).quantize(
                Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0), rounding=ROUND_HALF_EVEN
            )
        if typename in ("float", "double"):
            return float(total) / len(self.values)
        quotient = abs(int(total)) // len(self.values)
        return functions.wrap(quotient if total >= 0 else -quotient, bits) if bits else quotient


class Selection:
    def __init__(
        self,
        table: TableDef,
        selectors: Sequence[Selector] | None,
        binder: Binder,
        *,
        json: bool = False,
    ) -> None:
        self.table, self.binder = table, binder
        # The bound values of the running execution (set by SelectPlan.run under the engine's lock), for
        # markers inside selectors: ``m[?]``, ``fn(?)``.
        self.bound: Sequence[Any] = ()
        self.columns_selected: list[ColumnDef | None] = []  # plain column selectors (DISTINCT checks)
        if selectors is None:
            nodes = [self._column(c) for c in table.columns.values()]
            names = [c.name for c in table.columns.values()]
            self.columns_selected = list(table.columns.values())
        else:
            nodes = [self._node(s) for s in selectors]
            names = [s.alias or (s.column if s.kind == "column" and s.column else s.text) for s in selectors]
            self.columns_selected = [
                table.column(s.column) if s.kind == "column" and s.column else None for s in selectors
            ]
        self.nodes = nodes
        self.names = [table.columns[n].name if n in table.columns else n for n in names]
        self.is_aggregate = any(n.aggregate for n in nodes)
        self.json = json
        self.simple = selectors is None or all(s.kind == "column" for s in selectors)
        if json:
            self.columns = [Column(table.keyspace, table.name, "[json]", cqltypes.VarcharType)]
        else:
            self.columns = [
                Column(table.keyspace, table.name, name, node.ctype.cqltype) for name, node in zip(self.names, nodes)
            ]

    # -- compiling --------------------------------------------------------------------------------------
    def _column(self, col: ColumnDef) -> Node:
        from .._store import column_value

        def value(part: Any, row: Any, now: float) -> Any:
            if isinstance(part, dict):
                return part.get(col.name)
            return column_value(col, part, row, now)

        return Node(col.ctype, value)

    def _node(self, sel: Selector) -> Node:
        kind = sel.kind
        if kind == "column":
            assert sel.column is not None
            return self._column(self.table.column(sel.column))
        if kind == "count":
            return _AggregateNode("count", None)
        if kind in ("writetime", "ttl"):
            return self._cell_meta(sel)
        if kind == "element":
            return self._element(sel)
        if kind == "field":
            return self._field(sel)
        if kind == "cast":
            arg = self._node(sel.args[0])
            ctype, convert = functions.cast(arg.ctype, sel.name)
            return Node(ctype, lambda p, r, n: _apply(convert, arg.value(p, r, n)))
        if kind == "call":
            return self._call(sel)
        raise InvalidRequest(f"Invalid selector {sel.text}: a literal needs a function around it")

    def _cell_meta(self, sel: Selector) -> Node:
        assert sel.column is not None
        col = self.table.column(sel.column)
        if self.table.virtual_rows is not None:
            raise InvalidRequest(f"{sel.kind.upper()}() is not supported on system tables")
        if col.kind not in ("regular", "static"):
            raise InvalidRequest(f"Cannot use selection function {sel.kind} on PRIMARY KEY part {col.name}")
        if col.ctype.is_collection and not col.ctype.frozen:
            raise InvalidRequest(f"Cannot use selection function {sel.kind} on non-frozen collection {col.name}")
        from .._store import cell_meta

        kind = sel.kind

        def value(part: Partition, row: Row | None, now: float) -> Any:
            cells: dict[str, Cell] = part.static if col.kind == "static" else (row.cells if row is not None else {})
            return cell_meta(kind, cells.get(col.name), now)

        return Node(_BIGINT if kind == "writetime" else _INT, value)

    def _element(self, sel: Selector) -> Node:
        base = self._node(sel.args[0])
        spec = base.ctype.spec
        assert sel.term is not None
        if spec.name == "map":
            key_type, value_type = (resolve(p) for p in spec.params)
        elif spec.name == "set":
            key_type = value_type = resolve(spec.params[0])
        elif spec.name == "list":
            raise InvalidRequest(f"Element selection is only allowed on sets and maps, but {sel.column} is a list")
        else:
            raise InvalidRequest(
                f"Invalid element selection: {sel.column} is of type {base.ctype.text} is not a collection"
            )
        key = self.binder.compile(sel.term, key_type, f"key({sel.column})")
        is_map = spec.name == "map"

        def value(part: Any, row: Any, now: float) -> Any:
            container = base.value(part, row, now)
            if container is None:
                return None
            k = key(self.bound)
            if is_map:
                return container.get(k)
            return k if k in container else None

        return Node(value_type, value)

    def _field(self, sel: Selector) -> Node:
        base = self._node(sel.args[0])
        cqltype = base.ctype.cqltype
        fieldnames = list(getattr(cqltype, "fieldnames", ()))
        if sel.name not in fieldnames:
            raise InvalidRequest(f"Invalid field selection: {sel.column} of type {base.ctype.text} is not a user type")
        index = fieldnames.index(sel.name)

        ctype = ctype_for(cqltype.subtypes[index])

        def value(part: Any, row: Any, now: float) -> Any:
            udt = base.value(part, row, now)
            if udt is None:
                return None
            return udt[index] if isinstance(udt, tuple) else getattr(udt, sel.name, None)

        return Node(ctype, value)

    def _call(self, sel: Selector) -> Node:
        name = sel.name
        if name in functions.AGGREGATES:
            if len(sel.args) != 1:
                raise InvalidRequest(f"Invalid number of arguments in call to function system.{name}: 1 required")
            arg = self._node(sel.args[0])
            if arg.aggregate:
                raise InvalidRequest("Aggregate functions cannot be used as arguments of other aggregate functions")
            return _AggregateNode(name, arg)
        if name == "token":
            return self._token(sel)
        if name == "tojson":
            if len(sel.args) != 1:
                raise InvalidRequest("toJson() takes only one argument")
            arg = self._node(sel.args[0])
            cqltype = arg.ctype.cqltype
            return Node(_TEXT, lambda p, r, n: json_io.to_json(cqltype, arg.value(p, r, n)))
        if name == "fromjson":
            raise InvalidRequest("fromJson() cannot be used in the selection clause of a SELECT statement")
        args: list[Node | None] = [None if a.kind == "term" else self._node(a) for a in sel.args]
        literals = [a.term if a.kind == "term" and isinstance(a.term, Literal) else None for a in sel.args]
        fn = functions.choose(name, [a.ctype if a is not None else None for a in args], literals)
        getters: list[Callable[[Any, Any, float], Any]] = []
        for i, (node, param, sub) in enumerate(zip(args, fn.params, sel.args)):
            if node is not None:
                getters.append(node.value)
            else:
                assert sub.term is not None
                compiled = self.binder.compile(sub.term, functions.ctype_of(param), f"arg{i}(system.{name})")
                if isinstance(sub.term, BindMarker):
                    getters.append(self._bound_getter(compiled))
                else:
                    getters.append(_constant(compiled(())))
        return Node(fn.return_type, lambda p, r, n: functions.call(fn, [g(p, r, n) for g in getters]))

    def _bound_getter(self, compiled: Callable[[Sequence[Any]], Any]) -> Callable[[Any, Any, float], Any]:
        return lambda part, row, now: compiled(self.bound)

    def _token(self, sel: Selector) -> Node:
        if self.table.virtual_rows is not None:
            raise InvalidRequest("wsgi_cassandra test server: token() is not supported on system tables")
        names = [a.column for a in sel.args if a.kind == "column"]
        if names != [c.name for c in self.table.partition_key] or len(names) != len(sel.args):
            raise InvalidRequest(
                "The token function arguments must be in the partition key order: "
                + ", ".join(c.name for c in self.table.partition_key)
            )

        def value(part: Partition, row: Any, now: float) -> Any:
            return part.token

        return Node(_BIGINT, value)

    # -- running ----------------------------------------------------------------------------------------
    def project(self, part: Any, row: Any, now: float) -> list[Any]:
        values = [node.value(part, row, now) for node in self.nodes]
        return [self.to_json(values)] if self.json else values

    def to_json(self, values: Sequence[Any]) -> str:
        items = []
        for name, node, value in zip(self.names, self.nodes, values):
            key = name if name == name.lower() else f'\\"{name}\\"'
            items.append(f'"{key}": {json_io.to_json(node.ctype.cqltype, value)}')
        return "{" + ", ".join(items) + "}"

    def aggregate(
        self, rows: Iterable[tuple[Any, Any, float]], group_key: Callable[[Any, Any], tuple[Any, ...]] | None
    ) -> list[list[Any]]:
        """One result row per group (the whole result is one group without GROUP BY, even when empty)."""
        out: list[list[Any]] = []
        current: tuple[Any, ...] | None = None
        accumulators: list[Accumulator] | None = None
        for part, row, now in rows:
            key = group_key(part, row) if group_key is not None else ()
            if accumulators is None or key != current:
                if accumulators is not None:
                    out.append(self._finish(accumulators))
                accumulators = [n.accumulator() for n in self.nodes]
                current = key
            for acc in accumulators:
                acc.add(part, row, now)
        if accumulators is not None:
            out.append(self._finish(accumulators))
        elif group_key is None:
            out.append(self._finish([n.accumulator() for n in self.nodes]))
        return out

    def _finish(self, accumulators: list[Accumulator]) -> list[Any]:
        values = [a.result() for a in accumulators]
        return [self.to_json(values)] if self.json else values


def _constant(value: Any) -> Callable[[Any, Any, float], Any]:
    return lambda part, row, now: value


def _apply(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)
