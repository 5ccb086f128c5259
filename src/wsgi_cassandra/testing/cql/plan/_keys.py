"""Primary-key values to storage keys: serialized partition key (and token), clustering keys and their order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequest
from .._store import ClusteringKey, routing_key

if TYPE_CHECKING:
    from ..schema._catalog import TableDef

PROTO = 4  # serialization of key components does not depend on the client's protocol version


class Desc:
    """Wraps a sort key to invert its order (clustering columns declared DESC)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: Desc) -> bool:
        return bool(other.v < self.v)

    def __le__(self, other: Desc) -> bool:
        return bool(other.v <= self.v)

    def __gt__(self, other: Desc) -> bool:
        return bool(other.v > self.v)

    def __ge__(self, other: Desc) -> bool:
        return bool(other.v >= self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and bool(self.v == other.v)

    def __hash__(self) -> int:
        return hash(self.v)


def partition_key(table: TableDef, values: tuple[Any, ...]) -> bytes:
    parts = []
    for col, value in zip(table.partition_key, values):
        if value is None:
            raise InvalidRequest(f"Invalid null value in condition for column {col.name}")
        parts.append(col.cqltype.to_binary(value, PROTO))
    return routing_key(parts)


def clustering_key(table: TableDef, values: tuple[Any, ...]) -> ClusteringKey:
    out = []
    for col, value in zip(table.clustering, values):
        if value is None:
            raise InvalidRequest(f"Invalid null value in condition for column {col.name}")
        out.append(col.cqltype.to_binary(value, PROTO))
    return tuple(out)


def clustering_sort(table: TableDef, values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        Desc(key(v)) if col.desc else key(v) for col, key, v in zip(table.clustering, table.clustering_sort, values)
    )


def decode_clustering(table: TableDef, ckey: ClusteringKey) -> tuple[Any, ...]:
    return tuple(col.cqltype.from_binary(b, PROTO) for col, b in zip(table.clustering, ckey))
