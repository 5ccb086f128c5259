"""Schema statements against the catalog: CREATE/DROP KEYSPACE and TABLE, TRUNCATE, USE (ALTER: ``_alter``).

Validation and messages follow Cassandra 4 so that application code handling, say, ``AlreadyExists``
behaves here as against a real cluster. Every schema change gives the catalog a new schema version,
which all nodes report at once (they share one catalog), so the driver's schema agreement is immediate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Union

from .._errors import AlreadyExists, ConfigError, CQLSyntaxError, InvalidRequest, Unauthorized
from .._results import SchemaChange, SetKeyspace, Void
from ..system._schema_tables import default_options
from ._catalog import ColumnDef, KeyspaceDef, TableDef, ordered_columns
from ._user_types import resolve_in

if TYPE_CHECKING:
    from .._ast import CreateKeyspace, CreateTable, DropKeyspace, DropTable, Truncate, Use
    from .._context import State

_PREFIX = "org.apache.cassandra.locator."
Result = Union[SchemaChange, SetKeyspace, Void]


def use(state: State, stmt: Use) -> SetKeyspace:
    return SetKeyspace(state.catalog.keyspace(stmt.keyspace).name)


def user_keyspace(state: State, name: str) -> KeyspaceDef:
    ks = state.catalog.keyspace(name)
    if ks.system:
        raise Unauthorized(f"{name} keyspace is not user-modifiable.")
    return ks


def replication(options: dict[str, str], keyspace: str, datacenters: set[str]) -> dict[str, str]:
    """Check a replication map as Cassandra 4.0 does (``ReplicationParams``, then building the strategy:
    ``SimpleStrategy``/``NetworkTopologyStrategy``, ``AbstractReplicationStrategy.validateExpectedOptions``,
    ``ReplicationFactor.fromString``) and give it back with the class fully named."""
    options = dict(options)
    strategy = options.pop("class", None)
    if not strategy:
        raise ConfigError("Missing replication strategy class")
    short = strategy[len(_PREFIX) :] if strategy.startswith(_PREFIX) else strategy
    if short == "SimpleStrategy":
        if "replication_factor" not in options:
            raise ConfigError("SimpleStrategy requires a replication_factor strategy option.")
        _replication_factor(options["replication_factor"])
        recognized = {"replication_factor"}
    elif short == "NetworkTopologyStrategy":
        if "replication_factor" in options:  # NetworkTopologyStrategy.prepareOptions: one factor for every DC
            factor = options.pop("replication_factor")
            _replication_factor(factor)
            for dc in datacenters:
                options.setdefault(dc, factor)
        options = {dc: factor for dc, factor in options.items() if factor != "0"}
        for factor in options.values():
            _replication_factor(factor)
        if not options:
            raise ConfigError("Configuration for at least one datacenter must be present")
        recognized = datacenters
    else:
        raise ConfigError(
            f"Unable to find replication strategy class '{_PREFIX + strategy if '.' not in strategy else strategy}'"
        )
    for key in options:
        if key not in recognized:
            raise ConfigError(f"Unrecognized strategy option {{{key}}} passed to {short} for keyspace {keyspace}")
    return {"class": _PREFIX + short, **options}


def _replication_factor(value: str) -> None:
    """``ReplicationFactor.fromString`` on a node without transient replication, with Java's own parse errors."""
    parts = value.split("/")
    while len(parts) > 1 and not parts[-1]:  # Java's String.split drops trailing empty strings
        parts.pop()
    if "/" in value and len(parts) != 2:
        raise ConfigError("Replication factor format is <replicas> or <replicas>/<transient>")
    for part in parts:
        if not re.fullmatch(r"[-+]?[0-9]+", part) or not -(2**31) <= int(part) < 2**31:
            raise ConfigError(f'For input string: "{part}"')
    if len(parts) == 2 and int(parts[1]) != 0:
        raise ConfigError("Transient replication is not enabled on this node")
    if int(parts[0]) < 0:
        raise ConfigError(f"Replication factor must be non-negative, found {int(parts[0])}")


def datacenters(state: State) -> set[str]:
    """The datacenters NetworkTopologyStrategy accepts: those of the cluster's nodes (``Datacenters``)."""
    return {node.datacenter for node in state.nodes} or {"datacenter1"}


def create_keyspace(state: State, stmt: CreateKeyspace) -> Result:
    catalog = state.catalog
    if stmt.name in catalog.keyspaces:
        if stmt.if_not_exists:
            return Void()
        raise AlreadyExists(f"Keyspace '{stmt.name}' already exists", keyspace=stmt.name)
    if stmt.name.startswith("system"):
        raise InvalidRequest(f"Keyspace name must not start with 'system': {stmt.name}")
    catalog.keyspaces[stmt.name] = KeyspaceDef(
        stmt.name, replication(stmt.replication, stmt.name, datacenters(state)), stmt.durable_writes
    )
    catalog.changed()
    return SchemaChange("CREATED", "KEYSPACE", stmt.name)


def drop_keyspace(state: State, stmt: DropKeyspace) -> Result:
    ks = state.catalog.keyspaces.get(stmt.name)
    if ks is None:
        if stmt.if_exists:
            return Void()
        raise InvalidRequest(f"Keyspace '{stmt.name}' doesn't exist")
    user_keyspace(state, stmt.name)
    for table in ks.tables.values():
        state.data.pop(table.id, None)
    del state.catalog.keyspaces[stmt.name]
    state.catalog.changed()
    return SchemaChange("DROPPED", "KEYSPACE", stmt.name)


