"""Server-pushed events shared by the nodes of one cluster, and what the nodes know of each other.

A DDL statement run on any node makes every node push SCHEMA_CHANGE to its registered connections (the
driver's control connection may sit on another node); a node stopping or starting makes the *other*
nodes push STATUS_CHANGE DOWN/UP, as gossip would. Prepared statement texts are kept here too, so a
fault rule matching a query regex also matches an EXECUTE of a statement prepared on another node.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from ..protocol import responses as encode

if TYPE_CHECKING:
    from ..cql import SchemaChange


class _Node(Protocol):
    def push_event(self, kind: str, response: encode.Response) -> None: ...


class EventHub:
    """One per cluster (a lone CQLServer has its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: list[_Node] = []
        self._prepared: dict[bytes, str] = {}

    def join(self, node: _Node) -> None:
        with self._lock:
            if node not in self._nodes:
                self._nodes.append(node)

    def leave(self, node: _Node) -> None:
        with self._lock:
            if node in self._nodes:
                self._nodes.remove(node)

    def _members(self) -> list[_Node]:
        with self._lock:
            return list(self._nodes)

    def schema_changed(self, change: SchemaChange) -> None:
        response = encode.schema_change_event(
            change.change_type, change.target, change.keyspace, change.name, change.arguments
        )
        for node in self._members():
            node.push_event("SCHEMA_CHANGE", response)

    def node_status(self, origin: _Node, up: bool, address: str, port: int) -> None:
        response = encode.node_event("STATUS_CHANGE", "UP" if up else "DOWN", address, port)
        for node in self._members():
            if node is not origin:
                node.push_event("STATUS_CHANGE", response)

    def remember_prepared(self, query_id: bytes, text: str) -> None:
        self._prepared[query_id] = text  # a dict store is atomic under the GIL

    def prepared_text(self, query_id: bytes) -> str | None:
        return self._prepared.get(query_id)
