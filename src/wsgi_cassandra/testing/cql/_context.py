"""What a statement runs against: the shared store and catalog, and the call's node and protocol version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._store import Clock, TableData
from .system._tables import SystemContext

if TYPE_CHECKING:
    import uuid

    from ._node_info import NodeInfo
    from .schema._catalog import Catalog, TableDef


class State:
    """Everything one ``Engine`` shares between nodes; only touched under the engine's lock."""

    def __init__(self, catalog: Catalog, clock: Clock, release_version: str, cluster_name: str) -> None:
        self.catalog, self.clock = catalog, clock
        self.release_version, self.cluster_name = release_version, cluster_name
        self.nodes: tuple[NodeInfo, ...] = ()
        self.data: dict[uuid.UUID, TableData] = {}
        self._last_ts = 0

    def data_for(self, table: TableDef) -> TableData:
        data = self.data.get(table.id)
        if data is None:
            data = self.data[table.id] = TableData(table)
        elif data.table is not table:  # ALTER TABLE made a new definition of the same table
            data.table = table
        return data

    def timestamp(self) -> int:
        """Write time in microseconds, strictly increasing so that successive writes never tie."""
        ts = int(self.clock() * 1_000_000)
        if ts <= self._last_ts:
            ts = self._last_ts + 1
        self._last_ts = ts
        return ts


@dataclass
class Call:
    state: State
    node: NodeInfo
    protocol_version: int
    keyspace: str | None = None
    timestamp: int | None = None  # BEGIN BATCH USING TIMESTAMP: the default write time of its statements

    def system(self) -> SystemContext:
        s = self.state
        nodes = s.nodes or (self.node,)
        return SystemContext(s.catalog, self.node, nodes, s.release_version, s.cluster_name)
