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
_MAX_TTL = 20 * 365 * 24 * 60 * 60  # Attributes.MAX_TTL
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
    if short == "LocalStrategy":  # Create/AlterKeyspaceStatement.apply, before the strategy checks its options
        raise InvalidRequest("Unable to use given strategy class: LocalStrategy is reserved for internal use.")
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
    if ks_name not in state.catalog.keyspaces:  # CreateTableStatement.apply
        raise InvalidRequest(f"Keyspace '{ks_name}' doesn't exist")
    ks = user_keyspace(state, ks_name)
    name = stmt.table.name
    if name in ks.tables:
        if stmt.if_not_exists:
            return Void()
        raise AlreadyExists(f"Table '{ks_name}.{name}' already exists", keyspace=ks_name, table=name)
    options = merge_options(state, stmt.options)  # CreateTableStatement.builder: attrs.validate() comes first
    columns = _columns(stmt, ks, state.release_version.startswith(("2.", "3.")))
    if options["default_time_to_live"] > 0 and any(c.ctype.is_counter for c in columns):
        raise InvalidRequest("Cannot set default_time_to_live on a table with counters")
    table = TableDef(ks_name, name, ordered_columns(columns), options)
    ks.tables[name] = table
    state.catalog.changed()
    return SchemaChange("CREATED", "TABLE", ks_name, name)


def _columns(stmt: CreateTable, ks: KeyspaceDef, v3: bool) -> list[ColumnDef]:
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
    ordered = [name for name, _ in stmt.clustering_order]
    if v3:  # 3.x took a prefix of the clustering columns
        for i, name in enumerate(ordered):
            if name not in stmt.clustering:
                raise InvalidRequest("Only clustering key columns can be defined in CLUSTERING ORDER directive")
            if stmt.clustering.index(name) != i:
                raise InvalidRequest(
                    "The order of columns in the CLUSTERING ORDER directive must be the one of the clustering key"
                )
    elif ordered and ordered != list(stmt.clustering):
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
    """``base`` (a new table's defaults when None) with the options of a CREATE/ALTER TABLE ... WITH, checked as
    Cassandra's ``TableAttributes.validate`` does: unknown names, then each value's form (``PropertyDefinitions``
    getters: syntax errors), then ``TableParams.validate``'s ranges (configuration errors)."""
    options = dict(base) if base is not None else default_options(not state.release_version.startswith(("2.", "3.")))
    for name in given:
        if name not in options or name == "extensions":
            raise CQLSyntaxError(f"Unknown property '{name}'")
    for name, value in given.items():
        default = options[name]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise CQLSyntaxError(f"Invalid value for property '{name}'. It should be a map.")
            options[name] = {str(k): str(v) for k, v in value.items()}
            continue
        if not isinstance(value, str):
            raise CQLSyntaxError(f"Invalid value for property '{name}'. It should be a string")
        if isinstance(default, bool):
            options[name] = re.fullmatch("1|true|yes", value.lower()) is not None
        elif isinstance(default, int):
            if not re.fullmatch(r"[-+]?[0-9]+", value) or not -(2**31) <= int(value) < 2**31:
                raise CQLSyntaxError(f"Invalid integer value {value} for '{name}'")
            options[name] = int(value)
        elif isinstance(default, float):
            try:
                options[name] = float(value)
            except ValueError:
                raise CQLSyntaxError(f"Invalid double value {value} for '{name}'") from None
        else:
            options[name] = value
    _validate_table_params(options)
    return options


def _validate_table_params(options: dict[str, Any]) -> None:
    """The range checks of Cassandra's ``TableParams.validate`` that do not depend on the node."""
    if not 0 <= options["crc_check_chance"] <= 1.0:
        raise ConfigError(
            "crc_check_chance must be larger than or equal to 0 and smaller than or equal to 1.0 "
            f"(got {options['crc_check_chance']})"
        )
    for name in ("default_time_to_live", "gc_grace_seconds"):
        if options[name] < 0:
            raise ConfigError(f"{name} must be greater than or equal to 0 (got {options[name]})")
        if name == "default_time_to_live" and options[name] > _MAX_TTL:
            raise ConfigError(f"{name} must be less than or equal to {_MAX_TTL} (got {options[name]})")
    if options["min_index_interval"] < 1:
        raise ConfigError(
            f"min_index_interval must be greater than or equal to 1 (got {options['min_index_interval']})"
        )
    if options["max_index_interval"] < options["min_index_interval"]:
        raise ConfigError(
            "max_index_interval must be greater than or equal to min_index_interval "
            f"({options['min_index_interval']}) (got {options['max_index_interval']})"
        )
    flush = options["memtable_flush_period_in_ms"]
    if flush < 0:
        raise ConfigError(f"memtable_flush_period_in_ms must be greater than or equal to 0 (got {flush})")


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
