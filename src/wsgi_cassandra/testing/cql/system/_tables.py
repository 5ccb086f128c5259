"""The system keyspaces a driver reads on connect, built for the emulated release.

``build_system_keyspaces`` declares each system table with the columns the real release has (3.11 or
4.x) and a function computing its rows from the live state, so ``system.local`` always describes the
node that answers and ``system_schema`` always shows the current catalog. Only the tables drivers read
are declared; the others of each system keyspace are simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from cassandra.murmur3 import murmur3

from .._store import routing_key
from ..schema._catalog import Catalog, ColumnDef, KeyspaceDef, TableDef, ordered_columns
from ..values._types import parse_type, sort_key
from ._schema_tables import default_options, schema_specs, virtual_schema_specs

if TYPE_CHECKING:
    from .._node_info import NodeInfo

PARTITIONER = "org.apache.cassandra.dht.Murmur3Partitioner"
STORAGE_PORT = 7000
_LOCAL = "org.apache.cassandra.locator.LocalStrategy"
_SIMPLE = "org.apache.cassandra.locator.SimpleStrategy"
RowsFn = Callable[["SystemContext"], list[dict[str, Any]]]
Spec = tuple[str, str, tuple[str, ...], tuple[str, ...], RowsFn]  # name, columns, pk, clustering, rows


@dataclass(frozen=True)
class SystemContext:
    catalog: Catalog
    node: NodeInfo
    nodes: tuple[NodeInfo, ...]
    release_version: str
    cluster_name: str

    @property
    def is_v4(self) -> bool:
        return not self.release_version.startswith(("3.", "2."))

    @property
    def peers(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.address != self.node.address or n.port != self.node.port]


def _local(ctx: SystemContext) -> list[dict[str, Any]]:
    node = ctx.node
    row: dict[str, Any] = {
        "key": "local",
        "bootstrapped": "COMPLETED",
        "broadcast_address": node.address,
        "cluster_name": ctx.cluster_name,
        "cql_version": "3.4.5" if ctx.is_v4 else "3.4.4",
        "data_center": node.datacenter,
        "gossip_generation": 1700000000,
        "host_id": node.host_id,
        "listen_address": node.address,
        "native_protocol_version": "5" if ctx.is_v4 else "4",
        "partitioner": PARTITIONER,
        "rack": node.rack,
        "release_version": ctx.release_version,
        "rpc_address": node.address,
        "schema_version": ctx.catalog.version,
        "tokens": set(node.tokens) or None,
    }
    if ctx.is_v4:
        row.update(broadcast_port=STORAGE_PORT, listen_port=STORAGE_PORT, rpc_port=node.port)
    else:
        row["thrift_version"] = "20.1.0"
    return [row]


def _peer_row(ctx: SystemContext, node: NodeInfo) -> dict[str, Any]:
    return {
        "peer": node.address,
        "data_center": node.datacenter,
        "host_id": node.host_id,
        "preferred_ip": None,
        "rack": node.rack,
        "release_version": ctx.release_version,
        "schema_version": ctx.catalog.version,
        "tokens": set(node.tokens) or None,
    }


def _peers(ctx: SystemContext) -> list[dict[str, Any]]:
    return [dict(_peer_row(ctx, n), rpc_address=n.address) for n in ctx.peers]


def _peers_v2(ctx: SystemContext) -> list[dict[str, Any]]:
    return [
        dict(
            _peer_row(ctx, n), peer_port=STORAGE_PORT, native_address=n.address, native_port=n.port, preferred_port=None
        )
        for n in ctx.peers
    ]


_PEER_COLUMNS = (
    "peer inet, data_center text, host_id uuid, preferred_ip inet, rack text, release_version text, "
    "schema_version uuid, tokens set<text>"
)
_LOCAL_COMMON = (
    "key text, bootstrapped text, broadcast_address inet, cluster_name text, cql_version text, "
    "data_center text, gossip_generation int, host_id uuid, listen_address inet, native_protocol_version text, "
    "partitioner text, rack text, release_version text, rpc_address inet, schema_version uuid, tokens set<text>"
)


def _system_specs(is_v4: bool) -> list[Spec]:
    if is_v4:
        local = _LOCAL_COMMON + ", broadcast_port int, listen_port int, rpc_port int"
        return [
            ("local", local, ("key",), (), _local),
            ("peers", _PEER_COLUMNS + ", rpc_address inet", ("peer",), (), _peers),
            (
                "peers_v2",
                _PEER_COLUMNS + ", peer_port int, native_address inet, native_port int, preferred_port int",
                ("peer",),
                ("peer_port",),
                _peers_v2,
            ),
        ]
    return [
        ("local", _LOCAL_COMMON + ", thrift_version text", ("key",), (), _local),
        ("peers", _PEER_COLUMNS + ", rpc_address inet", ("peer",), (), _peers),
    ]


def _roles(ctx: SystemContext) -> list[dict[str, Any]]:
    # The default superuser every node creates; its salted_hash is not the real one (no client reads it).
    return [{"role": "cassandra", "can_login": True, "is_superuser": True, "member_of": None, "salted_hash": None}]


def _auth_specs() -> list[Spec]:
    return [
        (
            "roles",
            "role text, can_login boolean, is_superuser boolean, member_of set<text>, salted_hash text",
            ("role",),
            (),
            _roles,
        )
    ]


def _split_columns(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def make_table(keyspace: str, spec: Spec, is_v4: bool) -> TableDef:
    name, column_text, partition, clustering, rows = spec
    columns: list[ColumnDef] = []
    for part in _split_columns(column_text):
        col_name, _, type_text = part.strip().partition(" ")
        if col_name in partition:
            kind, position = "partition_key", partition.index(col_name)
        elif col_name in clustering:
            kind, position = "clustering", clustering.index(col_name)
        else:
            kind, position = "regular", -1
        columns.append(ColumnDef(col_name, parse_type(type_text), kind, position))
    options = default_options(is_v4) if keyspace != "system_virtual_schema" else {}
    table = TableDef(keyspace, name, ordered_columns(columns), options)
    table.virtual_rows = _in_storage_order(rows, table)
    return table


def _in_storage_order(rows: RowsFn, table: TableDef) -> RowsFn:
    """Rows as a node reads them: partitions in Murmur3 token order, rows in clustering order."""
    pk = [(c.name, c.cqltype) for c in table.partition_key]
    ck = [(c.name, sort_key(c.cqltype)) for c in table.clustering]

    def token(row: dict[str, Any]) -> int:
        parts = [t.serialize(row.get(n), 4) if row.get(n) is not None else b"" for n, t in pk]
        return int(murmur3(routing_key(parts)))

    def ordered(ctx: SystemContext) -> list[dict[str, Any]]:
        return sorted(rows(ctx), key=lambda r: (token(r), [key(r[n]) for n, key in ck]))

    return ordered


def _keyspace(name: str, replication: dict[str, str], specs: list[Spec], is_v4: bool) -> KeyspaceDef:
    ks = KeyspaceDef(name, replication, True, system=True, virtual=name == "system_virtual_schema")
    for spec in specs:
        ks.tables[spec[0]] = make_table(name, spec, is_v4)
    return ks


def build_system_keyspaces(is_v4: bool) -> list[KeyspaceDef]:
    """The system keyspaces a real node lists, with the tables this server can answer."""
    keyspaces = [
        _keyspace("system", {"class": _LOCAL}, _system_specs(is_v4), is_v4),
        _keyspace("system_schema", {"class": _LOCAL}, schema_specs(is_v4), is_v4),
        _keyspace("system_auth", {"class": _SIMPLE, "replication_factor": "1"}, _auth_specs(), is_v4),
        _keyspace("system_distributed", {"class": _SIMPLE, "replication_factor": "3"}, [], is_v4),
        _keyspace("system_traces", {"class": _SIMPLE, "replication_factor": "2"}, [], is_v4),
    ]
    if is_v4:
        keyspaces.append(_keyspace("system_virtual_schema", {}, virtual_schema_specs(), is_v4))
    return keyspaces