def create_table(state: State, stmt: CreateTable, keyspace: str | None) -> Result:
    ks_name = stmt.table.keyspace or keyspace
    if ks_name is None:
        raise InvalidRequest("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    ks = user_keyspace(state, ks_name)
    name = stmt.table.name
    if name in ks.tables:
        if stmt.if_not_exists:
            return Void()
        raise AlreadyExists(f"Table '{ks_name}.{name}' already exists", keyspace=ks_name, table=name)
    table = TableDef(ks_name, name, ordered_columns(_columns(stmt, ks)), merge_options(state, stmt.options))
    ks.tables[name] = table
    state.catalog.changed()
    return SchemaChange("CREATED", "TABLE", ks_name, name)


def _columns(stmt: CreateTable, ks: KeyspaceDef) -> list[ColumnDef]:
    """The checks and messages of Cassandra 4.0's ``CreateTableStatement.builder``, in its order."""
    types: dict[str, Any] = {name: resolve_in(ks, spec) for name, spec in stmt.columns}
    name_ = stmt.table.name
    key = list(stmt.partition_key) + list(stmt.clustering)
    for i, name in enumerate(key):
        if name not in types:
            raise InvalidRequest(f"Unknown column '{name}' referenced in PRIMARY KEY for table '{name_}'")
        if name in key[:i]:
            raise InvalidRequest(f"Duplicate column '{name}' in PRIMARY KEY clause for table '{name_}'")
        ctype = types[name]
        if ctype.is_collection and not ctype.frozen:
            raise InvalidRequest(f"Invalid non-frozen collection type {ctype.text} for PRIMARY KEY column '{name}'")
        if ctype.spec.name in ks.types and not ctype.frozen:
            raise InvalidRequest(f"Invalid non-frozen user-defined type {ctype.text} for PRIMARY KEY column '{name}'")
        if ctype.is_counter:
            raise InvalidRequest(f"counter type is not supported for PRIMARY KEY column '{name}'")
        if "duration" in ctype.text:
            raise InvalidRequest(f"duration type is not supported for PRIMARY KEY column '{name}'")
        if name in stmt.static:
            raise InvalidRequest(f"Static column '{name}' cannot be part of the PRIMARY KEY")
    if stmt.clustering_order and [name for name, _ in stmt.clustering_order] != list(stmt.clustering):
        raise InvalidRequest("Clustering key columns must exactly match columns in CLUSTERING ORDER BY directive")
    if stmt.static and not stmt.clustering:
        raise InvalidRequest(
            "Static columns are only useful (and thus allowed) if the table has at least one clustering column"
        )
    if any(types[n].is_counter for n in types) and not all(types[n].is_counter for n in types if n not in key):
        raise InvalidRequest("Cannot mix counter and non counter columns in the same table")
    desc = dict(stmt.clustering_order)
    columns = []
    for name, ctype in types.items():
        if name in stmt.partition_key:
            columns.append(ColumnDef(name, ctype, "partition_key", stmt.partition_key.index(name)))
        elif name in stmt.clustering:
            columns.append(ColumnDef(name, ctype, "clustering", stmt.clustering.index(name), desc.get(name, False)))
        else:
            columns.append(ColumnDef(name, ctype, "static" if name in stmt.static else "regular", -1))
    return columns


def merge_options(state: State, given: dict[str, object], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (a new table's defaults when None) with the options of a CREATE/ALTER TABLE ... WITH."""
    options = dict(base) if base is not None else default_options(not state.release_version.startswith(("2.", "3.")))
    for name, value in given.items():
        if name not in options or name == "extensions":
            raise CQLSyntaxError(f"Unknown property '{name}'")
        default = options[name]
        try:
            if isinstance(default, bool):
                options[name] = str(value).lower() == "true"
            elif isinstance(default, (int, float)):
                options[name] = type(default)(str(value))
            elif isinstance(default, dict):
                if not isinstance(value, dict):
                    raise ValueError(value)
                options[name] = {str(k): str(v) for k, v in value.items()}
            else:
                options[name] = str(value)
        except ValueError:
            raise ConfigError(f"Invalid value for property '{name}': {value!r}") from None
    return options


def drop_table(state: State, stmt: DropTable, keyspace: str | None) -> Result:
    ks_name = stmt.table.keyspace or keyspace
    if ks_name is None:
        raise InvalidRequest("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    ks = state.catalog.keyspaces.get(ks_name)
    table = ks.tables.get(stmt.table.name) if ks is not None else None
    if ks is None or table is None:
        if stmt.if_exists:
            return Void()
        raise InvalidRequest(f"Table '{ks_name}.{stmt.table.name}' doesn't exist")
    user_keyspace(state, ks_name)
    del ks.tables[table.name]
    state.data.pop(table.id, None)
    state.catalog.changed()
    return SchemaChange("DROPPED", "TABLE", ks_name, table.name)


def truncate(state: State, stmt: Truncate, keyspace: str | None) -> Result:
    table: TableDef = state.catalog.table(stmt.table.keyspace or keyspace, stmt.table.name)
    if table.virtual_rows is not None or table.keyspace.startswith("system"):
        raise Unauthorized(f"{table.keyspace} keyspace is not user-modifiable.")
    state.data.pop(table.id, None)
    return Void()
