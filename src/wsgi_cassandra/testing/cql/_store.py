"""In-memory rows with Cassandra's write semantics: cells with write timestamps and expiry, row markers.

A partition is keyed by its serialized partition key (the driver's routing key), which also gives its
Murmur3 token; rows inside it by the serialized clustering values. Reads walk partitions in token order
and rows in clustering order. Expired cells are ignored on read and dropped lazily. Deletions remove
cells whose write timestamp is not newer than the deletion's; no tombstones are kept.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any, Callable

from cassandra.murmur3 import murmur3

if TYPE_CHECKING:
    from .schema._catalog import ColumnDef, TableDef

ClusteringKey = tuple[bytes, ...]


class Cell:
    __slots__ = ("expires", "ts", "value")

    def __init__(self, value: Any, ts: int, expires: float | None) -> None:
        self.value, self.ts, self.expires = value, ts, expires


class Row:
    __slots__ = ("cells", "clustering", "marker", "sort")

    def __init__(self, clustering: tuple[Any, ...], sort: tuple[Any, ...]) -> None:
        self.clustering = clustering
        self.sort = sort
        self.marker: Cell | None = None  # INSERT's row marker: the row exists even with all cells null
        self.cells: dict[str, Cell] = {}

    def live(self, now: float) -> bool:
        marker = self.marker
        if marker is not None and (marker.expires is None or marker.expires > now):
            return True
        return any(c.expires is None or c.expires > now for c in self.cells.values())


class Partition:
    __slots__ = ("_order", "key", "rows", "static", "token")

    def __init__(self, key: tuple[Any, ...], token: int) -> None:
        self.key, self.token = key, token
        self.rows: dict[ClusteringKey, Row] = {}
        self.static: dict[str, Cell] = {}
        self._order: list[Row] | None = None

    def ordered(self) -> list[Row]:
        if self._order is None:
            self._order = sorted(self.rows.values(), key=lambda r: r.sort)
        return self._order

    def row(self, ckey: ClusteringKey, clustering: tuple[Any, ...], sort: tuple[Any, ...]) -> Row:
        row = self.rows.get(ckey)
        if row is None:
            row = self.rows[ckey] = Row(clustering, sort)
            self._order = None
        return row

    def remove(self, ckey: ClusteringKey) -> None:
        if self.rows.pop(ckey, None) is not None:
            self._order = None


def routing_key(parts: list[bytes]) -> bytes:
    """The serialized partition key, exactly as Cassandra (and the driver's token-aware policy) builds it."""
    if len(parts) == 1:
        return parts[0]
    return b"".join(len(p).to_bytes(2, "big") + p + b"\x00" for p in parts)


class TableData:
    def __init__(self, table: TableDef) -> None:
        self.table = table
        self.partitions: dict[bytes, Partition] = {}
        self._ring: list[tuple[int, bytes]] = []  # (token, key) sorted: the scan order

    def get(self, key: bytes) -> Partition | None:
        return self.partitions.get(key)

    def partition(self, key: bytes, values: tuple[Any, ...]) -> Partition:
        part = self.partitions.get(key)
        if part is None:
            token = murmur3(key)
            part = self.partitions[key] = Partition(values, token)
            bisect.insort(self._ring, (token, key))
        return part

    def drop(self, key: bytes) -> None:
        part = self.partitions.pop(key, None)
        if part is not None:
            i = bisect.bisect_left(self._ring, (part.token, key))
            del self._ring[i]

    def scan(self, start_at: tuple[int, bytes] | None = None) -> list[tuple[bytes, Partition]]:
        """Partitions in token order, from ``(token, key)`` included."""
        start = 0 if start_at is None else bisect.bisect_left(self._ring, start_at)
        return [(key, self.partitions[key]) for _token, key in self._ring[start:]]

    def clear(self) -> None:
        self.partitions.clear()
        self._ring.clear()


def write_cell(cells: dict[str, Cell], name: str, value: Any, ts: int, expires: float | None) -> None:
    """Last write wins by timestamp, like Cassandra; a null value is a deletion."""
    old = cells.get(name)
    if old is not None and old.ts > ts:
        return
    if value is None:
        cells.pop(name, None)
    else:
        cells[name] = Cell(value, ts, expires)


def delete_cells(cells: dict[str, Cell], names: list[str], ts: int) -> None:
    for name in names:
        old = cells.get(name)
        if old is not None and old.ts <= ts:
            del cells[name]


def live_value(cell: Cell | None, now: float) -> Any:
    if cell is None or (cell.expires is not None and cell.expires <= now):
        return None
    return cell.value


Clock = Callable[[], float]


def column_value(col: ColumnDef, part: Partition, row: Row | None, now: float) -> Any:
    if col.kind == "partition_key":
        return part.key[col.position]
    if col.kind == "clustering":
        return row.clustering[col.position] if row is not None else None
    if col.kind == "static":
        return live_value(part.static.get(col.name), now)
    return live_value(row.cells.get(col.name), now) if row is not None else None


def cell_meta(kind: str, cell: Cell | None, now: float) -> int | None:
    if cell is None or (cell.expires is not None and cell.expires <= now):
        return None
    if kind == "writetime":
        return cell.ts
    return None if cell.expires is None else max(1, math.ceil(cell.expires - now))
